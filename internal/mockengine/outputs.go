package mockengine

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// fakeOutputs are the outputs the cloud would add to a resource's inputs: enough for the program
// to wire resources together under mocks (ARNs, names, endpoints, subnet ids).
func fakeOutputs(typ, name string, inputs resource.PropertyMap) map[string]any {
	out := map[string]any{}
	if typ == "awsx:ec2:Vpc" {
		return vpcOutputs(name, inputs)
	}
	// aws:<module>/<resource>:<Type>
	module := strings.SplitN(strings.TrimPrefix(typ, "aws:"), "/", 2)[0]
	out["arn"] = fmt.Sprintf("arn:aws:%s:%s:%s:%s", module, Region, Account, name)
	out["name"] = name
	switch typ {
	case "aws:rds/instance:Instance":
		out["address"] = name + ".abc123." + Region + ".rds.amazonaws.com"
		out["endpoint"] = out["address"].(string) + ":5432"
		out["port"] = 5432
		out["resourceId"] = "db-" + strings.ToUpper(name)
		out["masterUserSecrets"] = []any{map[string]any{
			"secretArn": fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:rds!db-%s-AbCdEf", Region, Account, name),
		}}
	case "random:index/randomPassword:RandomPassword":
		out["result"] = "mock-password-" + name
	case "random:index/randomString:RandomString":
		out["result"] = "k3x9m2q7"
	case "random:index/randomId:RandomId":
		out["hex"] = "a1b2c3d4"
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		out["primaryEndpointAddress"] = "master." + name + ".abc123.use1.cache.amazonaws.com"
		out["readerEndpointAddress"] = "replica." + name + ".abc123.use1.cache.amazonaws.com"
	case "aws:lb/loadBalancer:LoadBalancer":
		out["dnsName"] = name + "-123456.us-east-1.elb.amazonaws.com"
		out["zoneId"] = "Z35SXDOTRQ7X7K"
		out["arnSuffix"] = "app/" + name + "/abc123"
	case "aws:rds/proxy:Proxy":
		out["endpoint"] = inputs["name"].StringValue() + ".proxy-abc123." + Region + ".rds.amazonaws.com"
	case "aws:lb/targetGroup:TargetGroup":
		out["arnSuffix"] = "targetgroup/" + name + "/abc123"
	case "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
		out["arn"] = fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", Region, Account, inputs["name"].StringValue())
	case "aws:s3/bucketV2:BucketV2":
		out["bucket"] = name
		out["arn"] = "arn:aws:s3:::" + name
	case "aws:ecr/repository:Repository":
		out["repositoryUrl"] = fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, Region, inputs["name"].StringValue())
	case "aws:acm/certificate:Certificate":
		var opts []any
		names := []resource.PropertyValue{inputs["domainName"]}
		if sans, ok := inputs["subjectAlternativeNames"]; ok && sans.IsArray() {
			names = append(names, sans.ArrayValue()...)
		}
		for _, n := range names {
			opts = append(opts, map[string]any{
				"domainName": n.StringValue(), "resourceRecordName": "_x1." + n.StringValue() + ".",
				"resourceRecordType": "CNAME", "resourceRecordValue": "_x2.acm-validations.aws.",
			})
		}
		out["domainValidationOptions"] = opts
	case "aws:ec2/instance:Instance":
		out["primaryNetworkInterfaceId"] = "eni-" + name
		if v, ok := inputs["associatePublicIpAddress"]; ok && v.IsBool() && v.BoolValue() {
			out["publicIp"] = "203.0.113.10" // TEST-NET-3: documentation addresses
		}
	case "aws:route53/record:Record":
		out["fqdn"] = name + ".fqdn"
	case "aws:route53/zone:Zone":
		out["zoneId"] = "Z-" + name
	case "aws:kms/key:Key":
		out["keyId"] = name + "-key-id"
	case "aws:secretsmanager/secret:Secret":
		out["arn"] = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", Region, Account, name)
	}
	return out
}

// vpcOutputs answers the awsx VPC, a remote component whose children the mocks never see: ids
// for the VPC and one subnet per AZ in each tier.
func vpcOutputs(name string, inputs resource.PropertyMap) map[string]any {
	azs := 0
	if v, ok := inputs["availabilityZoneNames"]; ok && v.IsArray() {
		azs = len(v.ArrayValue())
	}
	ids := func(tier string) []any {
		out := []any{}
		for i := range azs {
			out = append(out, fmt.Sprintf("subnet-%s-%s-%d", name, tier, i))
		}
		return out
	}
	return map[string]any{
		"vpcId":             "vpc-" + name,
		"publicSubnetIds":   ids("public"),
		"privateSubnetIds":  ids("private"),
		"isolatedSubnetIds": ids("isolated"),
	}
}
