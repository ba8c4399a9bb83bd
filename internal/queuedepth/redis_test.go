package queuedepth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// rs is the package's redis-server, started once for all its tests (TestMain), with TLS and
// requirepass token, like the cache; rsErr says why it is missing, for testserver.Require.
var (
	rs    *testserver.Redis
	rsErr error
)

func TestMain(m *testing.M) {
	rs, rsErr = testserver.StartRedis(token)
	code := m.Run()
	rs.Stop()
	os.Exit(code)
}

// broker is the server as one test sees it: emptied first, filled as kombu fills it, and
// dialled by the Measurer through dial, which records what it was asked and checks that every
// session is closed.
type broker struct {
	t      *testing.T
	admin  *redis.Client
	dialed []BrokerURL
	asked  [][]string
	open   int
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	testserver.Require(t, rsErr)
	admin := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: rs.Password, TLSConfig: rs.TLSConfig(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = admin.Close() })
	require.NoError(t, admin.FlushAll(context.Background()).Err())
	return &broker{t: t, admin: admin}
}

// url is the server as a broker URL, with password and database db.
func (b *broker) url(password string, db int) BrokerURL {
	return BrokerURL{Host: rs.Host, Port: rs.Port, Password: password, DB: db}
}

// secret is the broker secret's value for the server, as the program writes it.
func (b *broker) secret() string {
	return fmt.Sprintf("rediss://:%s@%s:%d/0?ssl_cert_reqs=required", token, rs.Host, rs.Port)
}

// push does what kombu's LPUSH does: messages go in at the left, the first pushed is the oldest.
func (b *broker) push(key string, msgs ...string) {
	b.t.Helper()
	for _, m := range msgs {
		require.NoError(b.t, b.admin.LPush(context.Background(), key, m).Err())
	}
}

// set replaces the element at index (0 is the newest) of the list key.
func (b *broker) set(key string, index int64, value string) {
	b.t.Helper()
	require.NoError(b.t, b.admin.LSet(context.Background(), key, index, value).Err())
}

// dial is the Measurer's Dial: the deployed dialer with the test CA in place of the system roots.
func (b *broker) dial(ctx context.Context, u BrokerURL) (Broker, error) {
	b.dialed = append(b.dialed, u)
	c, err := dialRedis(ctx, u, testTLS(u.Host))
	if err != nil {
		return nil, err
	}
	b.open++
	return &recordingBroker{Broker: c, b: b}, nil
}

// testTLS is TLSConfig with the test CA as the only root; verification is otherwise as deployed.
func testTLS(host string) *tls.Config {
	cfg := TLSConfig(host)
	cfg.RootCAs = rs.CA.Pool
	return cfg
}

type recordingBroker struct {
	Broker
	b      *broker
	closed bool
}

func (r *recordingBroker) Tails(ctx context.Context, keys []string) ([]ListTail, error) {
	r.b.asked = append(r.b.asked, keys)
	return r.Broker.Tails(ctx, keys)
}

func (r *recordingBroker) Close() error {
	if !r.closed {
		r.closed = true
		r.b.open--
	}
	return r.Broker.Close()
}

// The session the function has with the cache: it authenticates with the token and reads each
// list's length and oldest message; a missing key is an empty list.
func TestRedisSession(t *testing.T) {
	b := newBroker(t)
	oldest := message(unixAgo(60))
	b.push("celery", oldest, message(unixAgo(2)), message(unixAgo(1)))
	b.push("celery\x06\x163", "x")
	c, err := dialRedis(context.Background(), b.url(token, 0), testTLS(rs.Host))
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
}

// A user name (ElastiCache RBAC) goes with AUTH, and a database other than 0 is selected.
func TestRedisSessionUserAndDatabase(t *testing.T) {
	b := newBroker(t)
	require.NoError(t, b.admin.Do(context.Background(), "ACL", "SETUSER", "celery", "on", ">celery-"+token, "~*", "+@all").Err())
	t.Cleanup(func() { _ = b.admin.Do(context.Background(), "ACL", "DELUSER", "celery").Err() })
	require.NoError(t, b.admin.Do(context.Background(), "SELECT", 2).Err()) // the admin client's one connection
	db2 := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: token, DB: 2, TLSConfig: rs.TLSConfig(), Protocol: 2, DisableIdentity: true})
	defer db2.Close()
	require.NoError(t, db2.LPush(context.Background(), "celery", "in-db-2").Err())

	u := b.url("celery-"+token, 2)
	u.Username = "celery"
	c, err := dialRedis(context.Background(), u, testTLS(rs.Host))
	require.NoError(t, err)
	defer c.Close()
	tails, err := c.Tails(context.Background(), []string{"celery"})
	require.NoError(t, err)
	assert.Equal(t, []ListTail{{Len: 1, Oldest: []byte("in-db-2")}}, tails)
}

// DialRedis, as deployed, trusts the system roots only: a server whose certificate chains to
// another CA is refused during the handshake, before the token is sent.
func TestDialRedisRefusesUntrustedCertificate(t *testing.T) {
	b := newBroker(t)
	_, err := DialRedis(context.Background(), b.url(token, 0))
	require.Error(t, err)
	var unknown x509.UnknownAuthorityError
	assert.True(t, errors.As(err, &unknown), "want an unknown-authority error, got %v", err)
	assert.Contains(t, err.Error(), "connect to Redis at localhost:")
	assert.NotContains(t, err.Error(), token)
}

// A trusted certificate for another name is refused too (the server's names "localhost" only).
func TestDialRedisRefusesWrongName(t *testing.T) {
	b := newBroker(t)
	u := b.url(token, 0)
	u.Host = "127.0.0.1"
	_, err := dialRedis(context.Background(), u, testTLS(u.Host))
	var wrongName x509.HostnameError
	require.True(t, errors.As(err, &wrongName), "want a hostname error, got %v", err)
}

// A refused AUTH is an error naming the server's reason, without the token.
func TestRedisAuthRefused(t *testing.T) {
	b := newBroker(t)
	_, err := dialRedis(context.Background(), b.url("not-"+token, 0), testTLS(rs.Host))
	require.ErrorContains(t, err, "AUTH refused by Redis at localhost:")
	assert.ErrorContains(t, err, "WRONGPASS")
	assert.NotContains(t, err.Error(), token)
}

// Where an error quotes the token (old servers quote the arguments of a command they refuse),
// it is scrubbed; other errors keep their chain.
func TestScrubToken(t *testing.T) {
	b := &redisBroker{token: token}
	err := b.scrub(fmt.Errorf("AUTH refused: ERR unknown command 'AUTH', with args beginning with: '%s'", token))
	assert.Equal(t, "AUTH refused: ERR unknown command 'AUTH', with args beginning with: '[token]'", err.Error())
	inner := &net.OpError{Op: "dial", Err: errors.New("refused")}
	var op *net.OpError
	assert.True(t, errors.As(b.scrub(fmt.Errorf("connect: %w", inner)), &op))
}

// A queue key holding something else than a list is an error naming the key.
func TestRedisWrongType(t *testing.T) {
	b := newBroker(t)
	require.NoError(t, b.admin.Set(context.Background(), "celery\x06\x163", "x", 0).Err())
	c, err := dialRedis(context.Background(), b.url(token, 0), testTLS(rs.Host))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Tails(context.Background(), []string{"celery", "celery\x06\x163"})
	require.ErrorContains(t, err, `key "celery\x06\x163" on Redis at localhost:`)
	assert.ErrorContains(t, err, "holds a string, not a list")
}

// A message larger than the function reads never leaves Redis: its list's length is still
// read, and so are the lists after it.
func TestRedisSkipsLargeMessage(t *testing.T) {
	b := newBroker(t)
	b.push("celery", strings.Repeat("a", maxMessage+1), "newer")
	b.push("emails", strings.Repeat("b", maxMessage))
	c, err := dialRedis(context.Background(), b.url(token, 0), testTLS(rs.Host))
	require.NoError(t, err)
	defer c.Close()
	tails, err := c.Tails(context.Background(), []string{"celery", "emails"})
	require.NoError(t, err)
	assert.Equal(t, []ListTail{{Len: 2, OldestTooLarge: true}, {Len: 1, Oldest: []byte(strings.Repeat("b", maxMessage))}}, tails)
}

// A server that accepts but never answers fails the session at the invocation's deadline.
func TestRedisDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // held open, silent, until the test ends
		}
	}()
	defer func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	}()
	u := BrokerURL{Host: "localhost", Port: ln.Addr().(*net.TCPAddr).Port, Password: token}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = dialRedis(ctx, u, TLSConfig(u.Host))
	require.ErrorContains(t, err, "connect to Redis at localhost:")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// The function measures as the read-only user the program creates (ReaderUser with ReaderACL),
// on the real server: the measurement works, and a write as that user is refused.
func TestMeasuresAsTheReadOnlyUser(t *testing.T) {
	fx := newFixture(t, 3)
	ctx := context.Background()
	rules := append([]any{"ACL", "SETUSER", ReaderUser, "reset", ">reader-Passw0rd-0123456789"}, splitACL(ReaderACL)...)
	require.NoError(t, fx.redis.admin.Do(ctx, rules...).Err())
	t.Cleanup(func() { _ = fx.redis.admin.Do(ctx, "ACL", "DELUSER", ReaderUser).Err() })
	fx.redis.push("celery", message(unixAgo(30)), message(unixAgo(10)))
	fx.sm.values[secretARN] = fmt.Sprintf("rediss://%s:%s@%s:%d/0?ssl_cert_reqs=required", ReaderUser, "reader-Passw0rd-0123456789", rs.Host, rs.Port)
	_, err := fx.m.Handle(ctx)
	require.NoError(t, err)
	assert.Contains(t, fx.published(t), datum("Backlog", 2, count, "celery"))

	reader := redis.NewClient(&redis.Options{Addr: rs.Addr(), Username: ReaderUser, Password: "reader-Passw0rd-0123456789",
		TLSConfig: testTLS(rs.Host), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = reader.Close() })
	for _, cmd := range [][]any{{"SET", "x", "1"}, {"DEL", "celery"}, {"LPOP", "celery"}, {"KEYS", "*"}, {"CONFIG", "GET", "*"},
		{"EVAL", "return redis.call('DEL', KEYS[1])", "1", "celery"}} {
		err := reader.Do(ctx, cmd...).Err()
		require.Error(t, err, "%v as %s", cmd, ReaderUser)
		// NOPERM for a command; from a script, Redis's "can't run this command".
		assert.Regexp(t, `NOPERM|can't run this command`, err.Error(), "%v as %s", cmd, ReaderUser)
	}
}

func splitACL(acl string) []any {
	var out []any
	for _, r := range strings.Fields(acl) {
		out = append(out, r)
	}
	return out
}
