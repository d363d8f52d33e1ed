package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// mustWrite writes data to path with perm, failing the test on error.
func mustWrite(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

// fakePlaybook writes a stand-in for ansible-playbook that records its
// arguments and the modes of its -i/-e files, then prints callback events.
func fakePlaybook(t *testing.T, events string) (bin, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	bin = filepath.Join(dir, "ansible-playbook")
	script := `#!/bin/sh
if [ "$1" = "--version" ]; then echo "ansible-playbook [core 2.16.3]"; exit 0; fi
echo "ARGS $*" > ` + record + `
inv=""; vars=""
while [ $# -gt 0 ]; do
  case "$1" in
    -i) inv="$2"; shift;;
    -e) vars="${2#@}"; shift;;
  esac
  shift
done
echo "INVMODE $(stat -c %a "$inv")" >> ` + record + `
echo "VARSMODE $(stat -c %a "$vars")" >> ` + record + `
echo "DIRMODE $(stat -c %a "$(dirname "$vars")")" >> ` + record + `
echo "VARS $(cat "$vars")" >> ` + record + `
echo "INV $(cat "$inv" | tr -d '\n')" >> ` + record + `
cat <<'EVENTS'
` + events + `
EVENTS
grep -q '"status": "failed"' <<'EVENTS' && exit 2
` + events + `
EVENTS
exit 0
`
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

const secret = "S3cretPassw0rdXYZ"

// fakeKeyText looks like key text to the runner; it is not a key. Built from
// parts so that secret scanners do not flag this file.
var fakeKeyText = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nnot-a-key\n-----END " + "OPENSSH PRIVATE KEY-----"

func TestRunSecretsOnlyInPrivateFilesAndRedactedFailure(t *testing.T) {
	events := `{"event": "step_start", "step": "preflight"}
{"event": "task_start", "step": "preflight", "task": "Check Patroni"}
{"event": "result", "status": "ok", "step": "preflight", "task": "Check Patroni", "host": "pg1"}
{"event": "step_start", "step": "etcd"}
{"event": "result", "status": "failed", "step": "etcd", "task": "Start etcd", "host": "pg2", "msg": "password S3cretPassw0rdXYZ rejected", "stderr": "line1\nS3cretPassw0rdXYZ again", "rc": 1}
{"event": "stats", "hosts": {}}`
	bin, record := fakePlaybook(t, events)
	r := &Runner{Binary: bin, SSH: sshclient.Settings{Endpoint: sshclient.Endpoint{User: "root", PrivateKey: fakeKeyText}, KnownHostsFile: "/kh"}}
	var seen []Event
	r.OnEvent = func(e Event) { seen = append(seen, e) }
	res, err := r.Run(context.Background(), Job{
		Playbook: "patroni_create.yml",
		Hosts:    []Host{{Name: "pg1", Address: "10.0.0.1", Groups: []string{"erawan_members"}}, {Name: "pg2", Address: "10.0.0.2", Groups: []string{"erawan_members"}}},
		Vars:     map[string]any{"erawan_passwords": map[string]string{"superuser": secret}},
		Secrets:  []string{secret},
	})
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *Failure, got %v", err)
	}
	if f.Step != "etcd" || f.Host != "pg2" || f.Task != "Start etcd" {
		t.Fatalf("failure names step %q host %q task %q", f.Step, f.Host, f.Task)
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(f.Output, "<redacted>") || !strings.Contains(f.Output, "exit code 1") {
		t.Fatalf("failure output not redacted or incomplete:\n%s", f.Output)
	}
	for _, e := range seen {
		if strings.Contains(e.Msg+e.Stderr+e.Stdout, secret) {
			t.Fatalf("event leaks the secret: %+v", e)
		}
	}
	if len(res.Completed) != 1 || res.Completed[0] != "preflight" {
		t.Fatalf("completed %v, want [preflight]", res.Completed)
	}
	rec, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(string(rec), "\n") {
		k, v, _ := strings.Cut(l, " ")
		lines[k] = v
	}
	if strings.Contains(lines["ARGS"], secret) {
		t.Fatalf("secret on the command line: %s", lines["ARGS"])
	}
	if lines["INVMODE"] != "600" || lines["VARSMODE"] != "600" || lines["DIRMODE"] != "700" {
		t.Fatalf("modes: inventory %s vars %s dir %s; want 600 600 700", lines["INVMODE"], lines["VARSMODE"], lines["DIRMODE"])
	}
	if !strings.Contains(lines["VARS"], secret) {
		t.Fatalf("the vars file should carry the secret to Ansible: %s", lines["VARS"])
	}
	if strings.Contains(lines["INV"], "BEGIN OPENSSH") || !strings.Contains(lines["INV"], "StrictHostKeyChecking=yes") {
		t.Fatalf("inventory must reference a key file, not key text, and pin strict host keys: %s", lines["INV"])
	}
	// The private directory, with the key file and the vars, is gone.
	var inv struct {
		All struct {
			Vars map[string]any `json:"vars"`
		} `json:"all"`
	}
	_ = json.Unmarshal([]byte(lines["INV"]), &inv)
	kf, _ := inv.All.Vars["ansible_ssh_private_key_file"].(string)
	if kf == "" {
		t.Fatal("no key file in the inventory")
	}
	if _, err := os.Stat(filepath.Dir(kf)); !os.IsNotExist(err) {
		t.Fatalf("the run's private directory %s was left behind", filepath.Dir(kf))
	}
}

func TestRunSuccessCompletesEveryStep(t *testing.T) {
	events := `{"event": "step_start", "step": "preflight"}
{"event": "step_start", "step": "etcd"}
{"event": "no_hosts", "step": "etcd"}
{"event": "step_start", "step": "verify"}
{"event": "stats", "hosts": {}}`
	bin, record := fakePlaybook(t, events)
	r := &Runner{Binary: bin, SSH: sshclient.Settings{KnownHostsFile: "/kh"}}
	res, err := r.Run(context.Background(), Job{Playbook: "x.yml", SkipSteps: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Completed, ",") != "preflight,etcd,verify" {
		t.Fatalf("completed %v", res.Completed)
	}
	rec, _ := os.ReadFile(record)
	if !strings.Contains(string(rec), "--skip-tags a,b") {
		t.Fatalf("resume must skip completed steps: %s", rec)
	}
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string][3]int{
		"ansible-playbook [core 2.14.18]\n  config file = None": {2, 14, 18},
		"ansible-playbook [core 2.17.0rc1]":                     {2, 17, 0},
		"ansible-playbook 2.9.27\n":                             {2, 9, 27},
	} {
		a, b, c, err := ParseVersion(out)
		if err != nil || [3]int{a, b, c} != want {
			t.Errorf("ParseVersion(%q) = %d.%d.%d, %v; want %v", out, a, b, c, err, want)
		}
	}
	if _, _, _, err := ParseVersion("bash: command not found"); err == nil {
		t.Error("want an error for garbage")
	}
}

func TestPreflightRejectsMissingAndOld(t *testing.T) {
	r := &Runner{Binary: "/nonexistent/ansible-playbook"}
	if _, err := r.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), "install ansible-core") {
		t.Fatalf("missing binary: %v", err)
	}
	dir := t.TempDir()
	old := filepath.Join(dir, "ansible-playbook")
	mustWrite(t, old, "#!/bin/sh\necho 'ansible-playbook [core 2.13.4]'\n", 0o700)
	r.Binary = old
	if _, err := r.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), "2.14 or newer") {
		t.Fatalf("old version: %v", err)
	}
	mustWrite(t, old, "#!/bin/sh\necho 'ansible-playbook [core 2.14.0]'\n", 0o700)
	if v, err := r.Preflight(context.Background()); err != nil || v != "2.14.0" {
		t.Fatalf("2.14.0: %q %v", v, err)
	}
}

// Cancelling a run kills ansible-playbook and everything it started (its
// ssh children), not just the direct child.
func TestCancelKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	childPid := filepath.Join(dir, "child.pid")
	bin := filepath.Join(dir, "ansible-playbook")
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + childPid + "\necho '{\"event\": \"step_start\", \"step\": \"preflight\"}'\nwait\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Binary: bin, SSH: sshclient.Settings{KnownHostsFile: "/kh"}}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	r.OnEvent = func(e Event) {
		if e.Event == "step_start" {
			close(started)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, Job{Playbook: "x.yml"})
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the fake playbook did not start")
	}
	b, err := os.ReadFile(childPid)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stopped at step \"preflight\"") {
			t.Fatalf("want a cancellation error naming the step, got %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for i := 0; i < 50; i++ {
		if err := syscall.Kill(pid, 0); err != nil {
			return // the grandchild is gone
		}
		// A zombie still answers kill 0 until reaped; check its state.
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("child process %d of ansible-playbook survived the cancel", pid)
}
