package rotation

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// The root of the instances' certificate authority, rds-ca-rsa2048-g1, in us-east-1: its
// subject and SHA-256 fingerprint, as openssl x509 -fingerprint -sha256 shows them.
const (
	usEast1RSA2048G1    = "Amazon RDS us-east-1 Root CA RSA2048 G1"
	usEast1RSA2048G1SHA = "e4ce41d069f4bdcdb714259058961ee42ed18cf2bf627a3d647aff25437d4b68"
)

func TestEmbeddedRDSBundle(t *testing.T) {
	_, certs, err := parseCABundle(rdsCABundle)
	require.NoError(t, err)
	pool, err := rdsRoots()
	require.NoError(t, err)
	require.NotNil(t, pool)

	byName := map[string]*x509.Certificate{}
	regions := map[string]map[string]bool{} // key type -> regions
	for _, c := range certs {
		assert.Equal(t, []string{"Amazon Web Services, Inc."}, c.Subject.Organization, c.Subject.CommonName)
		assert.Equal(t, []string{"Amazon RDS"}, c.Subject.OrganizationalUnit, c.Subject.CommonName)
		assert.Equal(t, c.Subject.String(), c.Issuer.String(), "%s: a root, not an intermediate", c.Subject.CommonName)
		assert.NoError(t, c.CheckSignatureFrom(c), "%s is self-signed", c.Subject.CommonName)
		assert.True(t, c.NotAfter.After(time.Now()), "%s expired on %s: refresh the bundle", c.Subject.CommonName, c.NotAfter)
		byName[c.Subject.CommonName] = c
		// "Amazon RDS <region> Root CA <type> G1"
		if f := strings.Fields(c.Subject.CommonName); len(f) == 7 && f[3] == "Root" {
			if regions[f[5]] == nil {
				regions[f[5]] = map[string]bool{}
			}
			regions[f[5]][f[2]] = true
		}
	}
	root := byName[usEast1RSA2048G1]
	require.NotNil(t, root, "the bundle holds the root of rds-ca-rsa2048-g1 in us-east-1")
	sum := sha256.Sum256(root.Raw)
	assert.Equal(t, usEast1RSA2048G1SHA, hex.EncodeToString(sum[:]))
	assert.Equal(t, x509.RSA, root.PublicKeyAlgorithm)

	// Every region's root for each key type: the bundle is the global one, not a regional one.
	for _, region := range []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} {
		for _, typ := range []string{"RSA2048", "RSA4096", "ECC384"} {
			assert.True(t, regions[typ][region], "%s root for %s", typ, region)
		}
	}
	assert.Equal(t, regions["RSA2048"], regions["RSA4096"])
	assert.Equal(t, regions["RSA2048"], regions["ECC384"])
}

func TestParseCABundleRefusesDamage(t *testing.T) {
	_, _, err := parseCABundle(nil)
	require.ErrorContains(t, err, "no certificate")
	_, _, err = parseCABundle([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	require.ErrorContains(t, err, `"PRIVATE KEY"`)
	_, _, err = parseCABundle([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	require.ErrorContains(t, err, "certificate 1")
	ca, err := testserver.NewCA()
	require.NoError(t, err)
	leaf, _, err := ca.Leaf("db.example")
	require.NoError(t, err)
	_, _, err = parseCABundle(leaf)
	require.ErrorContains(t, err, "is not a CA")
}

// The configuration every session uses is libpq's verify-full: the RDS bundle as the only
// roots, the configured host as the name the certificate must carry, nothing skipped.
func TestConnConfigIsVerifyFull(t *testing.T) {
	fx := newDBFixture(t)
	cfg, err := fx.rotator.connConfig(AppUser, "Secret-PW-1")
	require.NoError(t, err)
	roots, err := rdsRoots()
	require.NoError(t, err)

	assert.Equal(t, primaryHost, cfg.Host)
	assert.Equal(t, uint16(fx.port), cfg.Port)
	assert.Equal(t, "taskmanager", cfg.Database)
	assert.Equal(t, AppUser, cfg.User)
	assert.Equal(t, "Secret-PW-1", cfg.Password)
	require.NotNil(t, cfg.TLSConfig)
	assert.True(t, cfg.TLSConfig.RootCAs.Equal(roots), "RootCAs are the embedded bundle")
	assert.Equal(t, primaryHost, cfg.TLSConfig.ServerName, "ServerName is DB_HOST")
	assert.False(t, cfg.TLSConfig.InsecureSkipVerify)
	assert.Nil(t, cfg.TLSConfig.VerifyPeerCertificate, "no verification of our own replaces Go's")
	assert.GreaterOrEqual(t, cfg.TLSConfig.MinVersion, uint16(tls.VersionTLS12))
	assert.Empty(t, cfg.Fallbacks, "no fallback without TLS")
	assert.NotContains(t, cfg.ConnString(), "Secret-PW-1", "the password is never in a connection string")
	assert.Contains(t, cfg.ConnString(), "sslmode=verify-full")

	fx.rotator.Config.DBHost = ""
	_, err = fx.rotator.connConfig(AppUser, "p")
	require.ErrorContains(t, err, EnvDBHost)
}

// A real TLS handshake with the test's PostgreSQL: a server whose certificate does not chain to
// the roots is refused, and so is one whose certificate is for another host (the certificate
// names "localhost" only, not 127.0.0.1).
func TestConnConfigRefusesServersItCannotVerify(t *testing.T) {
	testserver.Require(t, pgErr)
	cfgFor := func(host string, roots *x509.CertPool) *pgx.ConnConfig {
		c := Config{DBHost: host, DBPort: pg.Port, DBName: testDB}
		cfg, err := connConfigWith(c, masterUser, masterPW, func() (*x509.CertPool, error) { return roots, nil })
		require.NoError(t, err)
		return cfg
	}
	connect := func(cfg *pgx.ConnConfig) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_ = conn.Close(ctx)
		}
		return err
	}
	rds, err := rdsRoots()
	require.NoError(t, err)

	err = connect(cfgFor("localhost", rds))
	var unknown x509.UnknownAuthorityError
	require.True(t, errors.As(err, &unknown), "a certificate outside the RDS bundle is refused: %v", err)

	err = connect(cfgFor("127.0.0.1", pg.CA.Pool))
	var wrongHost x509.HostnameError
	require.True(t, errors.As(err, &wrongHost), "a certificate for another host is refused: %v", err)

	// The harness itself: with the test CA and the right name, the session opens.
	require.NoError(t, connect(cfgFor("localhost", pg.CA.Pool)))
}
