// Package awslimits holds the values AWS accepts where a stack-file value could break a real
// `pulumi up`: mocks never call AWS, so these rules are checked before anything is registered.
package awslimits

import (
	"fmt"
	"regexp"
	"slices"
)

// LogRetentionDays are the values CloudWatch Logs accepts for a log group's retentionInDays.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// ValidLogRetention reports whether CloudWatch Logs accepts days as a retention.
func ValidLogRetention(days int) bool { return slices.Contains(LogRetentionDays, days) }

// FargateCPUs are the task CPU units Fargate offers.
var FargateCPUs = []int{256, 512, 1024, 2048, 4096, 8192, 16384}

// FargateMemories returns the task memory sizes (MiB) Fargate accepts with cpu units, or nil when
// cpu is not a Fargate size. 8 and 16 vCPU step by 4 and 8 GiB, not 1 GiB.
func FargateMemories(cpu int) []int {
	steps := func(from, to, step int) []int {
		var out []int
		for m := from; m <= to; m += step {
			out = append(out, m)
		}
		return out
	}
	switch cpu {
	case 256:
		return []int{512, 1024, 2048}
	case 512:
		return steps(1024, 4096, 1024)
	case 1024:
		return steps(2048, 8192, 1024)
	case 2048:
		return steps(4096, 16384, 1024)
	case 4096:
		return steps(8192, 30720, 1024)
	case 8192:
		return steps(16384, 61440, 4096)
	case 16384:
		return steps(32768, 122880, 8192)
	}
	return nil
}

// DescribeMemories renders FargateMemories(cpu) briefly for an error message.
func DescribeMemories(cpu int) string {
	m := FargateMemories(cpu)
	if len(m) <= 3 {
		return fmt.Sprint(m)
	}
	return fmt.Sprintf("%d to %d in steps of %d", m[0], m[len(m)-1], m[1]-m[0])
}

var (
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
)

// ValidRegion reports whether region is shaped like an AWS region name (us-east-1).
func ValidRegion(region string) bool { return regionPattern.MatchString(region) }

// AZInRegion reports whether az is an availability zone of region (us-east-1a of us-east-1).
func AZInRegion(az, region string) bool {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(region) + `[a-z]$`).MatchString(az)
}

// VPC prefix lengths AWS allows for a VPC's primary IPv4 block.
const (
	MinVPCPrefix = 16
	MaxVPCPrefix = 28
	// MaxSubnetPrefix is the smallest subnet AWS allows.
	MaxSubnetPrefix = 28
)
