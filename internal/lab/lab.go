// Package lab boots the project's test hosts: full Debian systems under
// systemd-nspawn, each in its own network namespace on a private bridge that
// the lab creates (10.231.0.0/24 by default), reachable over SSH with a key
// the lab generates and host keys it records before boot, so every test runs
// with strict host-key checking. It only ever uses addresses on its bridge.
package lab

import (
	"bufio"
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
	"strconv"
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
// the cache key, so changing it builds a new root.
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo", "iproute2", "procps",
	"postgresql", "patroni", "etcd-server", "etcd-client", "haproxy", "curl", "ca-certificates",
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
	f := &File{SSHUser: "root", SSHPrivateKeyFile: keyFile, KnownHostsFile: knownHosts}
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

func hostDir(o *Options, name string) string { return filepath.Join(o.Dir, "hosts", name) }

// running returns the pid of the host's systemd-nspawn if it is alive.
func running(o *Options, name string) int {
	b, err := os.ReadFile(filepath.Join(hostDir(o, name), "pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "systemd-nspawn") || !strings.Contains(string(cmdline), "\x00"+o.MachinePrefix+name+"\x00") {
		return 0
	}
	return pid
}

// ensureHost prepares and boots one host unless it is already running, and
// returns its host public key in authorized_keys format.
func ensureHost(ctx context.Context, o *Options, base string, h Host, clientPub string) (string, error) {
	dir := hostDir(o, h.Name)
	merged := filepath.Join(dir, "root")
	if running(o, h.Name) > 0 {
		img, _ := os.ReadFile(filepath.Join(dir, "image"))
		if strings.TrimSpace(string(img)) != h.Image {
			return "", fmt.Errorf("already running with image %q, not %q: run make lab-down first", strings.TrimSpace(string(img)), h.Image)
		}
		b, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
		return string(b), err
	}
	// A host that is not running starts from a fresh copy of the base.
	unmountRoot(merged)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", base, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		o.logf("%s: overlay mount failed (%v); copying the base root instead", h.Name, err)
		if err := run(ctx, o.Log, "cp", "-a", base+"/.", merged); err != nil {
			return "", err
		}
	}
	if err := ownDataDirs(ctx, o, base, merged); err != nil {
		return "", err
	}
	hostPub, err := writeIdentity(merged, h, o, clientPub)
	if err != nil {
		return "", err
	}
	_ = os.WriteFile(filepath.Join(dir, "host_key.pub"), []byte(hostPub), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "image"), []byte(h.Image+"\n"), 0o644)

	console, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer console.Close()
	cmd := exec.Command("systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", merged, "-M", o.MachinePrefix+h.Name, "-b",
		"--network-bridge="+o.Bridge)
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("systemd-nspawn: %w", err)
	}
	o.logf("booting %s (%s, %s), pid %d", h.Name, h.Address, h.Image, cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return "", err
	}
	return hostPub, cmd.Process.Release()
}

// ownDataDirs gives a host its own copy of data directories whose
// subdirectories the server renames (MySQL's clone renames #innodb_redo):
// overlayfs refuses to rename a directory that lives in the lower layer, so
// the directory is removed from the merged view and copied back, which puts
// it and everything in it in the host's own upper layer.
func ownDataDirs(ctx context.Context, o *Options, base, merged string) error {
	for _, d := range []string{"var/lib/mysql"} {
		if _, err := os.Stat(filepath.Join(base, d)); err != nil {
			continue
		}
		if err := os.RemoveAll(filepath.Join(merged, d)); err != nil {
			return err
		}
		if err := run(ctx, o.Log, "cp", "-a", filepath.Join(base, d), filepath.Join(merged, d)); err != nil {
			return err
		}
	}
	return nil
}

// writeIdentity gives a host its name, address, machine id, SSH host key and
// the lab's client key.
func writeIdentity(root string, h Host, o *Options, clientPub string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	blk, err := ssh.MarshalPrivateKey(priv, "root@"+h.Name)
	if err != nil {
		return "", err
	}
	sp, _ := ssh.NewPublicKey(pub)
	hostPub := string(ssh.MarshalAuthorizedKey(sp))
	mid := make([]byte, 16)
	_, _ = rand.Read(mid)
	files := []struct {
		path string
		mode os.FileMode
		data string
	}{
		{"etc/hostname", 0o644, h.Name + "\n"},
		{"etc/hosts", 0o644, fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", h.Address, h.Name)},
		{"etc/machine-id", 0o444, hex.EncodeToString(mid) + "\n"},
		{"etc/ssh/ssh_host_ed25519_key", 0o600, string(pem.EncodeToMemory(blk))},
		{"etc/ssh/ssh_host_ed25519_key.pub", 0o644, hostPub},
		{"etc/ssh/sshd_config.d/10-erawan-lab.conf", 0o644, "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nUseDNS no\n"},
		{"etc/systemd/network/10-host0.network", 0o644, fmt.Sprintf("[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nGateway=%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n", h.Address, BridgeAddress(o.Prefix))},
		{"root/.ssh/authorized_keys", 0o600, clientPub},
	}
	// A MySQL data directory initialised in the base root carries one
	// server_uuid (auto.cnf) for every host; mysqld makes a new one at start
	// when the file is missing, as on a freshly installed machine.
	os.Remove(filepath.Join(root, "var/lib/mysql/auto.cnf"))
	if err := os.MkdirAll(filepath.Join(root, "root/.ssh"), 0o700); err != nil {
		return "", err
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		os.Remove(p)
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return "", err
		}
	}
	return hostPub, nil
}

func waitSSH(ctx context.Context, o *Options, f *File) error {
	key, err := os.ReadFile(f.SSHPrivateKeyFile)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, h := range f.Hosts {
		pubText, err := os.ReadFile(filepath.Join(hostDir(o, h.Name), "host_key.pub"))
		if err != nil {
			return err
		}
		hostKey, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
		if err != nil {
			return err
		}
		cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 3 * time.Second}
		for {
			state, err := probe(h.Address, cfg)
			if err == nil && (state == "running" || state == "degraded") {
				if state == "degraded" {
					o.logf("%s is up but degraded", h.Name)
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s (%s) did not come up in time: state %q, %v; see %s", h.Name, h.Address, state, err,
					filepath.Join(hostDir(o, h.Name), "console.log"))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func probe(addr string, cfg *ssh.ClientConfig) (string, error) {
	c, err := ssh.Dial("tcp", net.JoinHostPort(addr, "22"), cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, _ := s.Output("systemctl is-system-running --wait")
	return strings.TrimSpace(string(out)), nil
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

func unmountRoot(path string) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return
	}
	defer f.Close()
	abs, _ := filepath.Abs(path)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[1] == abs {
			_ = syscall.Unmount(abs, syscall.MNT_DETACH)
			return
		}
	}
}
