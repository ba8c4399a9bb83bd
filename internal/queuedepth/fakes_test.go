package queuedepth

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecrets is Secrets Manager holding plain-string secrets by ARN.
type fakeSecrets struct {
	values map[string]string
	err    error
	calls  []string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	f.calls = append(f.calls, id)
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[id]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: aws.String(v)}, nil
}

// fakeRedis is the broker: lists by key, each in Redis order (index 0 is the left end, where
// kombu LPUSHes; the last element is the oldest, which workers BRPOP).
type fakeRedis struct {
	mu       sync.Mutex
	lists    map[string][][]byte
	tooLarge map[string]bool // keys whose tail is larger than the function reads
	dialErr  error
	tailsErr error
	dialed   []BrokerURL
	asked    [][]string
	open     int // sessions not closed
}

// push does what kombu's LPUSH does: messages go in at the left, the first pushed is the oldest.
func (f *fakeRedis) push(key string, msgs ...string) {
	for _, m := range msgs {
		f.lists[key] = append([][]byte{[]byte(m)}, f.lists[key]...)
	}
}

func (f *fakeRedis) dial(_ context.Context, u BrokerURL) (Broker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dialed = append(f.dialed, u)
	if f.dialErr != nil {
		return nil, f.dialErr
	}
	f.open++
	return &fakeSession{f: f}, nil
}

type fakeSession struct {
	f      *fakeRedis
	closed bool
}

func (s *fakeSession) Tails(_ context.Context, keys []string) ([]ListTail, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.closed {
		return nil, errors.New("session closed")
	}
	f.asked = append(f.asked, keys)
	if f.tailsErr != nil {
		return nil, f.tailsErr
	}
	tails := make([]ListTail, len(keys))
	for i, k := range keys {
		l := f.lists[k]
		tails[i].Len = int64(len(l))
		switch {
		case len(l) > 0 && f.tooLarge[k]:
			tails[i].OldestTooLarge = true
		case len(l) > 0:
			tails[i].Oldest = l[len(l)-1]
		}
	}
	return tails, nil
}

func (s *fakeSession) Close() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.f.open--
	}
	return nil
}

// fakeECS knows services by cluster and name.
type fakeECS struct {
	services map[string]ecstypes.Service // "cluster/service"
	err      error
	calls    []*ecs.DescribeServicesInput
}

func (f *fakeECS) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &ecs.DescribeServicesOutput{}
	for _, name := range in.Services {
		svc, ok := f.services[aws.ToString(in.Cluster)+"/"+name]
		if !ok {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String("arn:aws:ecs:us-east-1:123456789012:service/" + aws.ToString(in.Cluster) + "/" + name), Reason: aws.String("MISSING")})
			continue
		}
		out.Services = append(out.Services, svc)
	}
	return out, nil
}

// fakeCloudWatch records every PutMetricData call.
type fakeCloudWatch struct {
	calls []*cloudwatch.PutMetricDataInput
	err   error
}

func (f *fakeCloudWatch) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}
