package rotation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// fakeServer is a PostgreSQL server reduced to what the role setup touches. It accepts a
// session only at its own address and database, with verify-full TLS against the embedded RDS
// CA bundle, and with the right password. It interprets the role statements (so the password
// really set by setSecret is the one testSecret must log in with, and memberships are what the
// statements make them), rejects what PostgreSQL rejects (creating an existing role, granting a
// role to itself, SET ROLE to a role the session's user is not a member of, granting on the
// owner's objects as another role), and undoes an uncommitted transaction. Like PostgreSQL 16,
// REVOKE removes only a membership that the revoking user granted.
type fakeServer struct {
	host        string
	port        uint16
	dbname      string
	masterUser  string
	masterPW    string
	roles       map[string]bool
	logins      map[string]string            // role -> stored password (verifier), for roles with LOGIN
	members     map[string]map[string]string // member -> role -> grantor
	defaultRole map[string]string            // user -> "SET role" default
	failOn      string                       // an Exec whose SQL starts with this fails

	configs []*pgx.ConnConfig // every session asked for, in order
	execs   []string          // Exec SQL, in order, across sessions
	queries []string          // QueryRow SQL, in order
	open    int               // sessions not yet closed
}

func newFakeServer(host string) *fakeServer {
	return &fakeServer{
		host:        host,
		port:        5432,
		dbname:      "taskmanager",
		masterUser:  "postgres_admin",
		masterPW:    "master-S3cret!",
		roles:       map[string]bool{},
		logins:      map[string]string{},
		members:     map[string]map[string]string{},
		defaultRole: map[string]string{},
	}
}

func (s *fakeServer) connect(_ context.Context, cfg *pgx.ConnConfig) (DB, error) {
	s.configs = append(s.configs, cfg)
	if err := checkVerifyFull(cfg); err != nil {
		return nil, err
	}
	if cfg.Host != s.host || cfg.Port != s.port || cfg.Database != s.dbname {
		return nil, fmt.Errorf("fake: no server at %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	}
	if !(cfg.User == s.masterUser && cfg.Password == s.masterPW) && !s.accepts(cfg.User, cfg.Password) {
		return nil, &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: fmt.Sprintf("password authentication failed for user %q", cfg.User)}
	}
	if role := s.defaultRole[cfg.User]; role != "" && s.members[cfg.User][role] == "" {
		// PostgreSQL applies the role's "SET role" at login and refuses a role it cannot set.
		return nil, &pgconn.PgError{Severity: "FATAL", Code: "42501", Message: fmt.Sprintf("permission denied to set role %q", role)}
	}
	s.open++
	return &fakeDB{server: s, user: cfg.User}, nil
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

// accepts checks a password against what the server stores for a login: a SCRAM-SHA-256
// verifier, recomputed from its own salt and iteration count, or a plain password.
func (s *fakeServer) accepts(user, password string) bool {
	stored, ok := s.logins[user]
	if !ok {
		return false
	}
	m := reVerifier.FindStringSubmatch(stored)
	if m == nil {
		return stored == password
	}
	iterations, err := strconv.Atoi(m[1])
	if err != nil {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		return false
	}
	want, err := scramVerifierWithSalt(password, salt, iterations)
	return err == nil && want == stored
}

// memberOf lists the roles user is a direct member of, sorted.
func (s *fakeServer) memberOf(user string) []string {
	return slices.Sorted(maps.Keys(s.members[user]))
}

// grant records a membership as the server would, granted by grantor.
func (s *fakeServer) grant(role, member, grantor string) {
	if s.members[member] == nil {
		s.members[member] = map[string]string{}
	}
	s.members[member][role] = grantor
}

// hasRole is pg_has_role(user, role, 'MEMBER'): direct or indirect membership.
func (s *fakeServer) hasRole(user, role string) bool {
	if user == role {
		return true
	}
	for r := range s.members[user] {
		if s.hasRole(r, role) {
			return true
		}
	}
	return false
}

var reVerifier = regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

type fakeDB struct {
	server *fakeServer
	user   string
	role   string      // SET LOCAL ROLE in force, "" for the session user
	snap   *fakeServer // state at BEGIN, restored on ROLLBACK or on close inside a transaction
	closed bool
}

var (
	reIdent      = `"((?:[^"]|"")+)"`
	reCreateRole = regexp.MustCompile(`^CREATE ROLE ` + reIdent + ` NOLOGIN$`)
	reLogin      = regexp.MustCompile(`^(CREATE|ALTER) ROLE ` + reIdent + ` WITH LOGIN PASSWORD E'(.*)'$`)
	reGrantRole  = regexp.MustCompile(`^GRANT ` + reIdent + ` TO (?:` + reIdent + `|(CURRENT_USER))$`)
	reRevokeRole = regexp.MustCompile(`^REVOKE ` + reIdent + ` FROM ` + reIdent + `$`)
	reSetRole    = regexp.MustCompile(`^ALTER ROLE ` + reIdent + ` SET role TO ` + reIdent + `$`)
	reResetRole  = regexp.MustCompile(`^ALTER ROLE ` + reIdent + ` RESET role$`)
	reSetLocal   = regexp.MustCompile(`^SET LOCAL ROLE ` + reIdent + `$`)
	reDefaultFor = regexp.MustCompile(`^ALTER DEFAULT PRIVILEGES FOR ROLE ` + reIdent + ` IN SCHEMA public GRANT .* TO ` + reIdent + `$`)
	reOnAll      = regexp.MustCompile(`^GRANT .* ON ALL (TABLES|SEQUENCES) IN SCHEMA public TO ` + reIdent + `$`)
)

func unquoteIdent(s string) string { return strings.ReplaceAll(s, `""`, `"`) }

// unquoteE decodes the body of an E'...' literal, failing on an undoubled quote.
func unquoteE(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			if i+1 >= len(s) || s[i+1] != c {
				return "", errors.New("fake: syntax error in string literal")
			}
			i++
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func pgErr(code, msg string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg}
}

func (d *fakeDB) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	s := d.server
	s.execs = append(s.execs, sql)
	if d.closed {
		return pgconn.CommandTag{}, errors.New("fake: session closed")
	}
	if s.failOn != "" && strings.HasPrefix(sql, s.failOn) {
		return pgconn.CommandTag{}, pgErr("42501", "permission denied")
	}
	roleExists := func(names ...string) error {
		for _, n := range names {
			if !s.roles[n] {
				return pgErr("42704", fmt.Sprintf("role %q does not exist", n))
			}
		}
		return nil
	}
	switch {
	case sql == "BEGIN":
		d.snap = s.clone()
	case sql == "COMMIT":
		d.snap, d.role = nil, ""
	case sql == "ROLLBACK":
		d.rollback()
	case reCreateRole.MatchString(sql):
		role := unquoteIdent(reCreateRole.FindStringSubmatch(sql)[1])
		if s.roles[role] {
			return pgconn.CommandTag{}, pgErr("42710", "role already exists")
		}
		s.roles[role] = true
	case reLogin.MatchString(sql):
		m := reLogin.FindStringSubmatch(sql)
		role := unquoteIdent(m[2])
		pw, err := unquoteE(m[3])
		if err != nil {
			return pgconn.CommandTag{}, err
		}
		if m[1] == "CREATE" && s.roles[role] {
			return pgconn.CommandTag{}, pgErr("42710", "role already exists")
		}
		if m[1] == "ALTER" && !s.roles[role] {
			return pgconn.CommandTag{}, pgErr("42704", "role does not exist")
		}
		s.roles[role] = true
		s.logins[role] = pw
	case reGrantRole.MatchString(sql):
		m := reGrantRole.FindStringSubmatch(sql)
		group, user := unquoteIdent(m[1]), unquoteIdent(m[2])
		if m[3] == "CURRENT_USER" {
			user = d.user
		} else if err := roleExists(user); err != nil {
			return pgconn.CommandTag{}, err
		}
		if err := roleExists(group); err != nil {
			return pgconn.CommandTag{}, err
		}
		if group == user || s.hasRole(group, user) {
			return pgconn.CommandTag{}, pgErr("0LP01", "role is a member of itself")
		}
		if s.members[user][group] == "" {
			s.grant(group, user, d.user)
		}
	case reRevokeRole.MatchString(sql):
		m := reRevokeRole.FindStringSubmatch(sql)
		group, user := unquoteIdent(m[1]), unquoteIdent(m[2])
		if err := roleExists(group, user); err != nil {
			return pgconn.CommandTag{}, err
		}
		// Only the revoking user's own grant goes; otherwise PostgreSQL merely warns.
		if s.members[user][group] == d.user {
			delete(s.members[user], group)
		}
	case reSetRole.MatchString(sql):
		m := reSetRole.FindStringSubmatch(sql)
		if err := roleExists(unquoteIdent(m[1]), unquoteIdent(m[2])); err != nil {
			return pgconn.CommandTag{}, err
		}
		s.defaultRole[unquoteIdent(m[1])] = unquoteIdent(m[2])
	case reResetRole.MatchString(sql):
		user := unquoteIdent(reResetRole.FindStringSubmatch(sql)[1])
		if err := roleExists(user); err != nil {
			return pgconn.CommandTag{}, err
		}
		delete(s.defaultRole, user)
	case reSetLocal.MatchString(sql):
		role := unquoteIdent(reSetLocal.FindStringSubmatch(sql)[1])
		if d.snap == nil {
			return pgconn.CommandTag{}, pgErr("25P01", "SET LOCAL can only be used in transaction blocks")
		}
		if !s.hasRole(d.user, role) {
			return pgconn.CommandTag{}, pgErr("42501", fmt.Sprintf("permission denied to set role %q", role))
		}
		d.role = role
	case sql == "RESET ROLE":
		d.role = ""
	case reDefaultFor.MatchString(sql):
		m := reDefaultFor.FindStringSubmatch(sql)
		if target := unquoteIdent(m[1]); d.role != target {
			return pgconn.CommandTag{}, pgErr("42501", fmt.Sprintf("permission denied to change default privileges of %q", target))
		}
		if err := roleExists(unquoteIdent(m[2])); err != nil {
			return pgconn.CommandTag{}, err
		}
	case reOnAll.MatchString(sql):
		// The app's objects belong to the owner role: only it may grant on them.
		if d.role != OwnerRole {
			return pgconn.CommandTag{}, pgErr("42501", "permission denied for table tasks")
		}
		if err := roleExists(unquoteIdent(reOnAll.FindStringSubmatch(sql)[2])); err != nil {
			return pgconn.CommandTag{}, err
		}
	case strings.HasPrefix(sql, "GRANT "), strings.HasPrefix(sql, "REVOKE "):
		// Privileges on the database and the schema, which the master user may grant.
	default:
		return pgconn.CommandTag{}, pgErr("42601", "fake: unsupported statement")
	}
	return pgconn.CommandTag{}, nil
}

func (s *fakeServer) clone() *fakeServer {
	c := *s
	c.roles = maps.Clone(s.roles)
	c.logins = maps.Clone(s.logins)
	c.members = map[string]map[string]string{}
	for u, m := range s.members {
		c.members[u] = maps.Clone(m)
	}
	c.defaultRole = maps.Clone(s.defaultRole)
	return &c
}

func (d *fakeDB) rollback() {
	d.role = ""
	if d.snap == nil {
		return
	}
	s := d.server
	s.roles, s.logins, s.members, s.defaultRole = d.snap.roles, d.snap.logins, d.snap.members, d.snap.defaultRole
	d.snap = nil
}

func (d *fakeDB) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	s := d.server
	s.queries = append(s.queries, sql)
	switch {
	case d.closed:
		return fakeRow{err: errors.New("fake: session closed")}
	case strings.Contains(sql, "FROM pg_catalog.pg_roles WHERE rolname = $1") && len(args) == 1:
		name, _ := args[0].(string)
		return fakeRow{value: s.roles[name]}
	case sql == "SELECT pg_catalog.pg_has_role($1, $2, 'MEMBER')" && len(args) == 2:
		user, _ := args[0].(string)
		role, _ := args[1].(string)
		return fakeRow{value: s.hasRole(user, role)}
	case sql == "SELECT 1":
		return fakeRow{value: 1}
	}
	return fakeRow{err: pgErr("42601", "fake: unsupported query")}
}

func (d *fakeDB) Close(context.Context) error {
	if !d.closed {
		d.rollback()
		d.closed = true
		d.server.open--
	}
	return nil
}

type fakeRow struct {
	value any
	err   error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(dest) != 1 {
		return errors.New("fake: one column expected")
	}
	switch d := dest[0].(type) {
	case *bool:
		v, ok := r.value.(bool)
		if !ok {
			return errors.New("fake: cannot scan into bool")
		}
		*d = v
	case *int:
		v, ok := r.value.(int)
		if !ok {
			return errors.New("fake: cannot scan into int")
		}
		*d = v
	default:
		return errors.New("fake: unsupported scan target")
	}
	return nil
}
