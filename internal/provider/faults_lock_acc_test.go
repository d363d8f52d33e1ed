package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/nodelock"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// lkHCL is a one-node Patroni cluster "lk" on lab host 1, on ports of its
// own, with max_connections maxConn.
func lkHCL(l *lab.File, maxConn int) string {
	return fmt.Sprintf(`
resource "erawan_patroni_cluster" "lk" {
  name             = "lk"
  postgres_version = 17
  nodes            = [{ name = "lk1", address = %q }]
  postgres_port    = 5443
  patroni_port     = 8019
  etcd_client_port = 2391
  etcd_peer_port   = 2392
  allowed_cidrs    = [%q]
  parameters       = { max_connections = "%d" }
  deletion_protection = false
}

output "superuser_password" {
  value     = erawan_patroni_cluster.lk.superuser_password
  sensitive = true
}
`, l.Hosts[1].Address, labCIDR(l), maxConn)
}

// waitHolder waits until lock key on addr names a holder doing an update of
// a resource whose id contains idPart, and returns that record.
func waitHolder(t *testing.T, pool *sshclient.Pool, addr, key, idPart string, within time.Duration) nodelock.Holder {
	const operation = "update"
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		out, err := pool.Run(context.Background(), addr, "cat "+nodelock.Dir+"/"+key+".holder 2>/dev/null || true", nil)
		var h nodelock.Holder
		if err == nil && json.Unmarshal(out, &h) == nil && h.Operation == operation && strings.Contains(h.ResourceID, idPart) {
			return h
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %s held lock %s on %s within %s", operation, key, addr, within)
	return nodelock.Holder{}
}

// lockFree reports whether lock key on addr can be taken at once (it takes
// and releases it).
func lockFree(pool *sshclient.Pool, addr, key string) error {
	l, err := nodelock.Acquire(context.Background(), pool, nodelock.Options{Key: key, Hosts: []string{addr}, Holder: nodelock.NewHolder("check", "fault-test")})
	if err != nil {
		return err
	}
	return l.Release()
}

func lkRow(t *testing.T, addr, password, stmt string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var c *pgx.Conn
	var err error
	for ctx.Err() == nil { // right after a restart the member may still be starting
		if c, err = connectAt(ctx, addr, 5443, "postgres", password, "postgres"); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("connecting to lk: %v", err)
	}
	defer c.Close(ctx)
	if stmt != "" {
		if _, err := c.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var v int
	if err := c.QueryRow(ctx, "select v from lk_keep").Scan(&v); err != nil {
		t.Fatalf("the row written before: %v", err)
	}
	return v
}

// Faults 2 and 8 (#8): a second state that holds the same cluster through
// import applies while the first state's update holds the lock: with
// lock_timeout = 5s it fails naming the holder, with the default it waits,
// then succeeds. Then the provider, and next Terraform, are killed with
// SIGKILL mid-apply: no ansible-playbook is left running, the lock is free,
// and the next apply converges. Nothing written before is lost, and both
// states' plans end empty.
func TestAccFaults_locksAndKill(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	addr := l.Hosts[1].Address
	first, second := newTFDir(t, "first"), newTFDir(t, "second")
	first.write(l, lkHCL(l, 100))
	first.must(applyArgs...)
	t.Cleanup(func() {
		_, _ = second.run(nil, "state", "rm", "-no-color", "erawan_patroni_cluster.lk")
		if out, err := first.run(nil, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
			t.Errorf("destroying lk: %v\n%s", err, tail(out, 40))
		}
	})
	password := first.output("superuser_password")
	lkRow(t, addr, password, "create table lk_keep (v int); insert into lk_keep values (7)")

	second.write(l, lkHCL(l, 100))
	second.must("import", "-input=false", "-no-color", "erawan_patroni_cluster.lk", "lk@"+addr)
	second.must(applyArgs...)
	second.planEmpty()

	// lock_timeout = 5s: the second state's update fails, naming the holder.
	first.write(l, lkHCL(l, 110))
	second.write(l, lkHCL(l, 110))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmdA, outA := first.cmd(ctx, nil, applyArgs...)
	if err := cmdA.Start(); err != nil {
		t.Fatal(err)
	}
	holder := waitHolder(t, pool, addr, "patroni-lk", "", 5*time.Minute)
	start := time.Now()
	out, err := second.run([]string{"ERAWAN_LOCK_TIMEOUT=5s"}, applyArgs...)
	failedAfter := time.Since(start)
	if err == nil {
		t.Fatalf("the second state's apply succeeded while the first held the lock:\n%s", tail(out, 30))
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"is locked by another run", "update of " + holder.ResourceID, fmt.Sprintf("process %d", holder.PID), holder.ControlHost, "nothing was changed"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the lock error lacks %q:\n%s", want, tail(out, 30))
		}
	}
	if err := cmdA.Wait(); err != nil {
		t.Fatalf("the first state's apply: %v\n%s", err, tail(outA.String(), 40))
	}
	t.Logf("figure: with lock_timeout=5s the second apply failed after %.1fs (terraform start, refresh, 5s wait)", failedAfter.Seconds())

	// The default lock_timeout: the second state's update waits, then runs.
	first.write(l, lkHCL(l, 120))
	second.write(l, lkHCL(l, 120))
	cmdA, outA = first.cmd(ctx, nil, applyArgs...)
	if err := cmdA.Start(); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, pool, addr, "patroni-lk", "", 5*time.Minute)
	logFile := filepath.Join(t.TempDir(), "second.log")
	start = time.Now()
	out, err = second.run([]string{"TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH=" + logFile}, applyArgs...)
	secondTook := time.Since(start)
	errA := cmdA.Wait()
	if errA != nil {
		t.Fatalf("the first state's apply: %v\n%s", errA, tail(outA.String(), 40))
	}
	if err != nil {
		t.Fatalf("the second state's apply with the default lock_timeout: %v\n%s", err, tail(out, 40))
	}
	logText, _ := os.ReadFile(logFile)
	if !strings.Contains(string(logText), "waiting for a lock held by another run") {
		t.Errorf("the second apply never waited for the first one's lock")
	}
	if m := regexp.MustCompile(`lock held:.*waited_ms=(\d+)`).FindSubmatch(logText); m != nil {
		t.Logf("figure: the second apply waited %s ms for the lock (its whole apply %.1fs)", m[1], secondTook.Seconds())
	}
	first.planEmpty()
	second.planEmpty()

	// Fault 8: kill -9 of the provider mid-apply, then of Terraform.
	for i, victim := range []string{"provider", "terraform"} {
		first.write(l, lkHCL(l, 130+10*i))
		cmdA, outA = first.cmd(ctx, nil, applyArgs...)
		if err := cmdA.Start(); err != nil {
			t.Fatal(err)
		}
		h := waitHolder(t, pool, addr, "patroni-lk", "", 5*time.Minute)
		waitAnsible(t, h.PID, 2*time.Minute)
		pid := h.PID
		if victim == "terraform" {
			pid = cmdA.Process.Pid
		}
		killedAt := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %s %d: %v", victim, pid, err)
		}
		_ = cmdA.Wait()
		freeAfter := waitFree(t, pool, addr, "patroni-lk", killedAt, time.Minute)
		if left := ansibleOf(h.PID); len(left) > 0 {
			time.Sleep(3 * time.Second) // Pdeathsig is immediate; give the process table a moment
			if left = ansibleOf(h.PID); len(left) > 0 {
				t.Errorf("after kill -9 of the %s, ansible-playbook is still running: %v", victim, left)
			}
		}
		t.Logf("figure: kill -9 of the %s: the lock was free %.1fs later; output tail:\n%s", victim, freeAfter.Seconds(), tail(outA.String(), 5))
		first.must(applyArgs...)
		if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("erawan-ansible-%d-*", h.PID))); len(dirs) > 0 {
			t.Errorf("the killed provider's run directories are left behind: %v", dirs)
		}
		first.planEmpty()
	}
	if v := lkRow(t, addr, password, ""); v != 7 {
		t.Fatalf("the row written before reads %d, want 7", v)
	}
	second.must("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
	second.write(l, lkHCL(l, 140))
	second.planEmpty()

	// Fault 6: sshd goes down on the node and comes back 3 s later, while a
	// plan starts. The plan waits for it (the pool retries a refused
	// connection) and reads the node: no "unreachable" warning, no changes.
	sshRun(t, pool, addr, "systemctl stop ssh && systemd-run --quiet --collect --unit=erawan-fault6-ssh sh -c 'sleep 3; systemctl start ssh'")
	start = time.Now()
	out, err = second.run(nil, "plan", "-input=false", "-no-color", "-detailed-exitcode")
	if err != nil || strings.Contains(out, "unreachable") {
		t.Fatalf("the plan across an sshd restart failed or did not read the node (%v):\n%s", err, tail(out, 30))
	}
	t.Logf("figure: sshd down for the first 3 s of a plan: the plan read the node and ended empty in %.1fs", time.Since(start).Seconds())
}

// ansibleOf lists the ansible-playbook processes whose run directory
// belongs to provider pid.
func ansibleOf(pid int) []string {
	out, _ := exec.Command("pgrep", "-af", fmt.Sprintf("erawan-ansible-%d-", pid)).Output()
	return strings.Fields(strings.TrimSpace(string(out)))
}

// waitAnsible waits until provider pid runs ansible-playbook.
func waitAnsible(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if len(ansibleOf(pid)) > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("provider %d started no ansible-playbook within %s", pid, within)
}

// waitFree waits until lock key on addr can be taken, and returns how long
// after since that was.
func waitFree(t *testing.T, pool *sshclient.Pool, addr, key string, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
		if err = lockFree(pool, addr, key); err == nil {
			return time.Since(since)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("lock %s on %s still held %s after its holder was killed: %v", key, addr, within, err)
	return 0
}
