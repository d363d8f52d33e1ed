// Package lab boots the project's test hosts: full Debian systems under
// systemd-nspawn, each in its own network namespace on a private bridge that
// the lab creates (10.231.0.0/24 by default), reachable over SSH with a key
// the lab generates and host keys it records before boot, so every test runs
// with strict host-key checking. It only ever uses addresses on its bridge.
package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Host is one lab host as written to lab.json.
type Host struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Image   string `json:"image"`
}

// File is the shape of .lab/lab.json, which tests and the demo read.
type File struct {
	SSHUser           string `json:"ssh_user"`
	SSHPrivateKeyFile string `json:"ssh_private_key_file"`
	KnownHostsFile    string `json:"known_hosts_file"`
	Hosts             []Host `json:"hosts"`
	// Bridge and MachinePrefix are those the lab was booted with, so a test
	// can power a host off and on again (PowerOff, PowerOn).
	Bridge        string `json:"bridge"`
	MachinePrefix string `json:"machine_prefix,omitempty"`

	dir string // where lab.json was read from (Load)
}

// Load reads a lab.json file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	f.dir, _ = filepath.Abs(filepath.Dir(path))
	return &f, nil
}

// Options configure the lab. Zero values take the defaults noted.
type Options struct {
	Nodes int    // number of hosts, node1..nodeN (default 4)
	Suite string // Debian suite of the hosts (default "trixie")
	// MySQLNodes is the number of MySQL hosts, mysql1..mysqlN (default 0),
	// at <prefix>.31 upwards, booted from a Debian sid root with MySQL 9.7
	// (mysql-server, mysql-router) and listed with image "mysql".
	MySQLNodes int
	Dir        string // state directory, normally <repo>/.lab
	CacheDir   string // where base roots are cached (default /var/cache/erawan-lab)
	Bridge     string // bridge name (default "erawan0")
	Prefix     string // first three octets of the lab /24 (default "10.231.0")
	// MachinePrefix prefixes the systemd-nspawn machine names (and so the
	// host-side veth names, vb-<machine>) so two labs can run side by side.
	MachinePrefix string
	Log           io.Writer
}

// Packages is the list of Debian packages in every base root. It is part of
// the cache key, so changing it builds a new root. pgbackrest serves the
// Patroni clusters' backups (#10) and keepalived the proxy tier's floating
// address (#13); neither starts by itself (keepalived's unit needs a
// keepalived.conf, which the package does not ship).
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo", "iproute2", "procps",
	"postgresql", "patroni", "etcd-server", "etcd-client", "haproxy", "curl", "ca-certificates",
	"pgbackrest", "keepalived",
}

// MySQLSuite is the Debian suite of the MySQL hosts: only sid packages MySQL
// (9.7, with the group_replication and clone plugins); bookworm and trixie
// carry MariaDB alone.
const MySQLSuite = "sid"

// MySQLPackages is the package list of the MySQL hosts' base root.
var MySQLPackages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo", "iproute2", "procps",
	"mysql-server", "mysql-client", "mysql-router", "curl", "ca-certificates",
}

// MySQLImage is the image name of MySQL hosts in lab.json.
const MySQLImage = "mysql"

// MySQLHostAddress returns the address of MySQL host i (1-based): <prefix>.(30+i).
func MySQLHostAddress(prefix string, i int) string { return fmt.Sprintf("%s.%d", prefix, 30+i) }

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 4
	}
	if o.Suite == "" {
		o.Suite = "trixie"
	}
	if o.CacheDir == "" {
		o.CacheDir = "/var/cache/erawan-lab"
	}
	if o.Bridge == "" {
		o.Bridge = "erawan0"
	}
	if o.Prefix == "" {
		o.Prefix = "10.231.0"
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
}

// checkPrefix accepts only the first three octets of a private /24, so the
// lab never claims addresses outside private space.
func checkPrefix(p string) error {
	ip := net.ParseIP(p + ".0")
	if ip == nil || ip.To4() == nil || !ip.IsPrivate() {
		return fmt.Errorf("LAB_PREFIX %q must be the first three octets of a private IPv4 /24, like 10.231.0", p)
	}
	return nil
}

// HostAddress returns the address of host i (1-based): <prefix>.(10+i).
func HostAddress(prefix string, i int) string { return fmt.Sprintf("%s.%d", prefix, 10+i) }

// BridgeAddress is the bridge's own address: <prefix>.1.
func BridgeAddress(prefix string) string { return prefix + ".1" }

// CacheKey names a cached base root: suite and a hash of the package list.
func CacheKey(suite string, packages []string) string {
	h := sha256.Sum256([]byte(suite + "\n" + strings.Join(packages, ",")))
	return suite + "-" + hex.EncodeToString(h[:6])
}

func (o *Options) logf(format string, args ...any) { fmt.Fprintf(o.Log, "lab: "+format+"\n", args...) }

// Up boots the lab, idempotently: hosts already running are left alone.
func Up(ctx context.Context, o Options) (*File, error) {
	o.defaults()
	if o.Nodes < 1 || o.Nodes > 19 {
		return nil, fmt.Errorf("LAB_NODES must be 1..19, got %d", o.Nodes)
	}
	if o.MySQLNodes < 0 || o.MySQLNodes > 9 {
		return nil, fmt.Errorf("LAB_MYSQL_NODES must be 0..9, got %d", o.MySQLNodes)
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	base, err := ensureBase(ctx, &o, o.Suite, Packages)
	if err != nil {
		return nil, err
	}
	var mysqlBase string
	if o.MySQLNodes > 0 {
		if mysqlBase, err = ensureBase(ctx, &o, MySQLSuite, MySQLPackages); err != nil {
			return nil, err
		}
	}
	keyFile := filepath.Join(o.Dir, "id_ed25519")
	pub, err := ensureClientKey(keyFile)
	if err != nil {
		return nil, err
	}
	if err := ensureBridge(&o); err != nil {
		return nil, err
	}
	knownHosts := filepath.Join(o.Dir, "known_hosts")
	var lines []string
	f := &File{SSHUser: "root", SSHPrivateKeyFile: keyFile, KnownHostsFile: knownHosts, Bridge: o.Bridge, MachinePrefix: o.MachinePrefix, dir: o.Dir}
	type planned struct {
		host Host
		base string
	}
	var hosts []planned
	for i := 1; i <= o.Nodes; i++ {
		hosts = append(hosts, planned{Host{Name: fmt.Sprintf("node%d", i), Address: HostAddress(o.Prefix, i), Image: o.Suite}, base})
	}
	for i := 1; i <= o.MySQLNodes; i++ {
		hosts = append(hosts, planned{Host{Name: fmt.Sprintf("mysql%d", i), Address: MySQLHostAddress(o.Prefix, i), Image: MySQLImage}, mysqlBase})
	}
	for _, p := range hosts {
		h := p.host
		hostPub, err := ensureHost(ctx, &o, p.base, h, pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		lines = append(lines, fmt.Sprintf("%s %s", h.Address, strings.TrimSpace(hostPub)))
		f.Hosts = append(f.Hosts, h)
	}
	if err := os.WriteFile(knownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := waitSSH(ctx, &o, f); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Dir, "lab.json"), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	o.logf("%d host(s) up; wrote %s", len(f.Hosts), filepath.Join(o.Dir, "lab.json"))
	return f, nil
}

// ensureBase builds (once) and returns the cached base root for a suite and
// package list.
func ensureBase(ctx context.Context, o *Options, suite string, packages []string) (string, error) {
	dir := filepath.Join(o.CacheDir, CacheKey(suite, packages))
	root := filepath.Join(dir, "root")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return root, nil
	}
	o.logf("building the %s base root in %s (debootstrap, a few minutes, once)", suite, root)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := root + ".tmp"
	_ = os.RemoveAll(tmp)
	args := []string{"--variant=minbase", "--include=" + strings.Join(packages, ","), suite, tmp, "http://deb.debian.org/debian"}
	if err := run(ctx, o.Log, "debootstrap", args...); err != nil {
		return "", fmt.Errorf("debootstrap: %w", err)
	}
	// Per-host identity is written at boot; the base holds none.
	for _, g := range []string{"etc/ssh/ssh_host_*", "etc/machine-id"} {
		matches, _ := filepath.Glob(filepath.Join(tmp, g))
		for _, m := range matches {
			os.Remove(m)
		}
	}
	if err := run(ctx, o.Log, "chroot", tmp, "systemctl", "enable", "systemd-networkd"); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", err
	}
	return root, os.WriteFile(filepath.Join(dir, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

func run(ctx context.Context, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run()
}

func ensureClientKey(path string) (string, error) {
	if b, err := os.ReadFile(path + ".pub"); err == nil {
		return string(b), nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	blk, err := ssh.MarshalPrivateKey(priv, "erawan-lab")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return "", err
	}
	sp, _ := ssh.NewPublicKey(pub)
	line := string(ssh.MarshalAuthorizedKey(sp))
	return line, os.WriteFile(path+".pub", []byte(line), 0o644)
}

func ensureBridge(o *Options) error {
	if _, err := net.InterfaceByName(o.Bridge); err == nil {
		return nil
	}
	o.logf("creating bridge %s with %s/24", o.Bridge, BridgeAddress(o.Prefix))
	for _, args := range [][]string{
		{"link", "add", o.Bridge, "type", "bridge"},
		{"addr", "add", BridgeAddress(o.Prefix) + "/24", "dev", o.Bridge},
		{"link", "set", o.Bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Down stops every lab host, removes their roots and the bridge.
func Down(o Options) error {
	o.defaults()
	entries, _ := os.ReadDir(filepath.Join(o.Dir, "hosts"))
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if pid := running(&o, name); pid > 0 {
			o.logf("stopping %s (pid %d)", name, pid)
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 60 && running(&o, name) > 0; i++ {
				time.Sleep(500 * time.Millisecond)
			}
			if running(&o, name) > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				time.Sleep(time.Second)
			}
		}
		unmountRoot(filepath.Join(hostDir(&o, name), "root"))
		if err := os.RemoveAll(hostDir(&o, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := net.InterfaceByName(o.Bridge); err == nil {
		if out, err := exec.Command("ip", "link", "del", o.Bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", o.Bridge, err, out))
		}
	}
	os.Remove(filepath.Join(o.Dir, "lab.json"))
	return errors.Join(errs...)
}
