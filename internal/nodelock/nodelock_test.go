package nodelock

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The lock script runs here through a local sh, the same program the
// nodes run over SSH (only the session transport differs).
type shellLock struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startScript(t *testing.T, dir, key string, h Holder) (*shellLock, []string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script, "erawan-lock", key, dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rec, _ := json.Marshal(h)
	_, _ = stdin.Write(append(rec, '\n'))
	r := bufio.NewReader(stdout)
	first, _ := r.ReadString('\n')
	if strings.TrimSpace(first) == "LOCKED" {
		return &shellLock{cmd: cmd, stdin: stdin, out: r}, []string{"LOCKED"}, -1
	}
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return nil, append([]string{strings.TrimSpace(first)}, strings.Split(strings.TrimSpace(string(rest)), "\n")...), code
}

func TestScriptExcludesNamesHolderAndFreesOnEnd(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock (util-linux) not installed")
	}
	dir := filepath.Join(t.TempDir(), "locks")
	a := Holder{ControlHost: "ci-1", PID: 11, Operation: "update", ResourceID: "orders-1", Started: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	b := Holder{ControlHost: "ci-2", PID: 22, Operation: "update", ResourceID: "orders-1"}

	held, _, _ := startScript(t, dir, "patroni-orders", a)
	if held == nil {
		t.Fatal("the first run did not get the free lock")
	}
	if st, err := os.Stat(filepath.Join(dir, "patroni-orders.holder")); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("holder record: %v %v (want 0600-like)", st, err)
	}
	_, out, code := startScript(t, dir, "patroni-orders", b)
	if code != 75 || out[0] != "BUSY" || len(out) < 2 {
		t.Fatalf("second run while held: exit %d, output %q", code, out)
	}
	var got Holder
	if err := json.Unmarshal([]byte(out[1]), &got); err != nil || got != a {
		t.Fatalf("the contender read holder %+v (%v), want %+v", got, err, a)
	}
	if s, _, _ := startScript(t, dir, "patroni-other", b); s == nil {
		t.Fatal("another key is locked by the first key's holder")
	}

	// Release: the holder's stdin closes (its SSH session ends).
	_ = held.stdin.Close()
	if err := held.cmd.Wait(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "patroni-orders.holder")); !os.IsNotExist(err) {
		t.Fatalf("the holder record outlived the lock: %v", err)
	}
	again, _, _ := startScript(t, dir, "patroni-orders", b)
	if again == nil {
		t.Fatal("the lock stayed held after release")
	}

	// kill -9 of the holding shell frees it too, and the stale record left
	// behind blocks no one.
	_ = again.cmd.Process.Signal(syscall.SIGKILL)
	_ = again.cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "patroni-orders.holder")); err != nil {
		t.Fatalf("expected the killed holder's record to be left behind: %v", err)
	}
	if s, _, _ := startScript(t, dir, "patroni-orders", a); s == nil {
		t.Fatal("a killed holder's lock was not freed")
	}
}

func TestScriptQuotable(t *testing.T) {
	// The script travels inside single quotes in the remote command.
	if strings.Contains(script, "'") {
		t.Fatal("the lock script contains a single quote")
	}
}

func TestHeldErrorNamesHolder(t *testing.T) {
	h := Holder{ControlHost: "ci-1", PID: 11, ParentPID: 10, Operation: "update", ResourceID: "orders-1", Started: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	msg := (&HeldError{Host: "10.0.0.1", Key: "patroni-orders", Holder: &h, Waited: 5 * time.Second}).Error()
	for _, want := range []string{"10.0.0.1", "patroni-orders", "update of orders-1", "process 11", "ci-1", "2026-12-02T10:00:00Z", "5s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if _, err := Acquire(t.Context(), nil, Options{Key: "../etc"}); err == nil {
		t.Error("a key with a path in it was accepted")
	}
}

// The keys the resources build are accepted: every engine's cluster names
// (MySQL's keep their case) and the proxy-host key; paths and options are not.
func TestKeys(t *testing.T) {
	for _, k := range []string{"mysql-accCluster", "mysql-Prod_DB-1", "patroni-orders_1", "patroni-a", "haproxy"} {
		if !keyRE.MatchString(k) {
			t.Errorf("key %q refused", k)
		}
	}
	for _, k := range []string{"", "-x", "../etc", "a/b", "a b", strings.Repeat("a", 129)} {
		if keyRE.MatchString(k) {
			t.Errorf("key %q accepted", k)
		}
	}
}
