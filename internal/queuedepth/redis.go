package queuedepth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// dialTimeout bounds the TCP and TLS handshake, so that a missing security-group rule fails
	// with a clear error instead of running into the Lambda timeout.
	dialTimeout = 5 * time.Second
	// sessionTimeout bounds the whole session when the context has no earlier deadline.
	sessionTimeout = 20 * time.Second
	// maxMessage is the largest message the function reads to find its publish time; a larger
	// one never leaves Redis (see tailsScript) and its queue's age is reported as unknown.
	maxMessage = 1 << 20
)

// ListTail is what the function reads of one Redis list: its length and its rightmost element,
// which for a Celery queue is the oldest waiting message.
type ListTail struct {
	Len int64
	// Oldest is the rightmost element, nil when the list is empty or the element is larger than
	// the function reads (OldestTooLarge).
	Oldest         []byte
	OldestTooLarge bool
}

// Broker is a session with Celery's broker.
type Broker interface {
	// Tails returns, for each key in order, the list's length and rightmost element. A key that
	// does not exist is an empty list.
	Tails(ctx context.Context, keys []string) ([]ListTail, error)
	Close() error
}

// Dial opens an authenticated session with the broker. DialRedis implements it.
type Dial func(ctx context.Context, u BrokerURL) (Broker, error)

// DialRedis connects to u over TLS verified against the system roots (TLSConfig), authenticates
// and selects u's database. Its errors carry the address, never the token.
func DialRedis(ctx context.Context, u BrokerURL) (Broker, error) {
	b, err := dialRedis(ctx, u, TLSConfig(u.Host))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// redisBroker is one go-redis connection: a pool of one, no retries (the next invocation, a
// minute later, is the retry), RESP2, and no CLIENT SETINFO (nothing the function needs).
type redisBroker struct {
	client   *redis.Client
	addr     string
	token    string    // only to scrub it from errors
	deadline time.Time // of the whole session
}

func dialRedis(ctx context.Context, u BrokerURL, cfg *tls.Config) (*redisBroker, error) {
	deadline := time.Now().Add(sessionTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	b := &redisBroker{
		client: redis.NewClient(&redis.Options{
			Addr: u.Addr(), Username: u.Username, Password: u.Password, DB: u.DB,
			// go-redis's own TLS dialer ignores the context: this one ends the handshake at the
			// session's deadline too, not only after dialTimeout.
			Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
				d := tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: cfg}
				return d.DialContext(ctx, network, addr)
			},
			// Reads and writes end at the context's deadline, which every call sets to the
			// session's (ContextTimeoutEnabled); without it go-redis would use its own timeouts.
			ContextTimeoutEnabled: true,
			PoolSize:              1,
			MaxRetries:            -1,
			Protocol:              2,
			DisableIdentity:       true,
		}),
		addr:     u.Addr(),
		token:    u.Password,
		deadline: deadline,
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// go-redis connects on the first command: PING makes the handshake and AUTH happen here.
	if err := b.client.Ping(ctx).Err(); err != nil {
		_ = b.client.Close()
		var refused redis.Error
		if errors.As(err, &refused) {
			return nil, b.scrub(fmt.Errorf("AUTH refused by Redis at %s: %w", b.addr, err))
		}
		return nil, b.scrub(fmt.Errorf("connect to Redis at %s over TLS: %w", b.addr, err))
	}
	return b, nil
}

// tailsScript reads, for every key, the list's length and its rightmost element, in one round
// trip and one consistent view. An element longer than ARGV[1] bytes is not returned, only its
// length: a Celery message can be as large as its task's arguments, and go-redis, like any
// client, reads a reply whole into memory, so a size cap on what the function reads can only be
// applied in Redis itself, before the reply is sent. A key that is not a list yields -1 and its
// type, so the error can name it.
const tailsScript = `
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'list' and kind ~= 'none' then
    out[i] = {-1, kind}
  else
    local n = redis.call('LLEN', key)
    local tail = redis.call('LINDEX', key, -1)
    if not tail then
      out[i] = {n}
    elseif #tail > tonumber(ARGV[1]) then
      out[i] = {n, #tail}
    else
      out[i] = {n, tail}
    end
  end
end
return out`

// Tails runs tailsScript on keys.
func (b *redisBroker) Tails(ctx context.Context, keys []string) ([]ListTail, error) {
	ctx, cancel := context.WithDeadline(ctx, b.deadline)
	defer cancel()
	replies, err := b.client.Eval(ctx, tailsScript, keys, maxMessage).Slice()
	if err != nil {
		return nil, b.scrub(fmt.Errorf("read %d lists on Redis at %s: %w", len(keys), b.addr, err))
	}
	if len(replies) != len(keys) {
		return nil, fmt.Errorf("redis at %s answered %d lists of %d", b.addr, len(replies), len(keys))
	}
	tails := make([]ListTail, len(keys))
	for i, key := range keys {
		tail, err := listTail(replies[i])
		if err != nil {
			return nil, fmt.Errorf("key %q on Redis at %s: %w", key, b.addr, err)
		}
		tails[i] = tail
	}
	return tails, nil
}

// listTail decodes one key's reply of tailsScript.
func listTail(reply any) (ListTail, error) {
	r, ok := reply.([]any)
	if !ok || len(r) == 0 || len(r) > 2 {
		return ListTail{}, fmt.Errorf("unexpected reply %T", reply)
	}
	n, ok := r[0].(int64)
	if !ok {
		return ListTail{}, fmt.Errorf("unexpected length %T", r[0])
	}
	if n < 0 {
		return ListTail{}, fmt.Errorf("holds a %v, not a list", r[1])
	}
	if len(r) == 1 {
		return ListTail{Len: n}, nil
	}
	switch tail := r[1].(type) {
	case string:
		return ListTail{Len: n, Oldest: []byte(tail)}, nil
	case int64:
		return ListTail{Len: n, OldestTooLarge: true}, nil
	}
	return ListTail{}, fmt.Errorf("unexpected element %T", r[1])
}

func (b *redisBroker) Close() error {
	return b.client.Close()
}

// scrub replaces the token wherever an error quotes it (old servers quote the arguments of a
// command they refuse). An error that does not quote it keeps its chain, for errors.As.
func (b *redisBroker) scrub(err error) error {
	if b.token == "" || !strings.Contains(err.Error(), b.token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), b.token, "[token]"))
}
