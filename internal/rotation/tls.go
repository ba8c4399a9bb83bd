package rotation

import (
	"crypto/tls"
	"crypto/x509"
	_ "embed" // the RDS CA bundle
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
)

// rdsCABundle is Amazon RDS's global CA bundle: the root CAs of every commercial region
// (RSA2048, RSA4096 and ECC384 G1), as published at
// https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem. The instances use
// rds-ca-rsa2048-g1, whose chain ends at "Amazon RDS <region> Root CA RSA2048 G1".
// docs/rotation.md says where this copy comes from and how to refresh it.
//
//go:embed certs/global-bundle.pem
var rdsCABundle []byte

// rdsRoots is the parsed bundle, parsed once per process.
var rdsRoots = sync.OnceValues(func() (*x509.CertPool, error) {
	pool, _, err := parseCABundle(rdsCABundle)
	return pool, err
})

// parseCABundle parses a PEM bundle of CA certificates. Unlike x509.CertPool.AppendCertsFromPEM
// it fails on anything that is not a CA certificate, so a damaged bundle cannot silently
// shrink.
func parseCABundle(b []byte) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("CA bundle: block %d is a %q, not a certificate", len(certs)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("CA bundle: certificate %d: %w", len(certs)+1, err)
		}
		if !cert.IsCA {
			return nil, nil, fmt.Errorf("CA bundle: certificate %d (%s) is not a CA", len(certs)+1, cert.Subject)
		}
		pool.AddCert(cert)
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("CA bundle holds no certificate")
	}
	return pool, certs, nil
}

// verifyFullTLS is libpq's sslmode=verify-full: the server's chain must lead to one of roots and
// its certificate must name host. Nothing in it skips or replaces Go's own verification.
func verifyFullTLS(host string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
}

// connConfig is a session as user on the configured database (DB_HOST, DB_PORT, DB_NAME) with
// sslmode=verify-full against the embedded RDS CA bundle. The password is set on the parsed
// configuration, so it is never part of a connection string.
func (r *Rotator) connConfig(user, password string) (*pgx.ConnConfig, error) {
	return connConfigWith(r.Config, user, password, rdsRoots)
}

func connConfigWith(c Config, user, password string, roots func() (*x509.CertPool, error)) (*pgx.ConnConfig, error) {
	if c.DBHost == "" || c.DBName == "" || c.DBPort <= 0 {
		return nil, missing(EnvDBHost+", "+EnvDBPort+" or "+EnvDBName, "needed to connect to the database")
	}
	pool, err := roots()
	if err != nil {
		return nil, err
	}
	u := url.URL{
		Scheme:   "postgresql",
		User:     url.User(user),
		Host:     net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:     "/" + c.DBName,
		RawQuery: "sslmode=verify-full",
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s on %s: %w", user, c.DBHost, err)
	}
	cfg.Password = password
	// ParseConfig's verify-full trusts the system roots, which do not hold RDS's CAs.
	cfg.TLSConfig = verifyFullTLS(c.DBHost, pool)
	cfg.Fallbacks = nil
	return cfg, nil
}
