package testserver

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Redis is a running redis-server that accepts only TLS connections at Host:Port, and only with
// Password (requirepass), like an ElastiCache replication group with in-transit encryption and
// an AUTH token.
type Redis struct {
	Host     string
	Port     int
	Password string
	CA       *CA
	Version  string // what redis-server --version printed
	proc     *process
}

// StartRedis starts redis-server (from PATH) in a new temporary directory, without persistence,
// requiring password.
func StartRedis(password string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (%v)", err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %v", bin, err)
	}
	o := owner{uid: os.Geteuid(), gid: os.Getegid()} // Redis runs as root too
	dir, err := o.tempDir("redis")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Redis, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	ca, err := NewCA()
	if err != nil {
		return fail(err)
	}
	caFile, certFile, keyFile, err := ca.writeTLSFiles(o, dir)
	if err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	r := &Redis{Host: Host, Port: port, Password: password, CA: ca, Version: strings.TrimSpace(string(out))}
	// The password goes through a config file, not the command line, where ps would show it.
	conf := strings.Join([]string{
		"bind 127.0.0.1", "port 0", "tls-port " + strconv.Itoa(port),
		"tls-cert-file " + certFile, "tls-key-file " + keyFile, "tls-ca-cert-file " + caFile,
		"tls-auth-clients no", "requirepass " + r.Password,
		`save ""`, "appendonly no", "dir " + dir, "daemonize no",
	}, "\n") + "\n"
	confPath := filepath.Join(dir, "redis.conf")
	if err := o.writeFile(confPath, []byte(conf)); err != nil {
		return fail(err)
	}
	proc, err := startProcess(o.command(logFile, bin, confPath), dir)
	if err != nil {
		return fail(err)
	}
	r.proc = proc
	err = proc.waitReady("redis-server", logPath, func() error {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: r.TLSConfig()}
		c, err := d.Dial("tcp", r.Addr())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		proc.stop()
		return nil, err
	}
	return r, nil
}

// Addr is Host:Port.
func (r *Redis) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// TLSConfig verifies the server against the run's CA and Host.
func (r *Redis) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: r.CA.Pool, ServerName: r.Host, MinVersion: tls.VersionTLS12}
}

// Stop shuts the server down and removes its directory. A nil server is left alone.
func (r *Redis) Stop() {
	if r != nil {
		r.proc.stop()
	}
}
