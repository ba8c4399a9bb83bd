package rotation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// proxyLogin is the value of a login secret, the format RDS Proxy reads: exactly these two keys.
type proxyLogin struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// encodeProxyLogin is the login secret's value for user and password. HTML escaping is off, so
// a password with <, > or & is stored as it is, not as \u003c and the like.
func encodeProxyLogin(user, password string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(proxyLogin{Username: user, Password: password}); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// writeLoginSecret makes the login secret of login.Username (LOGIN_SECRET_ARNS) hold that login's
// password, as AWSCURRENT, once PostgreSQL has it: RDS Proxy authenticates the login's clients
// against that secret. Without LOGIN_SECRET_ARNS (no proxy) it does nothing. The other login's
// secret is never touched: tasks on the other login keep connecting through the proxy.
//
// The step that calls it is retried with the same source (the rotation's token, or the version
// of database-url that the bootstrap read), so the write must happen once: nothing is written
// when AWSCURRENT already holds exactly this value, and otherwise the new version's ID is derived
// from the source and from the version it replaces, so a retry after a failed write creates the
// same version, never a second one. Errors name the secret and the user, never the password.
func (r *Rotator) writeLoginSecret(ctx context.Context, login DatabaseSecret, source string, log *slog.Logger) error {
	arn := r.Config.LoginSecretARNs[login.Username]
	if arn == "" {
		return nil
	}
	value, err := encodeProxyLogin(login.Username, login.Password)
	if err != nil {
		return fmt.Errorf("encode login secret %s of user %s: %w", arn, login.Username, err)
	}
	out, err := r.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(arn),
		VersionStage: aws.String(StageCurrent),
	})
	var notFound *types.ResourceNotFoundException
	var replaced string
	switch {
	case err == nil:
		if aws.ToString(out.SecretString) == value {
			log.Info("login secret already current", "login_secret", arn, "username", login.Username, "login_version", aws.ToString(out.VersionId))
			return nil
		}
		replaced = aws.ToString(out.VersionId)
	case errors.As(err, &notFound):
		// A secret without a value yet; a secret that does not exist fails at the put below.
	default:
		return fmt.Errorf("read AWSCURRENT of login secret %s of user %s: %w", arn, login.Username, err)
	}
	version := loginVersionID(login.Username, source, replaced)
	put, err := r.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(arn),
		ClientRequestToken: aws.String(version),
		SecretString:       aws.String(value),
		VersionStages:      []string{StageCurrent},
	})
	if err != nil {
		return fmt.Errorf("put version %s of login secret %s of user %s: %w", version, arn, login.Username, err)
	}
	// A version that already existed with this ID and value is left as it is: if AWSCURRENT has
	// moved away from it since, the proxy would keep an old password.
	if len(put.VersionStages) > 0 && !slices.Contains(put.VersionStages, StageCurrent) {
		return fmt.Errorf("version %s of login secret %s of user %s exists but is not AWSCURRENT (stages %v): move AWSCURRENT to it, or put the login's current password, and retry",
			version, arn, login.Username, put.VersionStages)
	}
	log.Info("login secret updated", "login_secret", arn, "username", login.Username, "login_version", version, "replaced_version", replaced)
	return nil
}

// loginVersionID is the ID of the login secret version that replaces version replaced ("" when
// the secret has no value) for the given source. It has the shape of a UUID, which Secrets
// Manager recommends for version IDs (32 to 64 characters).
func loginVersionID(user, source, replaced string) string {
	sum := sha256.Sum256([]byte("taskmanager login secret\x00" + user + "\x00" + source + "\x00" + replaced))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
