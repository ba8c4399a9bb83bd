package lambdamain

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type settings struct{ Queue string }

func load(getenv func(string) string) (settings, error) {
	if getenv("QUEUE") == "" {
		return settings{}, errors.New("QUEUE is required")
	}
	return settings{Queue: getenv("QUEUE")}, nil
}

func TestSetupLoadsTheFunctionsConfiguration(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	cfg, awsCfg, err := Setup(context.Background(), load, func(k string) string { return map[string]string{"QUEUE": "celery"}[k] })
	require.NoError(t, err)
	assert.Equal(t, settings{Queue: "celery"}, cfg)
	assert.Equal(t, "eu-west-1", awsCfg.Region)
}

func TestSetupFailsOnInvalidConfiguration(t *testing.T) {
	_, _, err := Setup(context.Background(), load, func(string) string { return "" })
	require.EqualError(t, err, "invalid configuration: QUEUE is required")
}
