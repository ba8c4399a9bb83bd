package queuedepth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// defaultRedisPort is the port of a rediss:// URL that names none.
const defaultRedisPort = 6379

// BrokerURL is Celery's broker URL, parsed: rediss://[user]:<token>@host[:port][/db]. Its
// String, GoString and LogValue leave the token out, so that printing or logging one by mistake
// does not leak it.
type BrokerURL struct {
	Host     string
	Port     int
	Username string // empty for an ElastiCache AUTH token (AUTH <token>)
	Password string
	DB       int
}

// Addr is host:port.
func (u BrokerURL) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// String is the URL without its credentials.
func (u BrokerURL) String() string { return fmt.Sprintf("rediss://%s/%d", u.Addr(), u.DB) }

// GoString is String, so that %#v does not print the token either.
func (u BrokerURL) GoString() string { return u.String() }

// LogValue is String, for slog.
func (u BrokerURL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// ParseBrokerURL parses the broker secret's value. Its errors never quote the value: they say
// which part is wrong (net/url's own errors quote the whole URL, token included, so they are not
// wrapped). Only rediss:// is accepted, and it must carry a token: the cache requires TLS and
// AUTH, and a URL without either points somewhere else. The URL's ssl_cert_reqs is not read: the
// server's certificate is always verified (see TLSConfig).
func ParseBrokerURL(raw string) (BrokerURL, error) {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "{") {
		return BrokerURL{}, errors.New("broker secret holds JSON; want the plain rediss:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return BrokerURL{}, errors.New("broker URL cannot be parsed as a URL")
	}
	if u.Scheme != "rediss" {
		return BrokerURL{}, fmt.Errorf("broker URL has scheme %q; want rediss (Redis over TLS)", u.Scheme)
	}
	b := BrokerURL{Host: u.Hostname(), Port: defaultRedisPort}
	if b.Host == "" {
		return BrokerURL{}, errors.New("broker URL has no host")
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return BrokerURL{}, errors.New("broker URL's port is not a port number")
		}
		b.Port = port
	}
	if u.User != nil {
		b.Username = u.User.Username()
		b.Password, _ = u.User.Password()
	}
	if b.Password == "" {
		return BrokerURL{}, errors.New("broker URL has no AUTH token (want rediss://:<token>@host:port/db)")
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return BrokerURL{}, fmt.Errorf("broker URL's path %q is not a database number", u.Path)
		}
		b.DB = n
	}
	return b, nil
}

// TLSConfig is how the function reaches Redis: the server's chain must lead to one of the system
// roots (ElastiCache's in-transit certificates are issued by Amazon's public CA) and its
// certificate must name host. Nothing in it skips or replaces Go's own verification.
func TLSConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

// Celery's Redis transport (kombu) keeps each queue as a Redis list named after the queue, LPUSHes
// messages and BRPOPs them, so the oldest waiting message is the list's rightmost element. A
// message whose priority maps to a step other than 0 goes to the list "<queue>\x06\x16<step>",
// with kombu's default steps 0, 3, 6 and 9 (step 0 is the plain list). Workers pop all of them.
const prioritySep = "\x06\x16"

// priorityLists are the suffixes of a queue's lists under kombu's default priority steps.
var priorityLists = []string{"", prioritySep + "3", prioritySep + "6", prioritySep + "9"}

// queueKeys are the Redis lists that hold queue's waiting messages.
func queueKeys(queue string) []string {
	keys := make([]string, len(priorityLists))
	for i, suffix := range priorityLists {
		keys[i] = queue + suffix
	}
	return keys
}
