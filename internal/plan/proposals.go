package plan

import (
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Proposal is a cheaper setting that keeps the security rules, priced by re-estimating the
// stack's own resources with the change applied: the saving is the price table's, not a guess.
type Proposal struct {
	Name    string
	Setting string // how it would be set
	// Exists says whether the stack file can set it today; a proposal that does not exist yet
	// needs code first.
	Exists bool
	Saving float64 // a month, at the desired counts
	Caveat string
}

// workingHours is 8 hours on 22 working days: a bastion that runs only while people work.
const workingHours = 8 * 22

// natInstanceType is the NAT instance's size, as infra/network gives it (NatInstanceSize): the
// smallest Graviton instance, which fck-nat and AWS's own guidance use for low-traffic NAT.
const natInstanceType = "t4g.nano"

// Proposals prices the switches that would make a stack cheaper without weakening a security
// rule. Production keeps what its SLA needs: only proposals without an availability cost apply.
func Proposals(s *Stack) ([]Proposal, float64, error) {
	u, err := usageFor(s.Name)
	if err != nil {
		return nil, 0, err
	}
	base, err := estimate(s.Resources, u)
	if err != nil {
		return nil, 0, err
	}
	production := s.Config.IsProduction()
	var out []Proposal
	current := s.Resources
	apply := func(p Proposal, change func([]*mockengine.Resource) []*mockengine.Resource) error {
		before, err := estimate(current, u)
		if err != nil {
			return err
		}
		next := change(current)
		after, err := estimate(next, u)
		if err != nil {
			return err
		}
		if p.Saving = before.Total - after.Total; p.Saving < 0.005 {
			return nil // nothing to save here
		}
		current = next
		out = append(out, p)
		return nil
	}

	if !production {
		if err := apply(Proposal{
			Name:    "NAT instance instead of NAT gateways",
			Setting: "taskmanager:network.natGateways: Instance (awsx's strategy None and one " + natInstanceType + " NAT instance in a public subnet: source/destination check off, its own security group open to the private subnets only, Session Manager and no SSH, recovered by EC2)",
			Exists:  true,
			Caveat:  "one instance is a single point of failure for egress (EC2 recovers it in minutes, not at once) and caps bandwidth: dev's setting (no SLA); staging keeps its gateways (docs/costs.md), production needs them",
		}, natInstances); err != nil {
			return nil, 0, err
		}
		if err := apply(Proposal{
			Name:    "Fargate Spot",
			Setting: "taskmanager:compute.capacityProvider: FARGATE_SPOT",
			Exists:  true,
			Caveat:  "tasks can be stopped with two minutes' notice: fine for dev, to weigh for staging, not for production's SLA",
		}, fargateSpot); err != nil {
			return nil, 0, err
		}
	}
	if err := apply(Proposal{
		Name:    "Graviton burstable classes",
		Setting: "taskmanager:database.instanceClass, database.replica.instanceClass and cache.nodeType: db.t4g.* and cache.t4g.* of the same size",
		Exists:  true,
		Caveat:  "the same vCPU and memory on arm64; the engines are the same; a class change restarts the instance",
	}, graviton); err != nil {
		return nil, 0, err
	}
	if !production {
		// A stopped instance bills its volume only: the saving is the hours outside working time.
		var saving float64
		var names []string
		for _, r := range ofType(current, typeEC2Instance) {
			if v, set := input(r, "sourceDestCheck").(bool); set && !v {
				continue // a NAT instance runs all the time
			}
			if price, ok := ec2Hourly[str(r, "instanceType")]; ok {
				saving += price * (HoursPerMonth - workingHours)
				names = append(names, r.Name)
			}
		}
		if saving >= 0.005 {
			out = append(out, Proposal{
				Name:    "Bastion only in working hours",
				Setting: fmt.Sprintf("stop %s outside %d hours a month (8 h × 22 days), e.g. an EventBridge Scheduler rule (not implemented)", strings.Join(names, ", "), workingHours),
				Saving:  saving,
				Caveat:  "port forwarding waits for the instance to start outside those hours",
			})
		}
	}
	total := base.Total
	for _, p := range out {
		total -= p.Saving
	}
	return out, total, nil
}

// replaced returns the resources with some of them replaced by changed copies; the shared
// evaluation is never modified.
func replaced(res []*mockengine.Resource, change func(r *mockengine.Resource) *mockengine.Resource) []*mockengine.Resource {
	out := make([]*mockengine.Resource, 0, len(res))
	for _, r := range res {
		if c := change(r); c != nil {
			out = append(out, c)
			continue
		}
		out = append(out, r)
	}
	return out
}

// withInputs copies a resource with some inputs set.
func withInputs(r *mockengine.Resource, set map[string]any) *mockengine.Resource {
	c := *r
	c.Inputs = maps.Clone(r.Inputs)
	maps.Copy(c.Inputs, set)
	return &c
}

func natInstances(res []*mockengine.Resource) []*mockengine.Resource {
	var added []*mockengine.Resource
	out := replaced(res, func(r *mockengine.Resource) *mockengine.Resource {
		if r.Type != typeVpc {
			return nil
		}
		n, _, _ := natGateways(r)
		if n > 0 {
			// The setting replaces every gateway with one instance, its 8 GB volume and its two
			// EC2 recovery alarms (infra/network.NewNat).
			added = append(added,
				&mockengine.Resource{Type: typeEC2Instance, Name: r.Name + "-nat", Custom: true,
					Inputs: map[string]any{"instanceType": natInstanceType, "sourceDestCheck": false, "associatePublicIpAddress": true,
						"rootBlockDevice": map[string]any{"volumeSize": 8.0}}},
				&mockengine.Resource{Type: typeAlarm, Name: r.Name + "-nat-recover", Custom: true, Inputs: map[string]any{}},
				&mockengine.Resource{Type: typeAlarm, Name: r.Name + "-nat-reboot", Custom: true, Inputs: map[string]any{}})
		}
		return withInputs(r, map[string]any{"natGateways": map[string]any{"strategy": "None"}})
	})
	return append(out, added...)
}

func fargateSpot(res []*mockengine.Resource) []*mockengine.Resource {
	return replaced(res, func(r *mockengine.Resource) *mockengine.Resource {
		if r.Type != typeService {
			return nil
		}
		return withInputs(r, map[string]any{"capacityProviderStrategies": []any{map[string]any{"capacityProvider": "FARGATE_SPOT", "weight": 1.0}}})
	})
}

func graviton(res []*mockengine.Resource) []*mockengine.Resource {
	swap := func(class, prefix string, prices map[string]float64) (string, bool) {
		rest, ok := strings.CutPrefix(class, prefix+".t3.")
		if !ok {
			return "", false
		}
		next := prefix + ".t4g." + rest
		_, priced := prices[next]
		return next, priced
	}
	return replaced(res, func(r *mockengine.Resource) *mockengine.Resource {
		switch r.Type {
		case typeDBInstance:
			if next, ok := swap(str(r, "instanceClass"), "db", rdsPostgresHourly); ok {
				return withInputs(r, map[string]any{"instanceClass": next})
			}
		case typeCacheGroup:
			if next, ok := swap(str(r, "nodeType"), "cache", elastiCacheHourly); ok {
				return withInputs(r, map[string]any{"nodeType": next})
			}
		}
		return nil
	})
}

// writeProposals writes the proposals of a stack after its estimate.
func writeProposals(w io.Writer, s *Stack, e *Estimate, c *Comparison, f Format) error {
	props, total, err := Proposals(s)
	if err != nil {
		return err
	}
	heading(w, f, 4, "Cheaper settings that keep the security rules")
	if len(props) == 0 {
		if s.Config.IsProduction() {
			para(w, "None: a NAT instance, Fargate Spot and a part-time bastion would cost availability that production's SLA needs, and no class is a t3 with a cheaper Graviton twin.")
		} else {
			para(w, "None: the stack already uses every switch priced here (NAT instance, Fargate Spot, Graviton classes, a part-time bastion).")
		}
		return nil
	}
	t := &table{header: []string{"Proposal", "Setting", "Settable in the stack file", "Saving a month", "Caveat"}, right: map[int]bool{3: true}}
	for _, p := range props {
		exists := "no: needs code"
		if p.Exists {
			exists = "yes"
		}
		t.add(p.Name, p.Setting, exists, money(p.Saving), p.Caveat)
	}
	if err := t.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	verdict := "within"
	if total > c.SpecLow {
		verdict = "still above"
	}
	para(w, fmt.Sprintf("With all of them: %s a month instead of %s, %s the spec's ~%s. Each saving is priced on top of the ones above it.",
		money(total), money(e.Total), verdict, wholeMoney(c.SpecLow)))
	return nil
}
