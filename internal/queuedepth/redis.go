package queuedepth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// This file is a minimal Redis client: RESP2 over TLS, with the commands the function sends
// (AUTH, SELECT, LLEN and LINDEX), pipelined in one round trip. A general client (go-redis) would
// bring connection pools, retries, cluster and sentinel support and RESP3 for a function that
// opens one connection a minute and reads two integers and a string per list; this is the whole
// protocol it needs, and all of it is tested against a TLS server in redis_test.go.

const (
	// dialTimeout bounds the TCP and TLS handshake, so that a missing security-group rule fails
	// with a clear error instead of running into the Lambda timeout.
	dialTimeout = 5 * time.Second
	// sessionTimeout bounds the whole session when the context has no earlier deadline.
	sessionTimeout = 20 * time.Second
	// maxMessage is the largest message LINDEX reads into memory to find its publish time; a
	// larger one is skipped on the wire and its queue's age is reported as unknown.
	maxMessage = 1 << 20
	// maxLine bounds a status, error or length line.
	maxLine = 64 << 10
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

// DialRedis connects to u over TLS verified against the system roots (TLSConfig), sends AUTH,
// and SELECTs u's database when it is not 0. Its errors carry the address, never the token.
func DialRedis(ctx context.Context, u BrokerURL) (Broker, error) {
	c, err := dialRedis(ctx, u, TLSConfig(u.Host))
	if err != nil {
		return nil, err
	}
	return c, nil
}

type redisConn struct {
	conn  net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	addr  string
	token string // only to scrub it from the server's error messages
	stop  func() bool
}

func dialRedis(ctx context.Context, u BrokerURL, cfg *tls.Config) (*redisConn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", u.Addr())
	if err != nil {
		return nil, fmt.Errorf("connect to Redis at %s over TLS: %w", u.Addr(), err)
	}
	deadline := time.Now().Add(sessionTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := nc.SetDeadline(deadline); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", u.Addr(), err)
	}
	c := &redisConn{
		conn:  nc,
		r:     bufio.NewReaderSize(nc, maxLine),
		w:     bufio.NewWriter(nc),
		addr:  u.Addr(),
		token: u.Password,
		// A cancelled invocation unblocks a read or write in progress.
		stop: context.AfterFunc(ctx, func() { nc.Close() }),
	}
	cmds := [][]string{{"AUTH", u.Password}}
	if u.Username != "" {
		cmds[0] = []string{"AUTH", u.Username, u.Password}
	}
	if u.DB != 0 {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(u.DB)})
	}
	replies, err := c.pipeline(cmds)
	if err != nil {
		c.Close()
		return nil, err
	}
	for i, rep := range replies {
		if rep.kind == '+' && rep.text == "OK" {
			continue
		}
		c.Close()
		what := "AUTH"
		if i > 0 {
			what = "SELECT " + strconv.Itoa(u.DB)
		}
		return nil, fmt.Errorf("%s refused by Redis at %s: %s", what, c.addr, c.describe(rep))
	}
	return c, nil
}

// Tails sends LLEN and LINDEX -1 for every key in one pipeline.
func (c *redisConn) Tails(_ context.Context, keys []string) ([]ListTail, error) {
	cmds := make([][]string, 0, 2*len(keys))
	for _, k := range keys {
		cmds = append(cmds, []string{"LLEN", k}, []string{"LINDEX", k, "-1"})
	}
	replies, err := c.pipeline(cmds)
	if err != nil {
		return nil, err
	}
	tails := make([]ListTail, len(keys))
	for i, k := range keys {
		n, idx := replies[2*i], replies[2*i+1]
		if n.kind != ':' {
			return nil, fmt.Errorf("LLEN %q on Redis at %s: %s", k, c.addr, c.describe(n))
		}
		if idx.kind != '$' {
			return nil, fmt.Errorf("LINDEX %q -1 on Redis at %s: %s", k, c.addr, c.describe(idx))
		}
		tails[i] = ListTail{Len: n.n, Oldest: idx.bulk, OldestTooLarge: idx.tooLarge}
	}
	return tails, nil
}

func (c *redisConn) Close() error {
	c.stop()
	return c.conn.Close()
}

// reply is one RESP2 reply of the kinds the commands above receive.
type reply struct {
	kind     byte   // '+' status, '-' error, ':' integer, '$' bulk string
	text     string // status or error
	n        int64  // integer
	bulk     []byte // bulk string; nil for the null bulk string
	tooLarge bool   // a bulk string longer than maxMessage, skipped
}

// describe is an unexpected reply for an error message, with the token scrubbed from what the
// server said (old servers quote the arguments of a command they refuse).
func (c *redisConn) describe(r reply) string {
	switch r.kind {
	case '-':
		if c.token != "" {
			return strings.ReplaceAll(r.text, c.token, "[token]")
		}
		return r.text
	case '+':
		return fmt.Sprintf("unexpected status reply %q", r.text)
	case ':':
		return "unexpected integer reply"
	}
	return "unexpected bulk reply"
}

// pipeline writes every command, then reads one reply for each.
func (c *redisConn) pipeline(cmds [][]string) ([]reply, error) {
	for _, cmd := range cmds {
		writeCommand(c.w, cmd)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("write to Redis at %s: %w", c.addr, err)
	}
	replies := make([]reply, len(cmds))
	for i := range cmds {
		rep, err := readReply(c.r)
		if err != nil {
			return nil, fmt.Errorf("read %s reply from Redis at %s: %w", cmds[i][0], c.addr, err)
		}
		replies[i] = rep
	}
	return replies, nil
}

// writeCommand encodes cmd as a RESP array of bulk strings; bufio.Writer keeps the first error
// for Flush.
func writeCommand(w *bufio.Writer, cmd []string) {
	w.WriteString("*" + strconv.Itoa(len(cmd)) + "\r\n")
	for _, arg := range cmd {
		w.WriteString("$" + strconv.Itoa(len(arg)) + "\r\n")
		w.WriteString(arg)
		w.WriteString("\r\n")
	}
}

var errProtocol = errors.New("protocol error from Redis")

func readReply(r *bufio.Reader) (reply, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return reply{}, fmt.Errorf("%w: reply line longer than %d bytes", errProtocol, maxLine)
	case err != nil:
		return reply{}, err
	case len(line) < 3 || line[len(line)-2] != '\r':
		return reply{}, fmt.Errorf("%w: malformed reply line", errProtocol)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+', '-':
		return reply{kind: kind, text: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return reply{}, fmt.Errorf("%w: integer reply %q", errProtocol, body)
		}
		return reply{kind: kind, n: n}, nil
	case '$':
		n, err := strconv.ParseInt(body, 10, 64)
		switch {
		case err != nil || n < -1:
			return reply{}, fmt.Errorf("%w: bulk length %q", errProtocol, body)
		case n == -1:
			return reply{kind: kind}, nil
		case n > maxMessage:
			if _, err := io.CopyN(io.Discard, r, n+2); err != nil {
				return reply{}, err
			}
			return reply{kind: kind, tooLarge: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return reply{}, err
		}
		if !bytes.HasSuffix(buf, []byte("\r\n")) {
			return reply{}, fmt.Errorf("%w: bulk string not terminated", errProtocol)
		}
		return reply{kind: kind, bulk: buf[:n:n]}, nil
	}
	return reply{}, fmt.Errorf("%w: unexpected reply type %q", errProtocol, kind)
}
