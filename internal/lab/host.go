package lab

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

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

	return hostPub, boot(o, h)
}

// boot starts systemd-nspawn on the host's prepared root and records its pid.
func boot(o *Options, h Host) error {
	dir := hostDir(o, h.Name)
	console, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command("systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", filepath.Join(dir, "root"), "-M", o.MachinePrefix+h.Name, "-b",
		"--network-bridge="+o.Bridge)
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("systemd-nspawn: %w", err)
	}
	o.logf("booting %s (%s, %s), pid %d", h.Name, h.Address, h.Image, cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// containerInit returns the host-side pid of the container's init, the
// only child of its systemd-nspawn.
func containerInit(nspawn int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("systemd-nspawn %d has %d children, want its container's init alone", nspawn, len(f))
	}
	return strconv.Atoi(f[0])
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
