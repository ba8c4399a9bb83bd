package queuedepth

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCA is a certificate authority of the test's own, which the system roots do not hold.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "queuedepth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf is a server certificate for name, signed by the CA.
func (ca *testCA) leaf(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// respServer is Redis over TLS on the loopback: it records every command and answers with what
// handle returns (raw RESP), or with nothing when handle returns "".
type respServer struct {
	ln     net.Listener
	handle func(cmd []string) string
	mu     sync.Mutex
	cmds   [][]string
	wg     sync.WaitGroup
}

func newRESPServer(t *testing.T, cert tls.Certificate, handle func(cmd []string) string) *respServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	s := &respServer{ln: ln, handle: handle}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *respServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			for {
				cmd, err := readCommand(r)
				if err != nil {
					return
				}
				s.mu.Lock()
				s.cmds = append(s.cmds, cmd)
				s.mu.Unlock()
				if out := s.handle(cmd); out != "" {
					if _, err := io.WriteString(c, out); err != nil {
						return
					}
				}
			}
		}()
	}
}

func (s *respServer) commands() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.cmds...)
}

// url is the server as a broker URL on "localhost" (the name the leaf certificates carry).
func (s *respServer) url(t *testing.T, username, password string, db int) BrokerURL {
	_, p, err := net.SplitHostPort(s.ln.Addr().String())
	require.NoError(t, err)
	port, err := strconv.Atoi(p)
	require.NoError(t, err)
	return BrokerURL{Host: "localhost", Port: port, Username: username, Password: password, DB: db}
}

// readCommand reads a RESP array of bulk strings, as clients send commands.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	cmd := make([]string, n)
	for i := range cmd {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		cmd[i] = string(buf[:size])
	}
	return cmd, nil
}

func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// redisLists answers like Redis holding lists (rightmost element last) and password.
func redisLists(password string, lists map[string][]string) func([]string) string {
	authed := false
	return func(cmd []string) string {
		switch strings.ToUpper(cmd[0]) {
		case "AUTH":
			if cmd[len(cmd)-1] != password {
				return "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
			}
			authed = true
			return "+OK\r\n"
		}
		if !authed {
			return "-NOAUTH Authentication required.\r\n"
		}
		switch strings.ToUpper(cmd[0]) {
		case "SELECT":
			return "+OK\r\n"
		case "LLEN":
			return ":" + strconv.Itoa(len(lists[cmd[1]])) + "\r\n"
		case "LINDEX":
			l := lists[cmd[1]]
			if cmd[2] != "-1" || len(l) == 0 {
				return "$-1\r\n"
			}
			return bulk(l[len(l)-1])
		}
		return "-ERR unknown command '" + cmd[0] + "'\r\n"
	}
}

// The session the function has with ElastiCache: AUTH with the token, then LLEN and LINDEX -1
// for every list in one round trip; the lengths and the oldest messages come back in order.
func TestRedisSession(t *testing.T) {
	ca := newTestCA(t)
	oldest := message(unixAgo(60))
	srv := newRESPServer(t, ca.leaf(t, "localhost"), redisLists(token, map[string][]string{
		"celery":          {message(unixAgo(1)), message(unixAgo(2)), oldest},
		"celery\x06\x163": {"x"},
	}))
	u := srv.url(t, "", token, 0)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool // the test's CA in place of the system roots; verification otherwise as deployed
	c, err := dialRedis(context.Background(), u, cfg)
	require.NoError(t, err)
	tails, err := c.Tails(context.Background(), []string{"celery", "celery\x06\x163", "celery\x06\x166", "emails"})
	require.NoError(t, err)
	require.NoError(t, c.Close())

	assert.Equal(t, []ListTail{
		{Len: 3, Oldest: []byte(oldest)},
		{Len: 1, Oldest: []byte("x")},
		{Len: 0},
		{Len: 0},
	}, tails)
	assert.Equal(t, [][]string{
		{"AUTH", token},
		{"LLEN", "celery"}, {"LINDEX", "celery", "-1"},
		{"LLEN", "celery\x06\x163"}, {"LINDEX", "celery\x06\x163", "-1"},
		{"LLEN", "celery\x06\x166"}, {"LINDEX", "celery\x06\x166", "-1"},
		{"LLEN", "emails"}, {"LINDEX", "emails", "-1"},
	}, srv.commands())
}

// A user name (ElastiCache RBAC) goes with AUTH, and a database other than 0 is selected.
func TestRedisSessionUserAndDatabase(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), redisLists(token, nil))
	u := srv.url(t, "celery", token, 2)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool
	c, err := dialRedis(context.Background(), u, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, [][]string{{"AUTH", "celery", token}, {"SELECT", "2"}}, srv.commands())
}

// DialRedis, as deployed, trusts the system roots only: a server whose certificate chains to
// another CA is refused during the handshake, before the token is sent.
func TestDialRedisRefusesUntrustedCertificate(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), redisLists(token, nil))
	_, err := DialRedis(context.Background(), srv.url(t, "", token, 0))
	require.Error(t, err)
	var unknown x509.UnknownAuthorityError
	assert.True(t, errors.As(err, &unknown), "want an unknown-authority error, got %v", err)
	assert.Contains(t, err.Error(), "connect to Redis at localhost:")
	assert.NotContains(t, err.Error(), token)
	assert.Empty(t, srv.commands(), "nothing, and so no AUTH, reached the server")
}

// A trusted certificate for another name is refused too.
func TestDialRedisRefusesWrongName(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "other.cache.amazonaws.com"), redisLists(token, nil))
	u := srv.url(t, "", token, 0)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool
	_, err := dialRedis(context.Background(), u, cfg)
	var wrongName x509.HostnameError
	require.True(t, errors.As(err, &wrongName), "want a hostname error, got %v", err)
	assert.Empty(t, srv.commands())
}

// A refused AUTH is an error naming the server's reason, with the token scrubbed even where the
// server quotes it.
func TestRedisAuthRefusedScrubsToken(t *testing.T) {
	ca := newTestCA(t)
	for name, answer := range map[string]string{
		"wrong password": "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
		"quoted token":   "-ERR unknown command 'AUTH', with args beginning with: '" + token + "'\r\n",
		"not OK":         "+QUEUED\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := newRESPServer(t, ca.leaf(t, "localhost"), func([]string) string { return answer })
			u := srv.url(t, "", token, 0)
			cfg := TLSConfig(u.Host)
			cfg.RootCAs = ca.pool
			_, err := dialRedis(context.Background(), u, cfg)
			require.ErrorContains(t, err, "AUTH refused by Redis at localhost:")
			assert.NotContains(t, err.Error(), token)
		})
	}
}

// A queue key holding something else than a list is an error naming the key.
func TestRedisWrongType(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), func(cmd []string) string {
		if cmd[0] == "AUTH" {
			return "+OK\r\n"
		}
		return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	})
	u := srv.url(t, "", token, 0)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool
	c, err := dialRedis(context.Background(), u, cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Tails(context.Background(), []string{"celery"})
	require.ErrorContains(t, err, `LLEN "celery" on Redis at localhost:`)
	assert.ErrorContains(t, err, "WRONGTYPE")
}

// A message larger than the function reads is skipped on the wire: the replies after it are
// still read correctly.
func TestRedisSkipsLargeMessage(t *testing.T) {
	ca := newTestCA(t)
	large := strings.Repeat("a", maxMessage+1)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), redisLists(token, map[string][]string{
		"celery": {large},
		"emails": {"small"},
	}))
	u := srv.url(t, "", token, 0)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool
	c, err := dialRedis(context.Background(), u, cfg)
	require.NoError(t, err)
	defer c.Close()
	tails, err := c.Tails(context.Background(), []string{"celery", "emails"})
	require.NoError(t, err)
	assert.Equal(t, []ListTail{{Len: 1, OldestTooLarge: true}, {Len: 1, Oldest: []byte("small")}}, tails)
}

// A server that accepts but never answers fails the session at the invocation's deadline.
func TestRedisDeadline(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), func([]string) string { return "" })
	u := srv.url(t, "", token, 0)
	cfg := TLSConfig(u.Host)
	cfg.RootCAs = ca.pool
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := dialRedis(ctx, u, cfg)
	require.ErrorContains(t, err, "read AUTH reply from Redis at localhost:")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		in      string
		want    reply
		wantErr string
	}{
		{in: "+OK\r\n", want: reply{kind: '+', text: "OK"}},
		{in: "-ERR no\r\n", want: reply{kind: '-', text: "ERR no"}},
		{in: ":42\r\n", want: reply{kind: ':', n: 42}},
		{in: "$5\r\nhe\r\no\r\n", want: reply{kind: '$', bulk: []byte("he\r\no")}},
		{in: "$0\r\n\r\n", want: reply{kind: '$', bulk: []byte{}}},
		{in: "$-1\r\n", want: reply{kind: '$'}},
		{in: ":x\r\n", wantErr: `integer reply "x"`},
		{in: "$-2\r\n", wantErr: `bulk length "-2"`},
		{in: "$3\r\nabcd\r\n", wantErr: "bulk string not terminated"},
		{in: "$10\r\nabc", wantErr: "unexpected EOF"},
		{in: "*1\r\n:1\r\n", wantErr: "unexpected reply type '*'"},
		{in: "+OK\n", wantErr: "malformed reply line"},
		{in: "+" + strings.Repeat("x", maxLine) + "\r\n", wantErr: "reply line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 12)], func(t *testing.T) {
			got, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), maxLine))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// End to end over TLS: the broker secret names a Redis that holds Celery's lists; the function
// authenticates, reads them and publishes what they hold. Only the roots differ from the
// deployed function (the test's CA in place of the system roots).
func TestMeasureOverTLS(t *testing.T) {
	ca := newTestCA(t)
	srv := newRESPServer(t, ca.leaf(t, "localhost"), redisLists(token, map[string][]string{
		"celery":          {message(unixAgo(5)), message(unixAgo(6)), message(unixAgo(33))},
		"celery\x06\x166": {message(unixAgo(2))},
		"emails":          {message(unixAgo(7))},
	}))
	u := srv.url(t, "", token, 0)
	fx := newFixture(t, 2)
	fx.sm.values[secretARN] = fmt.Sprintf("rediss://:%s@localhost:%d/0?ssl_cert_reqs=required", token, u.Port)
	fx.m.Dial = func(ctx context.Context, u BrokerURL) (Broker, error) {
		cfg := TLSConfig(u.Host)
		cfg.RootCAs = ca.pool
		c, err := dialRedis(ctx, u, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	res, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []cwtypes.MetricDatum{
		datum("Backlog", 5, count, ""),
		datum("BacklogPerTask", 2.5, count, ""),
		datum("OldestTaskAgeSeconds", 33, seconds, ""),
		datum("Backlog", 4, count, "celery"),
		datum("OldestTaskAgeSeconds", 33, seconds, "celery"),
		datum("Backlog", 1, count, "emails"),
		datum("OldestTaskAgeSeconds", 7, seconds, "emails"),
	}, fx.published(t))
	assert.Equal(t, int64(5), res.Backlog)
	assert.Equal(t, []string{"AUTH", token}, srv.commands()[0])
	assert.Len(t, srv.commands(), 1+2*8, "AUTH, then LLEN and LINDEX for the two queues' four lists")
}
