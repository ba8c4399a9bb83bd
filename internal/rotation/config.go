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
	EnvDBPort                = "DB_PORT"                     // the primary's port; required for database
	EnvDBName                = "DB_NAME"                     // the app's database; required for database
	EnvReaderSecretARN       = "READER_SECRET_ARN"           // optional, database only
	EnvReaderHost            = "READER_HOST"                 // required when READER_SECRET_ARN is set
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
	DBHost          string
	DBPort          int
	DBName          string
	ReaderSecretARN string
	ReaderHost      string
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
	case KindJWT:
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
