package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A user's ANSIBLE_* settings never reach ansible-playbook: the provider's
// pinned ones do, and so do the variables it needs (PATH, SSH_AUTH_SOCK).
func TestRunEnvironmentIsAnAllowlist(t *testing.T) {
	t.Setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
	t.Setenv("ANSIBLE_SSH_ARGS", "-o StrictHostKeyChecking=no")
	t.Setenv("ANSIBLE_KEEP_REMOTE_FILES", "1")
	t.Setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
	t.Setenv("SOME_SECRET_TOKEN", "x")
	dir := t.TempDir()
	record := filepath.Join(dir, "env")
	bin := filepath.Join(dir, "ansible-playbook")
	mustWrite(t, bin, "#!/bin/sh\nenv > "+record+"\n", 0o700)
	r := Runner{Binary: bin}
	if _, err := r.Run(context.Background(), Job{Playbook: "x.yml"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	env := "\n" + string(b)
	for _, want := range []string{"\nANSIBLE_HOST_KEY_CHECKING=True\n", "\nANSIBLE_KEEP_REMOTE_FILES=False\n", "\nANSIBLE_STDOUT_CALLBACK=erawan_json\n", "\nSSH_AUTH_SOCK=/tmp/agent.sock\n", "\nPATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q", strings.TrimSpace(want))
		}
	}
	for _, bad := range []string{"ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_SSH_ARGS", "SOME_SECRET_TOKEN"} {
		if strings.Contains(env, bad) {
			t.Errorf("environment has %q", bad)
		}
	}
}

// Run directories of dead provider processes go at the next start; those of
// live ones, and directories not named by a pid, stay.
func TestStaleRunDirsRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(p, "bundle"), 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := mk(runDirPrefix + strconv.Itoa(dead.Process.Pid) + "-123")
	live := mk(runDirPrefix + strconv.Itoa(os.Getppid()) + "-456")
	mine := mk(runDirPrefix + strconv.Itoa(os.Getpid()) + "-789")
	old := mk(runDirPrefix + "4242424242")
	removeStaleRunDirs()
	for p, want := range map[string]bool{gone: false, live: true, mine: true, old: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
