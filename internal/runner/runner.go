// Package runner runs the embedded Ansible playbooks: one ansible-playbook
// process per Terraform operation, whose steps are the playbook's plays
// (tagged with their names). The inventory and variables, secrets included,
// go to files of mode 0600 in a private temporary directory passed with -i
// and -e @file, never on the command line, and the directory is removed
// afterwards. Events stream from a JSON callback plugin shipped in the bundle.
package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bundle "github.com/erawan-cluster/terraform-provider-erawan/ansible"
)

// MinVersion is the oldest supported ansible-core.
const MinVersion = "2.14"

// Endpoint is an SSH login used by Ansible's OpenSSH connections.
type Endpoint struct {
	Host           string // only for the bastion
	User           string
	Port           int
	PrivateKey     string // key text; written to a 0600 file for the run
	PrivateKeyFile string
}

// SSH holds the settings shared with the provider's Go SSH layer, so both
// reach hosts the same way with strict host-key checking.
type SSH struct {
	Endpoint
	KnownHostsFile string
	Bastion        *Endpoint
}

// Host is one inventory host: the member name and its address.
type Host struct {
	Name    string
	Address string
	Groups  []string
}

// Job describes one playbook run.
type Job struct {
	Playbook  string   // file name in the bundle, for example "patroni_create.yml"
	Hosts     []Host   // inventory
	Vars      any      // extra variables, secrets included: a struct with JSON tags (the playbook's declared inputs)
	Secrets   []string // values redacted from every event and error
	SkipSteps []string // steps already completed (resume)
}

// Event is one line of the callback plugin's output.
type Event struct {
	Event   string `json:"event"` // step_start, task_start, result, stats, no_hosts
	Step    string `json:"step"`
	Task    string `json:"task"`
	Host    string `json:"host"`
	Status  string `json:"status"` // ok, changed, failed, unreachable, skipped, ignored
	Changed bool   `json:"changed"`
	Msg     string `json:"msg"`
	Stdout  string `json:"stdout"`
	Stderr  string `json:"stderr"`
	RC      *int   `json:"rc"`
}

// Failure names where a run failed and the redacted tail of that task's output.
type Failure struct {
	Step   string
	Host   string
	Task   string
	Output string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("step %q failed on host %s, task %q:\n%s", f.Step, f.Host, f.Task, f.Output)
}

// Result tells which steps completed, in order, the step that was running
// when the run ended, and the failure if any.
type Result struct {
	Completed []string
	Running   string
	Failure   *Failure
}

// Runner runs playbooks with one ansible-playbook binary and SSH settings.
type Runner struct {
	Binary string // path or name on PATH; default "ansible-playbook"
	SSH    SSH
	// OnEvent receives every event (already redacted), for tflog.
	OnEvent func(Event)
}

var versionRE = regexp.MustCompile(`(?m)^ansible-playbook (?:\[core )?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

// ParseVersion extracts major.minor.patch from `ansible-playbook --version`.
func ParseVersion(out string) (major, minor, patch int, err error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("cannot read a version from %q", firstLine(out))
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		patch, _ = strconv.Atoi(m[3])
	}
	return major, minor, patch, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Preflight checks that the ansible-playbook binary exists and is
// ansible-core 2.14 or newer, and returns its version.
func (r *Runner) Preflight(ctx context.Context) (string, error) {
	bin := r.binary()
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("ansible-playbook not found (%q): install ansible-core %s or newer "+
			"(Debian/Ubuntu: apt-get install ansible-core; elsewhere: pipx install ansible-core), "+
			"or set the provider's ansible_playbook attribute / ERAWAN_ANSIBLE_PLAYBOOK to its path", bin, MinVersion)
	}
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version failed: %v: %s", path, err, firstLine(string(out)))
	}
	major, minor, patch, err := ParseVersion(string(out))
	if err != nil {
		return "", err
	}
	v := fmt.Sprintf("%d.%d.%d", major, minor, patch)
	if major < 2 || (major == 2 && minor < 14) {
		return v, fmt.Errorf("%s is ansible %s; ansible-core %s or newer is required: upgrade it "+
			"(apt-get install ansible-core on Debian 12+, or pipx install ansible-core)", path, v, MinVersion)
	}
	return v, nil
}

func (r *Runner) binary() string {
	if r.Binary == "" {
		return "ansible-playbook"
	}
	return r.Binary
}

// Run runs one playbook to the end, or until ctx is cancelled, in which case
// the whole process group (ansible-playbook and its ssh children) is killed.
func (r *Runner) Run(ctx context.Context, run Job) (Result, error) {
	red := NewRedactor(run.Secrets...)
	dir, err := os.MkdirTemp("", "erawan-ansible-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return Result{}, err
	}
	bdir := filepath.Join(dir, "bundle")
	if err := extract(bdir); err != nil {
		return Result{}, fmt.Errorf("writing the Ansible bundle: %w", err)
	}
	inv, err := r.Inventory(dir, run.Hosts)
	if err != nil {
		return Result{}, err
	}
	invPath := filepath.Join(dir, "inventory.json")
	if err := writePrivate(invPath, inv); err != nil {
		return Result{}, err
	}
	vars, err := json.Marshal(run.Vars)
	if err != nil {
		return Result{}, err
	}
	varsPath := filepath.Join(dir, "vars.json")
	if err := writePrivate(varsPath, vars); err != nil {
		return Result{}, err
	}
	defer r.closeMasters(dir, run.Hosts)

	args := []string{"-i", invPath, "-e", "@" + varsPath}
	if len(run.SkipSteps) > 0 {
		args = append(args, "--skip-tags", strings.Join(run.SkipSteps, ","))
	}
	args = append(args, filepath.Join(bdir, run.Playbook))
	cmd := exec.Command(r.binary(), args...)
	cmd.Dir = bdir
	cmd.Env = append(os.Environ(),
		"ANSIBLE_CONFIG="+filepath.Join(bdir, "ansible.cfg"),
		"ANSIBLE_HOME="+filepath.Join(dir, "home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"PYTHONUNBUFFERED=1",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	var stderr tailBuffer
	stderr.max = 16 << 10
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting ansible-playbook: %w", err)
	}
	stopKill := make(chan struct{})
	var killed bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			killed = true
			// Negative pid: the whole process group, ssh children included.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-stopKill:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		case <-stopKill:
		}
	}()

	res, parseErr := r.consume(stdout, red)
	waitErr := cmd.Wait()
	close(stopKill)
	wg.Wait()
	if killed {
		return res, fmt.Errorf("ansible-playbook stopped at step %q: %w", lastStep(res), ctx.Err())
	}
	if res.Failure != nil {
		return res, res.Failure
	}
	if waitErr != nil || parseErr != nil {
		tail := red.Redact(stderr.String())
		return res, fmt.Errorf("ansible-playbook %s failed (%v) after steps %v:\n%s", run.Playbook, errors.Join(waitErr, parseErr), res.Completed, tail)
	}
	return res, nil
}

func lastStep(r Result) string {
	if r.Failure != nil {
		return r.Failure.Step
	}
	return r.Running
}

// consume reads callback events and tracks which steps completed: a step is
// complete when the next one starts (or the run ends) without a failure.
func (r *Runner) consume(rd io.Reader, red *Redactor) (Result, error) {
	var res Result
	current := ""
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev Event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			continue // Ansible prints warnings outside the callback; ignore them here.
		}
		ev.Msg, ev.Stdout, ev.Stderr = red.Redact(ev.Msg), red.Redact(ev.Stdout), red.Redact(ev.Stderr)
		if r.OnEvent != nil {
			r.OnEvent(ev)
		}
		switch ev.Event {
		case "step_start":
			if current != "" && res.Failure == nil && !contains(res.Completed, current) {
				res.Completed = append(res.Completed, current)
			}
			current = ev.Step
			res.Running = current
		case "result":
			if (ev.Status == "failed" || ev.Status == "unreachable") && res.Failure == nil {
				res.Failure = &Failure{Step: ev.Step, Host: ev.Host, Task: ev.Task, Output: failureOutput(ev)}
			}
		case "stats":
			if current != "" && res.Failure == nil && !contains(res.Completed, current) {
				res.Completed = append(res.Completed, current)
			}
			res.Running = ""
		}
	}
	return res, sc.Err()
}

func failureOutput(ev Event) string {
	var b strings.Builder
	if ev.Status == "unreachable" {
		b.WriteString("host unreachable over SSH\n")
	}
	if ev.RC != nil {
		fmt.Fprintf(&b, "exit code %d\n", *ev.RC)
	}
	for _, part := range []struct{ name, text string }{{"msg", ev.Msg}, {"stderr", ev.Stderr}, {"stdout", ev.Stdout}} {
		if t := strings.TrimSpace(part.text); t != "" {
			fmt.Fprintf(&b, "%s: %s\n", part.name, tailLines(t, 20))
		}
	}
	return strings.TrimSpace(b.String())
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Inventory renders the YAML/JSON inventory. Key text is written to a 0600
// file inside dir; SSH options pin the known_hosts file with strict checking.
func (r *Runner) Inventory(dir string, hosts []Host) ([]byte, error) {
	s := r.SSH
	user := s.User
	if user == "" {
		user = "root"
	}
	port := s.Port
	if port == 0 {
		port = 22
	}
	keyFile, err := keyPath(dir, "id_target", s.Endpoint)
	if err != nil {
		return nil, err
	}
	opts := []string{
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile,
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
		if b.User == "" {
			b.User = user
		}
		if b.Port == 0 {
			b.Port = 22
		}
		bkey, err := keyPath(dir, "id_bastion", b)
		if err != nil {
			return nil, err
		}
		if bkey == "" {
			bkey = keyFile
		}
		proxy := fmt.Sprintf("ssh -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -p %d", s.KnownHostsFile, b.Port)
		if bkey != "" {
			proxy += " -i " + bkey + " -o IdentitiesOnly=yes"
		}
		proxy += fmt.Sprintf(" -W %%h:%%p %s@%s", b.User, b.Host)
		opts = append(opts, "-o", "ProxyCommand="+proxy)
	}
	all := map[string]any{
		"ansible_user":            user,
		"ansible_port":            port,
		"ansible_ssh_common_args": shellJoin(opts),
		"ansible_become":          user != "root",
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

func keyPath(dir, name string, e Endpoint) (string, error) {
	if e.PrivateKey != "" {
		p := filepath.Join(dir, name)
		key := e.PrivateKey
		if !strings.HasSuffix(key, "\n") {
			key += "\n"
		}
		return p, writePrivate(p, []byte(key))
	}
	if e.PrivateKeyFile != "" {
		return expandHome(e.PrivateKeyFile), nil
	}
	return "", nil // ssh-agent
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"%") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

// closeMasters ends the OpenSSH control masters of the run, which would
// otherwise outlive it by ControlPersist.
func (r *Runner) closeMasters(dir string, hosts []Host) {
	matches, _ := filepath.Glob(filepath.Join(dir, "cp-*"))
	for _, m := range matches {
		_ = exec.Command("ssh", "-o", "ControlPath="+m, "-O", "exit", "erawan-control-master").Run()
	}
}

func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func extract(dst string) error {
	return fs.WalkDir(bundle.Bundle, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, p)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := bundle.Bundle.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}

// Redactor replaces secrets in text.
type Redactor struct{ secrets []string }

// NewRedactor returns a Redactor for the non-empty secrets given.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// Redact returns s with every secret replaced by "<redacted>".
func (r *Redactor) Redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	return s
}

type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > t.max {
		b := t.buf.Bytes()[t.buf.Len()-t.max:]
		nb := make([]byte, len(b))
		copy(nb, b)
		t.buf.Reset()
		t.buf.Write(nb)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
