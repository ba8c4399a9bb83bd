package rotation

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind selects which secret the Lambda rotates.
type Kind string

// The kinds of secret one binary can rotate.
const (
	KindDatabase Kind = "database"
	KindJWT      Kind = "jwt"
)

// Environment variables read by LoadConfig. The Pulumi program sets them on the Lambda.
const (
	EnvKind                  = "ROTATION_KIND"               // "database" or "jwt"; required
	EnvSecretARN             = "SECRET_ARN"                  // the rotated secret, for bootstrap; required for database
	EnvMasterSecretARN       = "MASTER_SECRET_ARN"           // RDS-managed master secret; required for database
	EnvMigrationsSecretARN   = "MIGRATIONS_SECRET_ARN"       // the migration login's secret, for bootstrap; required for database
	EnvDBHost                = "DB_HOST"                     // the primary's address; required for database
	EnvAppHost               = "APP_HOST"                    // the host written into database-url (RDS Proxy's); default DB_HOST
	EnvDBPort                = "DB_PORT"                     // the primary's port; required for database
	EnvDBName                = "DB_NAME"                     // the app's database; required for database
	EnvReaderSecretARN       = "READER_SECRET_ARN"           // optional, database only
	EnvReaderHost            = "READER_HOST"                 // required when READER_SECRET_ARN is set
	EnvLoginSecretARNs       = "LOGIN_SECRET_ARNS"           // optional, database only: taskmanager_app=<arn>,taskmanager_app_clone=<arn>
	EnvECSCluster            = "ECS_CLUSTER"                 // optional, together with ECS_SERVICES
	EnvECSServices           = "ECS_SERVICES"                // comma-separated service names
	EnvCodeDeployApplication = "CODEDEPLOY_APPLICATION"      // optional, together with CODEDEPLOY_DEPLOYMENT_GROUP
	EnvCodeDeployGroup       = "CODEDEPLOY_DEPLOYMENT_GROUP" // the blue/green service's deployment group
)

// Config is the environment-derived configuration of a Rotator.
type Config struct {
	Kind            Kind
	SecretARN       string
	MasterSecretARN string
	// MigrationsSecretARN is the secret of the migration login, which the bootstrap creates.
	MigrationsSecretARN string
	// DBHost, DBPort and DBName are where every database session goes: the function's own
	// configuration, never the secret it rotates, so that whoever can write that secret cannot
	// send the master credentials to a server of their choosing.
	DBHost string
	// AppHost is the host the app's database-url names: RDS Proxy's endpoint where there is one
	// (APP_HOST), else DBHost. The function itself always connects to DBHost.
	AppHost         string
	DBPort          int
	DBName          string
	ReaderSecretARN string
	ReaderHost      string
	// LoginSecretARNs maps each alternating app login to the secret that holds that login's
	// current password as {"username","password"}, for RDS Proxy. It is nil, or names both
	// logins.
	LoginSecretARNs map[string]string
	ECSCluster      string
	ECSServices     []string
	// CodeDeployApplication and CodeDeployDeploymentGroup redeploy a blue/green
	// (CODE_DEPLOY) service, which ECS refuses to force-redeploy.
	CodeDeployApplication     string
	CodeDeployDeploymentGroup string
}

// LoadConfig reads the configuration through getenv (os.Getenv in the Lambda). A configuration
// that would silently skip part of the rotation is an error naming the variable, because the
// consequences show up only a rotation later, when the old credentials stop working.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{
		Kind:                      Kind(env(EnvKind)),
		ECSCluster:                env(EnvECSCluster),
		CodeDeployApplication:     env(EnvCodeDeployApplication),
		CodeDeployDeploymentGroup: env(EnvCodeDeployGroup),
	}
	switch cfg.Kind {
	case KindDatabase:
		// The bootstrap action reads the secret from here: it has no rotation event.
		cfg.SecretARN = env(EnvSecretARN)
		if cfg.SecretARN == "" {
			return Config{}, missing(EnvSecretARN, "required when "+EnvKind+"=database")
		}
		cfg.MasterSecretARN = env(EnvMasterSecretARN)
		if cfg.MasterSecretARN == "" {
			return Config{}, missing(EnvMasterSecretARN, "required when "+EnvKind+"=database")
		}
		cfg.MigrationsSecretARN = env(EnvMigrationsSecretARN)
		if cfg.MigrationsSecretARN == "" {
			return Config{}, missing(EnvMigrationsSecretARN, "required when "+EnvKind+"=database")
		}
		if err := cfg.loadDatabase(env); err != nil {
			return Config{}, err
		}
		cfg.ReaderSecretARN = env(EnvReaderSecretARN)
		cfg.ReaderHost = env(EnvReaderHost)
		if cfg.ReaderSecretARN != "" && cfg.ReaderHost == "" {
			return Config{}, missing(EnvReaderHost, "required when "+EnvReaderSecretARN+" is set")
		}
		logins, err := parseLoginSecrets(env(EnvLoginSecretARNs))
		if err != nil {
			return Config{}, err
		}
		if err := cfg.checkLoginSecretsAreTheirOwn(logins); err != nil {
			return Config{}, err
		}
		cfg.LoginSecretARNs = logins
	case KindJWT:
		if env(EnvLoginSecretARNs) != "" {
			return Config{}, fmt.Errorf("environment variable %s is set, but only ROTATION_KIND=database writes login secrets", EnvLoginSecretARNs)
		}
	case "":
		return Config{}, missing(EnvKind, `must be "database" or "jwt"`)
	default:
		return Config{}, fmt.Errorf("environment variable %s=%q: must be %q or %q", EnvKind, cfg.Kind, KindDatabase, KindJWT)
	}
	services, err := parseServices(env(EnvECSServices), cfg.ECSCluster)
	if err != nil {
		return Config{}, err
	}
	cfg.ECSServices = services
	switch {
	case cfg.CodeDeployApplication != "" && cfg.CodeDeployDeploymentGroup == "":
		return Config{}, missing(EnvCodeDeployGroup, "required when "+EnvCodeDeployApplication+" is set")
	case cfg.CodeDeployApplication == "" && cfg.CodeDeployDeploymentGroup != "":
		return Config{}, missing(EnvCodeDeployApplication, "required when "+EnvCodeDeployGroup+" is set")
	}
	return cfg, nil
}

// loadDatabase reads where the database is: DB_HOST, DB_PORT and DB_NAME.
func (cfg *Config) loadDatabase(env func(string) string) error {
	for _, v := range []struct {
		name string
		dst  *string
	}{{EnvDBHost, &cfg.DBHost}, {EnvDBName, &cfg.DBName}} {
		if *v.dst = env(v.name); *v.dst == "" {
			return missing(v.name, "required when "+EnvKind+"=database")
		}
	}
	raw := env(EnvDBPort)
	if raw == "" {
		return missing(EnvDBPort, "required when "+EnvKind+"=database")
	}
	port, err := strconv.Atoi(raw)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("environment variable %s=%q: must be a port number (1-65535)", EnvDBPort, raw)
	}
	cfg.DBPort = port
	if cfg.AppHost = env(EnvAppHost); cfg.AppHost == "" {
		cfg.AppHost = cfg.DBHost
	}
	return nil
}

// parseLoginSecrets reads LOGIN_SECRET_ARNS: "taskmanager_app=<arn>,taskmanager_app_clone=<arn>",
// in either order. Empty means no login secrets (no RDS Proxy). Otherwise both alternating logins
// must have one, each its own: a proxy that knows only one of them refuses the tasks on the other
// after the next rotation. The split is at the first "=", since a secret's name may contain "=";
// it may not contain ",".
func parseLoginSecrets(raw string) (map[string]string, error) {
	if raw == "" {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("environment variable %s: %s (want %s=<secret ARN>,%s=<secret ARN>)",
			EnvLoginSecretARNs, fmt.Sprintf(format, args...), AppUser, AppCloneUser)
	}
	logins := map[string]string{}
	for _, pair := range strings.Split(raw, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		user, arn, ok := strings.Cut(pair, "=")
		user, arn = strings.TrimSpace(user), strings.TrimSpace(arn)
		switch {
		case !ok || user == "" || arn == "":
			return nil, bad("%q is not user=<secret ARN>", pair)
		case user != AppUser && user != AppCloneUser:
			return nil, bad("unknown user %q: the login secrets are for %s only", user, quotedList([]string{AppUser, AppCloneUser}))
		case logins[user] != "":
			return nil, bad("user %q is given twice", user)
		case !strings.HasPrefix(arn, "arn:") || strings.ContainsAny(arn, " \t"):
			return nil, bad("the secret of %q, %q, is not a secret ARN", user, arn)
		}
		logins[user] = arn
	}
	for _, user := range []string{AppUser, AppCloneUser} {
		if logins[user] == "" {
			return nil, bad("no login secret for %q: give both alternating users one, or leave the variable unset", user)
		}
	}
	if logins[AppUser] == logins[AppCloneUser] {
		return nil, bad("%q and %q name the same secret; each needs its own", AppUser, AppCloneUser)
	}
	return logins, nil
}

// checkLoginSecretsAreTheirOwn refuses a login secret that is one of the function's other
// secrets: writing {"username","password"} over database-url or the reader secret would take
// DATABASE_URL away from the app, and over the master or migration secret would lose a login.
func (cfg *Config) checkLoginSecretsAreTheirOwn(logins map[string]string) error {
	others := []struct{ name, arn string }{
		{EnvSecretARN, cfg.SecretARN}, {EnvMasterSecretARN, cfg.MasterSecretARN},
		{EnvMigrationsSecretARN, cfg.MigrationsSecretARN}, {EnvReaderSecretARN, cfg.ReaderSecretARN},
	}
	for _, user := range []string{AppUser, AppCloneUser} {
		for _, o := range others {
			if logins[user] != "" && logins[user] == o.arn {
				return fmt.Errorf("environment variable %s: the login secret of %q is %s's secret; it needs a secret of its own", EnvLoginSecretARNs, user, o.name)
			}
		}
	}
	return nil
}

func parseServices(raw, cluster string) ([]string, error) {
	var services []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			services = append(services, s)
		}
	}
	switch {
	case cluster != "" && len(services) == 0:
		return nil, missing(EnvECSServices, "required when "+EnvECSCluster+" is set")
	case cluster == "" && len(services) > 0:
		return nil, missing(EnvECSCluster, "required when "+EnvECSServices+" is set")
	}
	return services, nil
}

func missing(name, why string) error {
	return fmt.Errorf("environment variable %s is not set: %s", name, why)
}
