package plan

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/internal/spec"
)

// MatrixDoc is where `matrix --write` puts the matrix, relative to the project directory.
const MatrixDoc = "docs/environments.md"

// MatrixRow is one feature across the environments.
type MatrixRow struct {
	Feature string
	Values  []string // one per stack, in the stacks' order
	// Spec are the spec matrix's values (internal/spec) for the same stacks, "" where the spec
	// has no row of the same feature; a value that differs is flagged. The spec's Uptime SLA,
	// Data and Deployment (the pipeline's trigger) are in no stack file, so no row derives them.
	Spec []string
}

// MonitoringRule says how the Monitoring row is derived; the docs print it.
const MonitoringRule = "Basic: logs and AWS's free default metrics only (no Container Insights). " +
	"Full: Basic plus the database's Enhanced Monitoring or Performance Insights, or a CloudWatch dashboard. " +
	"Full + Alerting: Full plus somewhere for alarms to go: a metric alarm with alarm actions, or an SNS topic. " +
	"(The blue/green deployment alarms roll CodeDeploy back but notify no one, so they do not count as alerting.)"

// Matrix derives the comparison matrix from evaluated stacks.
func Matrix(all []*Stack) ([]MatrixRow, error) {
	sp, err := spec.Load()
	if err != nil {
		return nil, err
	}
	type column struct {
		s    *Stack
		svcs map[string]service
		env  map[string]string
		est  *Estimate
	}
	var cols []column
	for _, s := range all {
		c := column{s: s, svcs: map[string]service{}}
		svcs, err := services(s.Resources)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", s.Name, err)
		}
		for _, sv := range svcs {
			c.svcs[sv.Name] = sv
		}
		api, ok := c.svcs["api"]
		if !ok {
			return nil, fmt.Errorf("stack %s: no ECS service named api", s.Name)
		}
		if c.env, err = containerEnv(api.Task); err != nil {
			return nil, err
		}
		if c.est, err = EstimateCost(s); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}

	var rows []MatrixRow
	row := func(feature string, value func(c column) string) {
		r := MatrixRow{Feature: feature}
		for _, c := range cols {
			r.Values = append(r.Values, value(c))
			r.Spec = append(r.Spec, sp.Matrix[feature][c.s.Config.Environment])
		}
		rows = append(rows, r)
	}
	enabled := func(on bool) string {
		if on {
			return "Enabled"
		}
		return "Disabled"
	}

	row("Stack", func(c column) string { return c.s.Name })
	row("Database", func(c column) string {
		p, replica := databases(c.s.Resources)
		az := "Single AZ"
		if p != nil && boolean(p, "multiAz") {
			az = "Multi-AZ"
		}
		if replica != nil {
			return az + ", with replica"
		}
		return az + ", no replica"
	})
	row("Database class", func(c column) string {
		p, replica := databases(c.s.Resources)
		out := str(p, "instanceClass")
		if replica != nil {
			out += "; replica " + str(replica, "instanceClass")
		}
		return out
	})
	row("Database storage", func(c column) string {
		p, _ := databases(c.s.Resources)
		gb, _ := number(p, "allocatedStorage")
		ceiling, _ := number(p, "maxAllocatedStorage")
		return fmt.Sprintf("%.0f GB %s, up to %.0f GB", gb, str(p, "storageType"), ceiling)
	})
	row("Cache", func(c column) string {
		var parts []string
		for _, r := range ofType(c.s.Resources, typeCacheGroup) {
			parts = append(parts, cacheDescription(r))
		}
		return strings.Join(parts, "; ")
	})
	for _, name := range []string{"api", "worker"} {
		row("ECS "+name+" tasks", func(c column) string {
			sv, ok := c.svcs[name]
			if !ok {
				return "none"
			}
			return fmt.Sprintf("%s vCPU, %s GB %s", trimFloat(sv.VCPU), trimFloat(sv.MemoryGB), sv.counts())
		})
	}
	row("Capacity", func(c column) string {
		seen := map[string]bool{}
		var caps []string
		for _, name := range []string{"api", "worker"} {
			if cp := c.svcs[name].Capacity; cp != "" && !seen[cp] {
				seen[cp] = true
				caps = append(caps, cp)
			}
		}
		return strings.Join(caps, ", ")
	})
	row("Auto Scaling", func(c column) string { return enabled(len(ofType(c.s.Resources, typeScalingTarget)) > 0) })
	row("Debug Mode", func(c column) string { return enabled(c.env["DEBUG"] == "true") })
	row("Log Level", func(c column) string { return c.env["LOG_LEVEL"] })
	row("JWT Expiration", func(c column) string { return minutes(c.env["JWT_ACCESS_TOKEN_EXPIRE_MINUTES"]) })
	row("Email Verification", func(c column) string {
		if c.env["ENABLE_EMAIL_VERIFICATION"] == "true" {
			return "Required"
		}
		return "Skipped"
	})
	row("Rate Limiting", func(c column) string { return enabled(c.env["ENABLE_RATE_LIMITING"] == "true") })
	row("Monitoring", func(c column) string { return monitoring(c.s.Resources) })
	row("Backups", func(c column) string {
		p, _ := databases(c.s.Resources)
		days, _ := number(p, "backupRetentionPeriod")
		return fmt.Sprintf("%.0f days", days)
	})
	row("Log retention", func(c column) string {
		for _, r := range ofType(c.s.Resources, typeLogGroup) {
			if strings.HasSuffix(r.Name, "-api") {
				days, _ := number(r, "retentionInDays")
				return fmt.Sprintf("%.0f days", days)
			}
		}
		return "unknown"
	})
	row("Deployment (API)", func(c column) string {
		if c.svcs["api"].BlueGreen {
			if groups := ofType(c.s.Resources, typeDeployGroup); len(groups) > 0 {
				return "blue/green (" + strings.TrimPrefix(str(groups[0], "deploymentConfigName"), "CodeDeployDefault.") + ")"
			}
			return "blue/green"
		}
		return "rolling (circuit breaker, rollback)"
	})
	row("NAT", func(c column) string {
		var parts []string
		for _, r := range ofType(c.s.Resources, typeVpc) {
			parts = append(parts, natDescription(r))
		}
		for _, r := range ofType(c.s.Resources, typeEC2Instance) {
			if isNatInstance(r) {
				parts = append(parts, "NAT instance ("+str(r, "instanceType")+")")
			}
		}
		return strings.Join(parts, "; ")
	})
	row("Load balancer", func(c column) string {
		var parts []string
		for _, r := range ofType(c.s.Resources, typeLoadBalancer) {
			scheme := "internet-facing"
			if boolean(r, "internal") {
				scheme = "internal"
			}
			parts = append(parts, scheme+", "+listenerProtocols(c.s.Resources))
		}
		return strings.Join(parts, "; ")
	})
	row("WAF", func(c column) string {
		var parts []string
		for _, r := range ofType(c.s.Resources, typeWebACL) {
			parts = append(parts, fmt.Sprintf("%d rules", wafRules(r)))
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, "; ")
	})
	row("Protected resources", func(c column) string {
		n := 0
		for _, r := range c.s.Resources {
			if r.Protect {
				n++
			}
		}
		return fmt.Sprint(n)
	})
	row("Cost/Month (estimate)", func(c column) string {
		if c.est.TotalMax != c.est.Total {
			return money(c.est.Total) + " (" + money(c.est.TotalMax) + " at max counts)"
		}
		return money(c.est.Total)
	})
	row("Cost/Month (spec)", func(c column) string { return sp.Matrix["Cost/Month"][c.s.Config.Environment] })
	return rows, nil
}

// databases returns the primary database instance and its replica (nil when there is none).
func databases(res []*mockengine.Resource) (primary, replica *mockengine.Resource) {
	for _, r := range ofType(res, typeDBInstance) {
		if str(r, "replicateSourceDb") != "" {
			replica = r
		} else {
			primary = r
		}
	}
	return primary, replica
}

// monitoring applies MonitoringRule.
func monitoring(res []*mockengine.Resource) string {
	full := len(ofType(res, typeDashboard)) > 0
	for _, r := range ofType(res, typeDBInstance) {
		if interval, _ := number(r, "monitoringInterval"); interval > 0 || boolean(r, "performanceInsightsEnabled") {
			full = true
		}
	}
	alerting := len(ofType(res, typeSNSTopic)) > 0
	for _, r := range ofType(res, typeAlarm) {
		if count(r, "alarmActions") > 0 {
			alerting = true
		}
	}
	switch {
	case full && alerting:
		return "Full + Alerting"
	case full:
		return "Full"
	}
	return "Basic"
}

// listenerProtocols lists the load balancer listeners' protocols: HTTP, HTTPS.
func listenerProtocols(res []*mockengine.Resource) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range ofType(res, "aws:lb/listener:Listener") {
		p := str(r, "protocol")
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return "no listener"
	}
	return strings.Join(out, " + ")
}

// minutes turns a minute count into the spec's words: 1440 → 24 hours, 15 → 15 minutes.
func minutes(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return s
	}
	switch {
	case n%60 == 0 && n >= 120:
		return fmt.Sprintf("%d hours", n/60)
	case n == 60:
		return "1 hour"
	case n == 1:
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// WriteMatrix writes the matrix table and how its rows are derived.
func WriteMatrix(w io.Writer, all []*Stack, f Format) error {
	rows, err := Matrix(all)
	if err != nil {
		return err
	}
	header := []string{"Feature"}
	for _, s := range all {
		header = append(header, titleCase(s.Config.Environment))
	}
	t := &table{header: header}
	mismatches := 0
	for _, r := range rows {
		cells := []string{r.Feature}
		if f == Markdown {
			cells[0] = "**" + r.Feature + "**"
		}
		for i, v := range r.Values {
			if spec := r.Spec[i]; spec != "" && spec != v {
				v += " ⚠ spec: " + spec
				mismatches++
			}
			cells = append(cells, v)
		}
		t.add(cells...)
	}
	if err := t.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if mismatches == 0 {
		para(w, "Every row the spec's matrix has agrees with the stacks.")
	} else {
		para(w, fmt.Sprintf("⚠ marks %d value(s) where the stacks differ from the spec's matrix.", mismatches))
	}
	para(w, "How the rows are derived: every value comes from the resources the program registers for the stack file "+
		"(the API task definition's environment for the app's settings), none from a second copy of the config. "+
		"Monitoring: "+MonitoringRule+" Cost/Month (estimate): "+code(f, "go run ./cmd/plan cost <stack>")+
		" (docs/costs.md). The spec's Uptime SLA and Data rows are not in any stack file, and its Deployment row is the "+
		"pipeline's trigger (auto on PR merge, on main, manual approval); the Deployment (API) row here is the ECS strategy.")
	return nil
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// MatrixDocument is the content of docs/environments.md.
func MatrixDocument(all []*Stack) (string, error) {
	var b strings.Builder
	b.WriteString("# Environments\n\n")
	b.WriteString("<!-- Generated by `go run ./cmd/plan matrix --write` from the stack files; do not edit by hand. " +
		"A test fails when this file is stale. -->\n\n")
	b.WriteString("The spec's \"Environment Comparison Matrix\", generated from `Pulumi.<stack>.yaml` by running the " +
		"program offline on the mock engine, with more rows for the sizes that drive cost.\n\n")
	if err := WriteMatrix(&b, all, Markdown); err != nil {
		return "", err
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}
