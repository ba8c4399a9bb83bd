package network

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
)

func TestNatSettingsAndWhatAwsxIsGiven(t *testing.T) {
	base := Config{VpcCidr: "10.1.0.0/16", AvailabilityZones: []string{"us-east-1a", "us-east-1b"}, FlowLogTrafficType: "REJECT"}
	for setting, awsx := range map[string]string{NatSingle: "Single", NatOnePerAz: "OnePerAz", NatInstance: "None"} {
		c := base
		c.NatGateways = setting
		assert.NoError(t, c.Validate(), setting)
		assert.Equal(t, awsx, c.awsxNatStrategy(), setting)
	}
	c := base
	c.NatGateways = "None" // awsx's word: the setting is Instance, which adds the way out
	assert.EqualError(t, c.Validate(), `natGateways: "None" is not a NAT strategy; want one of Single, OnePerAz, Instance`)
}

// The script forwards and masquerades each private subnet and nothing else, and saves the rules
// before the iptables service first starts (it would otherwise load its default file, which
// rejects forwarding).
func TestNatUserData(t *testing.T) {
	script := natUserData("dev", []string{"10.1.0.0/18", "10.1.64.0/18"})
	assert.Equal(t, 2, strings.Count(script, "-j MASQUERADE"))
	assert.Equal(t, 1, strings.Count(script, "-s 10.1.64.0/18 -j MASQUERADE"))
	assert.Contains(t, script, "iptables -P FORWARD DROP")
	assert.Less(t, strings.Index(script, "iptables-save > /etc/sysconfig/iptables"), strings.Index(script, "systemctl enable --now iptables"))
	assert.Less(t, strings.Index(script, "dnf install -y iptables-services"), strings.Index(script, "iptables -F"))
}

func TestAwsxChildURN(t *testing.T) {
	network := pulumi.URN("urn:pulumi:dev::taskmanager::taskmanager:network:Network::dev")
	got := make(chan pulumi.URN, 1)
	awsxChildURN(pulumi.ToOutput(network).(pulumi.URNOutput), "dev-private-1", "awsx:ec2:Vpc", "aws:ec2/route:Route").
		ApplyT(func(u pulumi.URN) pulumi.URN { got <- u; return u })
	assert.Equal(t, pulumi.URN("urn:pulumi:dev::taskmanager::taskmanager:network:Network$awsx:ec2:Vpc$aws:ec2/route:Route::dev-private-1"), <-got)
}
