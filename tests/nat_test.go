package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// natKind is how each stack's private subnets reach the internet: dev through one NAT instance
// (taskmanager:network.natGateways: Instance, awsx's strategy None), staging and production
// through NAT gateways, one per AZ (docs/costs.md says why they keep them).
var natKind = map[string]string{"dev": "Instance", "staging": "OnePerAz", "production": "OnePerAz"}

const (
	typeInstance = "aws:ec2/instance:Instance"
	typeRoute    = "aws:ec2/route:Route"
	typeAlarm    = "aws:cloudwatch/metricAlarm:MetricAlarm"
	typeIngress  = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	typeEgress   = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
)

func TestOnlyDevRunsANatInstance(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			_, hasInstance := rec.Find(typeInstance, stack+"-nat")
			_, hasGroup := rec.Find("aws:ec2/securityGroup:SecurityGroup", stack+"-nat")
			_, hasComponent := rec.Find("taskmanager:network:Nat", stack)
			instance := natKind[stack] == "Instance"
			assert.Equal(t, instance, hasInstance, "NAT instance")
			assert.Equal(t, instance, hasGroup, "its security group")
			assert.Equal(t, instance, hasComponent, "its component")
			if !instance {
				// awsx's gateways route the private subnets: the program adds no route of its own.
				assert.Empty(t, rec.All(typeRoute))
			}
			// Only the NAT instance forwards (source/destination check off): the estimate prices
			// such an instance as NAT.
			var forwarders []string
			for _, vm := range rec.All(typeInstance) {
				if vm.Inputs["sourceDestCheck"] == false {
					forwarders = append(forwarders, vm.Name)
				}
			}
			if instance {
				assert.Equal(t, []string{stack + "-nat"}, forwarders)
			} else {
				assert.Empty(t, forwarders)
			}
		})
	}
}

func TestNatInstanceIsHardenedAndManagedThroughSessionManagerOnly(t *testing.T) {
	rec := runStack(t, "dev")
	nat := one(t, rec, "taskmanager:network:Nat", "dev")
	vm := one(t, rec, typeInstance, "dev-nat")
	assert.Equal(t, nat.URN, vm.Parent)
	assert.Equal(t, "t4g.nano", vm.Inputs["instanceType"], "the smallest Graviton instance")
	assert.Equal(t, "ami-0mockal2023arm64", vm.Inputs["ami"], "the latest Amazon Linux 2023, arm64")
	assert.Contains(t, vm.IgnoreChanges, "ami", "a newer image must not replace the way out")
	assert.Equal(t, "subnet-dev-public-0", vm.Inputs["subnetId"], "in a public subnet, where the internet gateway is")
	assert.Equal(t, true, vm.Inputs["associatePublicIpAddress"], "it needs an address to reach the internet")
	assert.Equal(t, false, vm.Inputs["sourceDestCheck"], "it forwards packets that are not its own")
	assert.Equal(t, []any{"dev-nat-id"}, vm.Inputs["vpcSecurityGroupIds"], "its own group")
	assert.Equal(t, map[string]any{"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1.0},
		vm.Inputs["metadataOptions"], "IMDSv2 only, one hop")
	assert.Equal(t, map[string]any{"encrypted": true, "kmsKeyId": keyArn("dev"), "volumeType": "gp3", "volumeSize": 8.0},
		vm.Inputs["rootBlockDevice"], "encrypted with the environment's key")
	assert.Nil(t, vm.Inputs["keyName"], "no key pair")
	assert.Equal(t, "dev-taskmanager-nat", vm.Inputs["tags"].(map[string]any)["Name"])
	assert.Equal(t, "default", vm.Inputs["maintenanceOptions"].(map[string]any)["autoRecovery"])

	// Session Manager only: AWS's managed policy, nothing else.
	profile := one(t, rec, "aws:iam/instanceProfile:InstanceProfile", "dev-nat")
	assert.Equal(t, "dev-nat", vm.Inputs["iamInstanceProfile"])
	role := one(t, rec, "aws:iam/role:Role", "dev-nat")
	assert.Equal(t, "dev-nat", profile.Inputs["role"])
	assert.Equal(t, []any{"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}, role.Inputs["managedPolicyArns"])
	assert.Nil(t, role.Inputs["inlinePolicies"])
	assert.Contains(t, role.Inputs["assumeRolePolicy"], `"Service":"ec2.amazonaws.com"`)
	for _, p := range rec.All("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.NotEqual(t, "dev-nat", p.Inputs["role"], "no other policy on the NAT instance's role")
	}
	for _, p := range rec.All("aws:iam/rolePolicy:RolePolicy") {
		assert.NotEqual(t, "dev-nat", p.Inputs["role"], "no other policy on the NAT instance's role")
	}
}

// The instance forwards and masquerades the private subnets' traffic only, and keeps doing so
// after a reboot or a recovery.
func TestNatInstanceForwardsThePrivateSubnetsOnly(t *testing.T) {
	vm := one(t, runStack(t, "dev"), typeInstance, "dev-nat")
	script, _ := vm.Inputs["userData"].(string)
	for _, want := range []string{
		"net.ipv4.ip_forward = 1' > /etc/sysctl.d/", // persisted
		"dnf install -y iptables-services",
		"iptables -P FORWARD DROP",
		"iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"iptables -A FORWARD -s 10.1.0.0/18 -j ACCEPT",
		"iptables -A FORWARD -s 10.1.64.0/18 -j ACCEPT",
		`iptables -t nat -A POSTROUTING -o "$iface" -s 10.1.0.0/18 -j MASQUERADE`,
		`iptables -t nat -A POSTROUTING -o "$iface" -s 10.1.64.0/18 -j MASQUERADE`,
		"iptables-save > /etc/sysconfig/iptables", // restored at boot by the iptables service
		"systemctl enable --now iptables",
	} {
		assert.Contains(t, script, want)
	}
	assert.True(t, strings.HasPrefix(script, "#!/bin/bash\n"))
	assert.Less(t, strings.Index(script, "iptables-save"), strings.Index(script, "systemctl enable --now iptables"),
		"the rules are saved before the service starts, or it loads its own default file (which rejects forwarding)")
	assert.Equal(t, true, vm.Inputs["userDataReplaceOnChange"], "user data runs once: a change replaces the instance")
}

// Its group admits the private subnets, and nothing else, on the ports their groups open
// outwards (HTTPS and dev's SMTP relay, 2525), and lets those ports out.
func TestNatInstanceGroupAdmitsThePrivateSubnetsOnly(t *testing.T) {
	rec := runStack(t, "dev")
	got := map[string][]string{}
	for _, typ := range []string{typeIngress, typeEgress} {
		for _, r := range rec.All(typ) {
			if r.Inputs["securityGroupId"] != "dev-nat-id" {
				assert.NotEqual(t, "dev-nat-id", r.Inputs["referencedSecurityGroupId"], "%s: no group refers to the NAT's", r.Name)
				continue
			}
			assert.Equal(t, "tcp", r.Inputs["ipProtocol"], r.Name)
			assert.Equal(t, r.Inputs["fromPort"], r.Inputs["toPort"], r.Name)
			assert.NotEmpty(t, r.Inputs["description"], r.Name)
			assert.Nil(t, r.Inputs["referencedSecurityGroupId"], r.Name)
			assert.Nil(t, r.Inputs["cidrIpv6"], r.Name)
			got[typ] = append(got[typ], r.Name+" "+r.Inputs["cidrIpv4"].(string))
		}
	}
	assert.ElementsMatch(t, []string{
		"dev-nat-in-443-private-1 10.1.0.0/18", "dev-nat-in-443-private-2 10.1.64.0/18",
		"dev-nat-in-2525-private-1 10.1.0.0/18", "dev-nat-in-2525-private-2 10.1.64.0/18",
	}, got[typeIngress], "no SSH, nothing from the internet or the other tiers")
	assert.ElementsMatch(t, []string{"dev-nat-out-443-any4 0.0.0.0/0", "dev-nat-out-2525-any4 0.0.0.0/0"}, got[typeEgress])

	// Every port a private subnet's group opens to the internet, the NAT forwards.
	for _, r := range rec.All(typeEgress) {
		if r.Inputs["cidrIpv4"] == "0.0.0.0/0" && r.Inputs["securityGroupId"] != "dev-nat-id" && r.Inputs["securityGroupId"] != "dev-alb-id" {
			assert.Contains(t, []any{443.0, 2525.0}, r.Inputs["fromPort"], "%s leaves through the NAT, which does not forward its port", r.Name)
		}
	}
}

// Each private route table's default route goes to the instance's interface, once awsx's route
// tables exist; each route is the one awsx's gateway route was, so that moving a stack from
// gateways to the instance updates the route instead of adding a second default route.
func TestPrivateRouteTablesPointAtTheNatInstance(t *testing.T) {
	rec := runStack(t, "dev")
	vpc := one(t, rec, "awsx:ec2:Vpc", "dev")
	instance := one(t, rec, typeInstance, "dev-nat")
	assert.Equal(t, map[string]any{"strategy": "None"}, vpc.Inputs["natGateways"], "awsx creates no gateway")
	require.Len(t, rec.All(typeRoute), 2, "one per private subnet (AZ)")
	for i := range 2 {
		n := fmt.Sprint(i + 1) // registered concurrently: found by name, not by order
		r := one(t, rec, typeRoute, "dev-nat-private-"+n)
		assert.Equal(t, fmt.Sprintf("rtb-dev-private-%d", i), r.Inputs["routeTableId"], "the table of private subnet %d", i)
		assert.Equal(t, "0.0.0.0/0", r.Inputs["destinationCidrBlock"])
		assert.Equal(t, "eni-dev-nat", r.Inputs["networkInterfaceId"])
		assert.Contains(t, r.DependsOn, vpc.URN, "after awsx's route tables")
		assert.Contains(t, r.DependsOn, instance.URN)
		assert.Equal(t, []string{"urn:pulumi:dev::taskmanager::taskmanager:network:Network$awsx:ec2:Vpc$aws:ec2/vpc:Vpc" +
			"$aws:ec2/subnet:Subnet$aws:ec2/routeTable:RouteTable$aws:ec2/route:Route::dev-private-" + n}, r.Aliases)
	}
}

// What runs in the private subnets takes them only once the routes out exist: the rotation
// function calls Secrets Manager while the stack deploys, the tasks pull their images.
func TestPrivateSubnetsAreHandedOutOnceTheRoutesExist(t *testing.T) {
	rec := runStack(t, "dev")
	var routes []string
	for _, r := range rec.All(typeRoute) {
		routes = append(routes, r.URN)
	}
	require.NotEmpty(t, routes)
	users := 0
	for _, r := range rec.Resources() {
		if !r.Custom || !strings.Contains(strings.Join(stringsIn(r.Inputs), " "), "subnet-dev-private-") {
			continue
		}
		users++
		for _, route := range routes {
			assert.Contains(t, r.DependsOn, route, "%s %s is placed in a private subnet before its way out exists", r.Type, r.Name)
		}
	}
	assert.GreaterOrEqual(t, users, 4, "the rotation functions, the services, the bastion, the load balancer")
	assert.Equal(t, []string{"subnet-dev-private-0", "subnet-dev-private-1"}, rec.Outputs()["privateSubnetIds"].Value)
}

// EC2 recovers the instance (same id, addresses and volume, new hardware) when its host fails,
// and reboots it when its own system does: actions of EC2, not notifications.
func TestNatInstanceRecoversByItself(t *testing.T) {
	rec := runStack(t, "dev")
	for action, metric := range map[string]string{"recover": "StatusCheckFailed_System", "reboot": "StatusCheckFailed_Instance"} {
		a := one(t, rec, typeAlarm, "dev-nat-"+action)
		assert.Equal(t, "AWS/EC2", a.Inputs["namespace"])
		assert.Equal(t, metric, a.Inputs["metricName"])
		assert.Equal(t, map[string]any{"InstanceId": "dev-nat-id"}, a.Inputs["dimensions"])
		assert.Equal(t, "Maximum", a.Inputs["statistic"])
		assert.Equal(t, 60.0, a.Inputs["period"])
		assert.Equal(t, 2.0, a.Inputs["evaluationPeriods"])
		assert.Equal(t, 1.0, a.Inputs["threshold"])
		assert.Equal(t, "GreaterThanOrEqualToThreshold", a.Inputs["comparisonOperator"])
		assert.Equal(t, []any{"arn:aws:automate:us-east-1:ec2:" + action}, a.Inputs["alarmActions"])
		assert.Nil(t, a.Inputs["name"], "AWS names it: nothing refers to it by name")
	}
}

// Every EC2 instance of every stack: IMDSv2 only, an encrypted root volume under the
// environment's key, no key pair (FSBP EC2.8, EC2.3/EC2.7; CKV_AWS_79, CKV_AWS_8), and a public
// address only where it must have one: the NAT instance (FSBP EC2.9, waived for it by name).
func TestEveryInstanceIsHardened(t *testing.T) {
	publicByDesign := map[string]string{"dev-nat": "a NAT instance reaches the internet through the internet gateway; its group admits the private subnets only"}
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			for _, vm := range runStack(t, stack).All(typeInstance) {
				meta, _ := vm.Inputs["metadataOptions"].(map[string]any)
				root, _ := vm.Inputs["rootBlockDevice"].(map[string]any)
				assert.Equal(t, "required", meta["httpTokens"], "%s: IMDSv2 only", vm.Name)
				assert.Equal(t, true, root["encrypted"], vm.Name)
				assert.Equal(t, keyArn(stack), root["kmsKeyId"], vm.Name)
				assert.Nil(t, vm.Inputs["keyName"], "%s: no key pair", vm.Name)
				_, waived := publicByDesign[vm.Name]
				assert.Equal(t, waived, vm.Inputs["associatePublicIpAddress"] == true, "%s: public address", vm.Name)
			}
		})
	}
}
