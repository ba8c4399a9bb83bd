package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Where the stack's repository exists, a preview with a tag that is not in it fails before
// anything is registered (the stack files' placeholder, bootstrap, is never pushed); a new
// environment, whose repository the first up creates, goes ahead.
func TestPreviewRefusesAnImageTagNotInTheRepository(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			src := mockengine.WithExternalSecrets(loadStack(t, stack))
			repo := "taskmanager-" + stack

			rec := mockengine.NewRecorder()
			rec.Images = map[string][]string{repo: {"main-abc1234"}}
			err := mockengine.RunWith(src, rec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `taskmanager:compute.imageTag: "bootstrap" is not an image in ECR repository `+repo)
			assert.Contains(t, err.Error(), "scripts/deploy.sh --running-image "+stack)
			assert.Empty(t, rec.Resources(), "nothing is registered")

			src = mutate(t, src, "taskmanager:compute", func(m map[string]any) { m["imageTag"] = "main-abc1234" })
			rec = mockengine.NewRecorder()
			rec.Images = map[string][]string{repo: {"main-abc1234"}}
			require.NoError(t, mockengine.RunWith(src, rec))

			rec = mockengine.NewRecorder()
			rec.Images = map[string][]string{"taskmanager-other": {"x"}}
			require.NoError(t, mockengine.RunWith(mockengine.WithExternalSecrets(loadStack(t, stack)), rec), "a new environment has no repository yet")
			rec = mockengine.NewRecorder()
			rec.Images = map[string][]string{repo: {}}
			require.NoError(t, mockengine.RunWith(mockengine.WithExternalSecrets(loadStack(t, stack)), rec),
				"a first up that stopped half-way left an empty repository: the next one goes ahead")
		})
	}
}
