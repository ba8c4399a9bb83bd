package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/jackc/pgx/v5"
)

// fakeSM is an in-memory Secrets Manager that keeps versions and staging labels the way the
// service does: moving AWSCURRENT labels the old version AWSPREVIOUS, a label lives on one
// version at a time, and a version created by RotateSecret has AWSPENDING but no value until
// PutSecretValue.
type fakeSM struct {
	mu          sync.Mutex
	secrets     map[string]*fakeSecret
	passwords   []string // returned first by GetRandomPassword, in order
	randomCalls []*secretsmanager.GetRandomPasswordInput
	putCalls    []*secretsmanager.PutSecretValueInput
	fail        map[string]error // operation name -> error
	failGet     map[string]error // secret ID -> error of GetSecretValue on it
	onPut       func(*secretsmanager.PutSecretValueInput)
	nextID      int
}

type fakeSecret struct {
	rotationEnabled bool
	versions        map[string]*fakeVersion
}

type fakeVersion struct {
	value  *string
	stages []string
}

func newFakeSM() *fakeSM {
	return &fakeSM{secrets: map[string]*fakeSecret{}, fail: map[string]error{}, failGet: map[string]error{}}
}

func (f *fakeSM) newID() string {
	f.nextID++
	return fmt.Sprintf("version-%02d", f.nextID)
}

// addSecret creates a secret whose AWSCURRENT is value and returns that version's ID.
func (f *fakeSM) addSecret(id string, rotationEnabled bool, value string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.newID()
	f.secrets[id] = &fakeSecret{
		rotationEnabled: rotationEnabled,
		versions:        map[string]*fakeVersion{v: {value: aws.String(value), stages: []string{StageCurrent}}},
	}
	return v
}

// addEmptySecret creates a secret that has no version yet.
func (f *fakeSM) addEmptySecret(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[id] = &fakeSecret{versions: map[string]*fakeVersion{}}
}

// putsTo lists the PutSecretValue calls on one secret.
func (f *fakeSM) putsTo(id string) []*secretsmanager.PutSecretValueInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*secretsmanager.PutSecretValueInput
	for _, in := range f.putCalls {
		if aws.ToString(in.SecretId) == id {
			out = append(out, in)
		}
	}
	return out
}

// startRotation does what RotateSecret does before invoking the Lambda: a new version ID,
// labelled AWSPENDING, without a value.
func (f *fakeSM) startRotation(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	token := f.newID()
	sec := f.secrets[id]
	sec.versions[token] = &fakeVersion{}
	sec.moveStage(StagePending, token)
	return token
}

func (s *fakeSecret) holder(stage string) string {
	for id, v := range s.versions {
		if slices.Contains(v.stages, stage) {
			return id
		}
	}
	return ""
}

func (s *fakeSecret) moveStage(stage, to string) {
	old := s.holder(stage)
	for _, v := range s.versions {
		v.stages = slices.DeleteFunc(v.stages, func(x string) bool { return x == stage })
	}
	s.versions[to].stages = append(s.versions[to].stages, stage)
	if stage == StageCurrent && old != "" && old != to {
		s.moveStage(StagePrevious, old)
	}
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func (f *fakeSM) secret(id *string) (*fakeSecret, error) {
	sec, ok := f.secrets[aws.ToString(id)]
	if !ok {
		return nil, notFound("secret %s not found", aws.ToString(id))
	}
	return sec, nil
}

func (f *fakeSM) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["DescribeSecret"]; err != nil {
		return nil, err
	}
	sec, err := f.secret(in.SecretId)
	if err != nil {
		return nil, err
	}
	stages := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[id] = slices.Clone(v.stages)
		}
	}
	return &secretsmanager.DescribeSecretOutput{
		ARN:                in.SecretId,
		RotationEnabled:    aws.Bool(sec.rotationEnabled),
		VersionIdsToStages: stages,
	}, nil
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failGet[aws.ToString(in.SecretId)]; err != nil {
		return nil, err
	}
	sec, err := f.secret(in.SecretId)
	if err != nil {
		return nil, err
	}
	id := aws.ToString(in.VersionId)
	stage := aws.ToString(in.VersionStage)
	if id == "" {
		if stage == "" {
			stage = StageCurrent
		}
		id = sec.holder(stage)
	}
	v, ok := sec.versions[id]
	if !ok || v.value == nil || (stage != "" && !slices.Contains(v.stages, stage)) {
		return nil, notFound("no version %q with stage %q", id, stage)
	}
	return &secretsmanager.GetSecretValueOutput{
		SecretString:  aws.String(*v.value),
		VersionId:     aws.String(id),
		VersionStages: slices.Clone(v.stages),
	}, nil
}

func (f *fakeSM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if f.onPut != nil {
		f.onPut(in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putCalls = append(f.putCalls, in)
	if err := f.fail["PutSecretValue"]; err != nil {
		return nil, err
	}
	sec, err := f.secret(in.SecretId)
	if err != nil {
		return nil, err
	}
	id := aws.ToString(in.ClientRequestToken)
	if id == "" {
		return nil, errors.New("fake: ClientRequestToken is required")
	}
	v, ok := sec.versions[id]
	if ok && v.value != nil {
		if *v.value != aws.ToString(in.SecretString) {
			return nil, &types.ResourceExistsException{Message: aws.String("a version with this ID already exists with different data")}
		}
		// Like the service: the same data again changes nothing, not even the stages.
		return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(id), VersionStages: slices.Clone(v.stages)}, nil
	}
	if !ok {
		v = &fakeVersion{}
		sec.versions[id] = v
	}
	v.value = aws.String(aws.ToString(in.SecretString))
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	for _, s := range stages {
		sec.moveStage(s, id)
	}
	return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(id), VersionStages: slices.Clone(v.stages)}, nil
}

func (f *fakeSM) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["UpdateSecretVersionStage"]; err != nil {
		return nil, err
	}
	sec, err := f.secret(in.SecretId)
	if err != nil {
		return nil, err
	}
	stage, to := aws.ToString(in.VersionStage), aws.ToString(in.MoveToVersionId)
	if _, ok := sec.versions[to]; !ok {
		return nil, notFound("version %s not found", to)
	}
	// Like the service: a label attached elsewhere may only move if the caller names its holder.
	if old := sec.holder(stage); old != "" && old != to && old != aws.ToString(in.RemoveFromVersionId) {
		return nil, &types.InvalidParameterException{Message: aws.String("label is attached to " + old + ", not to RemoveFromVersionId")}
	}
	sec.moveStage(stage, to)
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

func (f *fakeSM) GetRandomPassword(_ context.Context, in *secretsmanager.GetRandomPasswordInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.randomCalls = append(f.randomCalls, in)
	if len(f.passwords) > 0 {
		p := f.passwords[0]
		f.passwords = f.passwords[1:]
		return &secretsmanager.GetRandomPasswordOutput{RandomPassword: aws.String(p)}, nil
	}
	p := fmt.Sprintf("generated%d", len(f.randomCalls))
	if n := int(aws.ToInt64(in.PasswordLength)); n > len(p) {
		p += strings.Repeat("x", n-len(p))
	}
	return &secretsmanager.GetRandomPasswordOutput{RandomPassword: aws.String(p)}, nil
}

// Helpers reading the fake's state.

func (f *fakeSM) valueOf(t testingT, id, versionOrStage string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	sec := f.secrets[id]
	v, ok := sec.versions[versionOrStage]
	if !ok {
		v, ok = sec.versions[sec.holder(versionOrStage)]
	}
	if !ok || v.value == nil {
		t.Fatalf("secret %s has no value at %s", id, versionOrStage)
	}
	return *v.value
}

func (f *fakeSM) stagesOf(id, version string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := slices.Clone(f.secrets[id].versions[version].stages)
	slices.Sort(s)
	return s
}

func (f *fakeSM) currentID(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[id].holder(StageCurrent)
}

func (f *fakeSM) valueCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.secrets[id].versions {
		if v.value != nil {
			n++
		}
	}
	return n
}

type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// fakeECS records UpdateService and DescribeServices calls. DescribeServices answers from
// described; when that is nil, every service asked for is an active rolling service.
type fakeECS struct {
	calls  []*ecs.UpdateServiceInput
	fail   map[string]error // service -> error
	onCall func(*ecs.UpdateServiceInput)

	described     map[string]ecstypes.Service // service name -> description
	describeErr   error
	describeCalls []*ecs.DescribeServicesInput
}

func (f *fakeECS) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	f.describeCalls = append(f.describeCalls, in)
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &ecs.DescribeServicesOutput{}
	for _, name := range in.Services {
		svc, ok := f.described[name]
		if f.described == nil {
			svc, ok = ecstypes.Service{
				ServiceName:          aws.String(name),
				Status:               aws.String("ACTIVE"),
				DeploymentController: &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeEcs},
				RunningCount:         2, // tasks that hold the previous credentials
			}, true
		}
		if !ok {
			// Like ECS: an unknown service is a failure, not an error.
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(name), Reason: aws.String("MISSING")})
			continue
		}
		out.Services = append(out.Services, svc)
	}
	return out, nil
}

func (f *fakeECS) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	f.calls = append(f.calls, in)
	if f.onCall != nil {
		f.onCall(in)
	}
	if err := f.fail[aws.ToString(in.Service)]; err != nil {
		return nil, err
	}
	return &ecs.UpdateServiceOutput{}, nil
}

func (f *fakeECS) services() []string {
	var s []string
	for _, c := range f.calls {
		s = append(s, aws.ToString(c.Service))
	}
	return s
}

// fakeCodeDeploy records CreateDeployment calls.
type fakeCodeDeploy struct {
	calls []*codedeploy.CreateDeploymentInput
	err   error
}

func (f *fakeCodeDeploy) CreateDeployment(_ context.Context, in *codedeploy.CreateDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &codedeploy.CreateDeploymentOutput{DeploymentId: aws.String(fmt.Sprintf("d-FAKE%04d", len(f.calls)))}, nil
}

// checkVerifyFull refuses any session that would not verify the server's certificate against
// the RDS CA bundle and the configured host name, like a client facing a man in the middle.
func checkVerifyFull(cfg *pgx.ConnConfig) error {
	roots, err := rdsRoots()
	if err != nil {
		return err
	}
	tc := cfg.TLSConfig
	switch {
	case tc == nil:
		return errors.New("fake: connection without TLS refused")
	case tc.InsecureSkipVerify || tc.VerifyPeerCertificate != nil:
		return errors.New("fake: connection without certificate verification refused")
	case tc.RootCAs == nil || !tc.RootCAs.Equal(roots):
		return errors.New("fake: certificate signed by unknown authority")
	case tc.ServerName != cfg.Host:
		return fmt.Errorf("fake: certificate is valid for %s, not %s", cfg.Host, tc.ServerName)
	case len(cfg.Fallbacks) > 0:
		return errors.New("fake: fallback configurations refused")
	}
	return nil
}
