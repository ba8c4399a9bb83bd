package queuedepth

import (
	"fmt"
	"strings"
)

// Environment variables read by LoadConfig. The Pulumi program sets them on the Lambda.
const (
	EnvBrokerSecretARN = "BROKER_SECRET_ARN" // the secret celery-broker-url (a plain rediss:// URL); required
	EnvECSCluster      = "ECS_CLUSTER"       // the cluster's name; required; the metrics' Cluster dimension
	EnvECSService      = "ECS_SERVICE"       // the worker service's name; required; the metrics' Service dimension
	EnvQueues          = "QUEUES"            // comma-separated Celery queue names; default "celery"
	EnvMetricNamespace = "METRIC_NAMESPACE"  // default "TaskManager/Celery"
	EnvSentAtHeader    = "SENT_AT_HEADER"    // the message header holding the publish time; default "sent_at"
)

// Defaults of the optional variables.
const (
	DefaultQueue           = "celery"
	DefaultMetricNamespace = "TaskManager/Celery"
	DefaultSentAtHeader    = "sent_at"
)

// MaxQueues bounds QUEUES so that every datum fits in one PutMetricData call (two per queue plus
// three for the service, far below CloudWatch's 1,000 per request) and the Redis pipeline stays
// small.
const MaxQueues = 100

// maxDimensionValue is CloudWatch's limit on a dimension value.
const maxDimensionValue = 1024

// Config is the environment-derived configuration of a Measurer.
type Config struct {
	BrokerSecretARN string
	ECSCluster      string
	ECSService      string
	Queues          []string
	MetricNamespace string
	SentAtHeader    string
}

// LoadConfig reads the configuration through getenv (os.Getenv in the Lambda). Anything that
// would publish under names the scaling policy and the alarm do not look for is an error naming
// the variable: a metric published under the wrong dimensions scales nothing and alarms on
// nothing, silently.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{
		BrokerSecretARN: env(EnvBrokerSecretARN),
		ECSCluster:      env(EnvECSCluster),
		ECSService:      env(EnvECSService),
		MetricNamespace: env(EnvMetricNamespace),
		SentAtHeader:    env(EnvSentAtHeader),
	}
	if cfg.BrokerSecretARN == "" {
		return Config{}, missing(EnvBrokerSecretARN, "the ARN of the secret holding Celery's broker URL")
	}
	for _, v := range []struct{ name, value string }{{EnvECSCluster, cfg.ECSCluster}, {EnvECSService, cfg.ECSService}} {
		if err := checkECSName(v.name, v.value); err != nil {
			return Config{}, err
		}
	}
	if cfg.MetricNamespace == "" {
		cfg.MetricNamespace = DefaultMetricNamespace
	}
	if err := checkNamespace(cfg.MetricNamespace); err != nil {
		return Config{}, err
	}
	if cfg.SentAtHeader == "" {
		cfg.SentAtHeader = DefaultSentAtHeader
	}
	queues, err := parseQueues(env(EnvQueues))
	if err != nil {
		return Config{}, err
	}
	cfg.Queues = queues
	return cfg, nil
}

// checkECSName requires a name: it is the metrics' dimension value, which the scaling policy and
// the alarm spell with names, so an ARN would publish metrics nothing reads.
func checkECSName(name, value string) error {
	switch {
	case value == "":
		return missing(name, "the worker's ECS names are the metrics' dimensions")
	case strings.HasPrefix(value, "arn:") || strings.Contains(value, "/"):
		return fmt.Errorf("environment variable %s=%q: must be a name, not an ARN (it is a metric dimension)", name, value)
	case len(value) > maxDimensionValue:
		return fmt.Errorf("environment variable %s: longer than %d characters", name, maxDimensionValue)
	}
	return nil
}

// checkNamespace applies CloudWatch's rules for a custom namespace.
func checkNamespace(ns string) error {
	if strings.HasPrefix(ns, "AWS/") {
		return fmt.Errorf("environment variable %s=%q: the AWS/ prefix is reserved for AWS services", EnvMetricNamespace, ns)
	}
	if len(ns) > 255 {
		return fmt.Errorf("environment variable %s: longer than 255 characters", EnvMetricNamespace)
	}
	for _, r := range ns {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("._-/#: ", r)
		if !ok {
			return fmt.Errorf("environment variable %s=%q: %q is not allowed (letters, digits and . _ - / # : space)", EnvMetricNamespace, ns, r)
		}
	}
	return nil
}

func parseQueues(raw string) ([]string, error) {
	if raw == "" {
		return []string{DefaultQueue}, nil
	}
	var queues []string
	seen := map[string]bool{}
	for _, q := range strings.Split(raw, ",") {
		q = strings.TrimSpace(q)
		switch {
		case q == "":
			continue
		case seen[q]:
			return nil, fmt.Errorf("environment variable %s: queue %q is listed twice", EnvQueues, q)
		case len(q) > maxDimensionValue:
			return nil, fmt.Errorf("environment variable %s: queue name longer than %d characters", EnvQueues, maxDimensionValue)
		case strings.Contains(q, prioritySep):
			return nil, fmt.Errorf("environment variable %s: queue %q contains Celery's priority separator; name the queue, not its priority list", EnvQueues, q)
		}
		seen[q] = true
		queues = append(queues, q)
	}
	switch {
	case len(queues) == 0:
		return nil, fmt.Errorf("environment variable %s=%q: names no queue (unset it for %q)", EnvQueues, raw, DefaultQueue)
	case len(queues) > MaxQueues:
		return nil, fmt.Errorf("environment variable %s names %d queues; at most %d fit in one PutMetricData call", EnvQueues, len(queues), MaxQueues)
	}
	return queues, nil
}

func missing(name, why string) error {
	return fmt.Errorf("environment variable %s is not set: %s", name, why)
}
