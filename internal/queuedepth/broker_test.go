package queuedepth

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBrokerURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    BrokerURL
		wantErr string
	}{
		{
			name: "the secret as the program writes it",
			raw:  brokerURL,
			want: BrokerURL{Host: redisHost, Port: 6379, Password: token},
		},
		{
			name: "escaped token, other port and database, surrounding whitespace",
			raw:  " rediss://:a%2Fb%40c@" + redisHost + ":6380/1?ssl_cert_reqs=required\n",
			want: BrokerURL{Host: redisHost, Port: 6380, Password: "a/b@c", DB: 1},
		},
		{
			name: "no port, no database",
			raw:  "rediss://:" + token + "@" + redisHost,
			want: BrokerURL{Host: redisHost, Port: 6379, Password: token},
		},
		{
			name: "RBAC user",
			raw:  "rediss://celery:" + token + "@" + redisHost + ":6379/0",
			want: BrokerURL{Host: redisHost, Port: 6379, Username: "celery", Password: token},
		},
		{name: "plain redis", raw: "redis://:" + token + "@" + redisHost + ":6379/0", wantErr: `broker URL has scheme "redis"; want rediss`},
		{name: "JSON instead of a URL", raw: `{"url":"rediss://:` + token + `@h:6379/0"}`, wantErr: "broker secret holds JSON; want the plain rediss:// URL"},
		{name: "bad escape", raw: "rediss://:" + token + "%@" + redisHost + ":6379/0", wantErr: "broker URL cannot be parsed as a URL"},
		{name: "no host", raw: "rediss://:" + token + "@:6379/0", wantErr: "broker URL has no host"},
		{name: "bad port", raw: "rediss://:" + token + "@" + redisHost + ":0/0", wantErr: "broker URL's port is not a port number"},
		{name: "no token", raw: "rediss://" + redisHost + ":6379/0", wantErr: "broker URL has no AUTH token"},
		{name: "user without token", raw: "rediss://celery@" + redisHost + ":6379/0", wantErr: "broker URL has no AUTH token"},
		{name: "database not a number", raw: "rediss://:" + token + "@" + redisHost + ":6379/celery", wantErr: `broker URL's path "/celery" is not a database number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBrokerURL(tt.raw)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), token)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Printing or logging a BrokerURL by mistake shows where it points, not the token.
func TestBrokerURLNeverShowsToken(t *testing.T) {
	u, err := ParseBrokerURL(brokerURL)
	require.NoError(t, err)
	want := "rediss://" + redisHost + ":6379/0"
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.Equal(t, want, fmt.Sprintf(format, u), format)
	}
	assert.Equal(t, "{"+want+"}", fmt.Sprintf("%v", struct{ U BrokerURL }{u}))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("dial", "broker", u, "ptr", &u)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("dial", "broker", u)
	assert.NotContains(t, logs.String(), token)
	assert.Contains(t, logs.String(), `"broker":"`+want+`"`)
}

// The function's TLS settings: the system roots (nil RootCAs), the server's name checked, no
// way around Go's verification.
func TestTLSConfigVerifies(t *testing.T) {
	cfg := TLSConfig(redisHost)
	assert.False(t, cfg.InsecureSkipVerify)
	assert.Equal(t, redisHost, cfg.ServerName)
	assert.Nil(t, cfg.RootCAs, "nil RootCAs is the system roots")
	assert.Nil(t, cfg.VerifyPeerCertificate)
	assert.Nil(t, cfg.VerifyConnection)
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
}
