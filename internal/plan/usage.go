package plan

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// UsageFile is where the usage assumptions live, relative to the project directory.
const UsageFile = "internal/plan/usage.yaml"

//go:embed usage.yaml
var usageYAML []byte

// UsageAssumptions is one stack's usage assumptions: what traffic and data cost, which the program does not
// say. Each field is a month's worth; usage.yaml says what each covers.
type UsageAssumptions struct {
	ALBLCUs                float64 `json:"albLCUs"`
	WAFRequestsMillions    float64 `json:"wafRequestsMillions"`
	ImagePullsGB           float64 `json:"imagePullsGB"`
	AppLogsGB              float64 `json:"appLogsGB"`
	OtherNATGB             float64 `json:"otherNatGB"`
	FlowLogsGB             float64 `json:"flowLogsGB"`
	ContainerInsightsGB    float64 `json:"containerInsightsGB"`
	DatabaseGB             float64 `json:"databaseGB"`
	DatabaseChangeGBPerDay float64 `json:"databaseChangeGBPerDay"`
	CacheDataGB            float64 `json:"cacheDataGB"`
}

// NATGB is what crosses the NAT a month.
func (u UsageAssumptions) NATGB() float64 { return u.ImagePullsGB + u.AppLogsGB + u.OtherNATGB }

// usageFor returns a stack's usage assumptions, nil when usage.yaml has none for it. A malformed
// file is an error naming the key, the value and what is allowed, as a stack file's would be.
func usageFor(stack string) (*UsageAssumptions, error) {
	all, err := parseUsage(usageYAML)
	if err != nil {
		return nil, err
	}
	return all[stack], nil
}

func parseUsage(data []byte) (map[string]*UsageAssumptions, error) {
	var tree map[string]any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("%s: %w", UsageFile, err)
	}
	var ps configcheck.Problems
	out := map[string]*UsageAssumptions{}
	for _, stack := range slices.Sorted(maps.Keys(tree)) {
		raw, err := json.Marshal(tree[stack])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", UsageFile, stack, err)
		}
		u := &UsageAssumptions{}
		if err := configcheck.Decode(string(raw), u); err != nil {
			ps.Merge(stack, err)
			continue
		}
		for _, f := range []struct {
			key string
			v   float64
		}{{"albLCUs", u.ALBLCUs}, {"wafRequestsMillions", u.WAFRequestsMillions}, {"imagePullsGB", u.ImagePullsGB}, {"appLogsGB", u.AppLogsGB}, {"otherNatGB", u.OtherNATGB}, {"flowLogsGB", u.FlowLogsGB},
			{"containerInsightsGB", u.ContainerInsightsGB}, {"databaseGB", u.DatabaseGB},
			{"databaseChangeGBPerDay", u.DatabaseChangeGBPerDay}, {"cacheDataGB", u.CacheDataGB}} {
			if f.v < 0 {
				ps.Addf(stack+"."+f.key, "%v is negative; want 0 or more", f.v)
			}
		}
		out[stack] = u
	}
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("%s is invalid:\n%w", UsageFile, err)
	}
	return out, nil
}
