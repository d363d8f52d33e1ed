package runner

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// Host is one inventory host: the member name and its address.
type Host struct {
	Name    string
	Address string
	Groups  []string
}

// Inventory renders the YAML/JSON inventory. Key text is written to a 0600
// file inside dir; SSH options pin the known_hosts file with strict checking.
func (r *Runner) Inventory(dir string, hosts []Host) ([]byte, error) {
	s := r.SSH.WithDefaults()
	keyFile, err := keyPath(dir, "id_target", s.Endpoint)
	if err != nil {
		return nil, err
	}
	opts := []string{
		"-o", "UserKnownHostsFile=" + sshPercent(s.KnownHostsFile),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "IdentitiesOnly=" + strconv.FormatBool(keyFile != ""),
		"-o", "ControlMaster=auto",
		"-o", "ControlPersist=60s",
		"-o", "ControlPath=" + filepath.Join(dir, "cp-%C"),
		"-o", "ConnectTimeout=15",
		"-o", "ServerAliveInterval=15",
	}
	if s.Bastion != nil {
		b := *s.Bastion
		bkey, err := keyPath(dir, "id_bastion", b)
		if err != nil {
			return nil, err
		}
		if bkey == "" {
			bkey = keyFile
		}
		// OpenSSH runs ProxyCommand through the shell after expanding its
		// %-tokens: every value is shell-quoted, with % doubled.
		proxy := []string{"ssh", "-o", "UserKnownHostsFile=" + sshPercent(s.KnownHostsFile), "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "StrictHostKeyChecking=yes", "-p", strconv.Itoa(b.Port)}
		if bkey != "" {
			proxy = append(proxy, "-i", sshPercent(bkey), "-o", "IdentitiesOnly=yes")
		}
		proxy = append(proxy, "-l", sshPercent(b.User), "-W", "%h:%p", "--", sshPercent(b.Host))
		opts = append(opts, "-o", "ProxyCommand="+shellJoin(proxy))
	}
	all := map[string]any{
		"ansible_user":            s.User,
		"ansible_port":            s.Port,
		"ansible_ssh_common_args": shellJoin(opts),
		"ansible_become":          s.Become(),
	}
	if keyFile != "" {
		all["ansible_ssh_private_key_file"] = keyFile
	}
	hostVars := map[string]any{}
	groups := map[string]map[string]any{}
	for _, h := range hosts {
		hostVars[h.Name] = map[string]any{"ansible_host": h.Address}
		for _, g := range h.Groups {
			if groups[g] == nil {
				groups[g] = map[string]any{}
			}
			groups[g][h.Name] = map[string]any{}
		}
	}
	children := map[string]any{}
	for g, hs := range groups {
		children[g] = map[string]any{"hosts": hs}
	}
	inv := map[string]any{"all": map[string]any{"vars": all, "hosts": hostVars, "children": children}}
	return json.MarshalIndent(inv, "", "  ")
}

func keyPath(dir, name string, e sshclient.Endpoint) (string, error) {
	if e.PrivateKey != "" {
		p := filepath.Join(dir, name)
		key := e.PrivateKey
		if !strings.HasSuffix(key, "\n") {
			key += "\n"
		}
		return p, writePrivate(p, []byte(key))
	}
	if e.PrivateKeyFile != "" {
		return sshclient.ExpandHome(e.PrivateKeyFile), nil
	}
	return "", nil // ssh-agent
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

// shellSafe is what a shell (and Python's shlex, which Ansible splits
// ansible_ssh_common_args with) takes literally without quotes.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@,+-]+$`)

// shellQuote quotes a for a POSIX shell: as it is when every character is
// safe, else in single quotes.
func shellQuote(a string) string {
	if shellSafe.MatchString(a) {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// sshPercent escapes % for OpenSSH options that expand %-tokens
// (ProxyCommand, UserKnownHostsFile, IdentityFile).
func sshPercent(v string) string { return strings.ReplaceAll(v, "%", "%%") }

// closeMasters ends the OpenSSH control masters of the run, which would
// otherwise outlive it by ControlPersist.
func (r *Runner) closeMasters(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "cp-*"))
	for _, m := range matches {
		_ = exec.Command("ssh", "-o", "ControlPath="+m, "-O", "exit", "erawan-control-master").Run()
	}
}
