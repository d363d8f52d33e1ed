// Package runner runs the embedded Ansible playbooks: one ansible-playbook
// process per Terraform operation, whose steps are the playbook's plays
// (tagged with their names). The inventory and variables, secrets included,
// go to files of mode 0600 in a private temporary directory passed with -i
// and -e @file, never on the command line, and the directory is removed
// afterwards. Events stream from a JSON callback plugin shipped in the bundle.
package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

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
	// SSH is shared with the provider's Go SSH layer (sshclient.Pool), so
	// both reach hosts the same way with strict host-key checking.
	SSH sshclient.Settings
	// OnEvent receives every event (already redacted), for tflog.
	OnEvent func(Event)
}

// Run runs one playbook to the end, or until ctx is cancelled, in which case
// the whole process group (ansible-playbook and its ssh children) is killed.
func (r *Runner) Run(ctx context.Context, run Job) (Result, error) {
	red := NewRedactor(run.Secrets...)
	dir, err := newRunDir()
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
	defer r.closeMasters(dir)

	args := []string{"-i", invPath, "-e", "@" + varsPath}
	if len(run.SkipSteps) > 0 {
		args = append(args, "--skip-tags", strings.Join(run.SkipSteps, ","))
	}
	args = append(args, filepath.Join(bdir, run.Playbook))
	cmd := exec.Command(r.binary(), args...)
	cmd.Dir = bdir
	cmd.Env = runEnv(dir, bdir)
	// Its own process group, so cancelling kills the ssh children too; and
	// (on Linux) killed with the provider, whatever ends it.
	cmd.SysProcAttr = procAttr()
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

	// ansible-playbook reads its extra vars (passwords among them) once, at
	// start; the file goes with the first event, so a provider killed later
	// (kill -9) leaves no secret in a file on the control host.
	res, parseErr := r.consume(stdout, red, func() { _ = os.Remove(varsPath) })
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
// first is called once, at the first event.
func (r *Runner) consume(rd io.Reader, red *Redactor, first func()) (Result, error) {
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
		if first != nil {
			first()
			first = nil
		}
		ev.Msg, ev.Stdout, ev.Stderr = red.Redact(ev.Msg), red.Redact(ev.Stdout), red.Redact(ev.Stderr)
		if r.OnEvent != nil {
			r.OnEvent(ev)
		}
		switch ev.Event {
		case "step_start":
			if current != "" && res.Failure == nil && !slices.Contains(res.Completed, current) {
				res.Completed = append(res.Completed, current)
			}
			current = ev.Step
			res.Running = current
		case "result":
			if (ev.Status == "failed" || ev.Status == "unreachable") && res.Failure == nil {
				res.Failure = &Failure{Step: ev.Step, Host: ev.Host, Task: ev.Task, Output: failureOutput(ev)}
			}
		case "stats":
			if current != "" && res.Failure == nil && !slices.Contains(res.Completed, current) {
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
