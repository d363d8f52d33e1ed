package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/haproxy"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// ownTenantHCL is tenant name on the lab's proxy host (host 3) with its
// read-write port and maxconn, and an output of its owner_id. Its backends
// answer nothing: HAProxy opens the listener all the same, which is all
// these tests need.
func ownTenantHCL(l *lab.File, res, name string, port, maxconn int) string {
	return fmt.Sprintf(`
resource "erawan_haproxy_tenant" %[1]q {
  name            = %[2]q
  host            = %[3]q
  engine          = "postgresql"
  read_write_port = %[4]d
  backends        = [%[5]q, %[6]q]
  backend_port    = 5999
  health_check_port = 8999
  maxconn         = %[7]d
}

output "owner_%[1]s" {
  value = erawan_haproxy_tenant.%[1]s.owner_id
}
`, res, name, l.Hosts[3].Address, port, l.Hosts[0].Address, l.Hosts[1].Address, maxconn)
}

// tenantFile reads tenant name's file on the proxy host ("" when missing).
func tenantFile(t *testing.T, pool *sshclient.Pool, proxy, name string) string {
	t.Helper()
	out, err := pool.Run(context.Background(), proxy, "cat "+haproxy.File(haproxy.ConfDir, name)+" 2>/dev/null || true", nil)
	if err != nil {
		t.Fatalf("reading tenant %s on %s: %v", name, proxy, err)
	}
	return string(out)
}

// Fault 1 for tenants and fault 2 for proxy hosts (#8): two states each
// declare a tenant "own" on one proxy host. The second create fails naming
// the owner id and neither file changes; a destroy whose file another state
// took over leaves it alone; and two states changing two tenants on one
// proxy host at once take turns on the host's lock.
func TestAccFaults_tenantOwners(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	proxy := l.Hosts[3].Address
	first, second := newTFDir(t, "first"), newTFDir(t, "second")
	t.Cleanup(func() {
		for _, d := range []*tfDir{second, first} {
			if out, err := d.run(nil, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
				t.Errorf("destroy in %s: %v\n%s", filepath.Base(d.dir), err, tail(out, 30))
			}
		}
		sshRun(t, pool, proxy, "rm -f "+haproxy.File(haproxy.ConfDir, "own")+" "+haproxy.File(haproxy.ConfDir, "own2")+" && systemctl reload haproxy")
	})

	first.write(l, ownTenantHCL(l, "own", "own", 5100, 100))
	first.must(applyArgs...)
	owner := first.output("owner_own")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(owner) {
		t.Fatalf("owner_id %q is not a v4 UUID", owner)
	}
	before := tenantFile(t, pool, proxy, "own")
	if !strings.HasPrefix(before, haproxy.OwnerHeader+owner+"\n") {
		t.Fatalf("the tenant file does not start with its owner line:\n%s", tail(before, 5))
	}

	// The second state's tenant of the same name: refused, naming the owner.
	second.write(l, ownTenantHCL(l, "own", "own", 5110, 200))
	out, err := second.run(nil, applyArgs...)
	if err == nil {
		t.Fatalf("the second state overwrote the first state's tenant:\n%s", tail(out, 30))
	}
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "owner_id "+owner) || !strings.Contains(flat, "Nothing was changed") {
		t.Errorf("the refusal does not name the owner id %s:\n%s", owner, tail(out, 30))
	}
	if after := tenantFile(t, pool, proxy, "own"); after != before {
		t.Fatalf("the refused create changed the file:\n%s", after)
	}
	if portOpen(proxy, 5110) {
		t.Fatal("the refused tenant's port 5110 is open")
	}
	second.must("destroy", "-auto-approve", "-input=false", "-no-color") // nothing in its state
	if after := tenantFile(t, pool, proxy, "own"); after != before {
		t.Fatalf("the second state's destroy changed the file")
	}
	first.planEmpty()

	// Fault 7: the proxy host's key is not the one known_hosts records.
	// Plan and apply fail naming both fingerprints, with Ansible's host key
	// checking turned off in the environment too, and the file is untouched.
	tampered, presented, recorded := tamperedKnownHosts(t, l, proxy)
	for _, args := range [][]string{{"plan", "-input=false", "-no-color"}, {"apply", "-refresh=false", "-auto-approve", "-input=false", "-no-color"}} {
		first.writeKnownHosts(l, tampered, ownTenantHCL(l, "own", "own", 5100, 101))
		out, err := first.run([]string{"ANSIBLE_HOST_KEY_CHECKING=False"}, args...)
		flat := strings.Join(strings.Fields(out), " ")
		if err == nil || !strings.Contains(flat, presented) || !strings.Contains(flat, recorded) {
			t.Errorf("terraform %s with a changed host key: want a failure naming %s and %s, got %v:\n%s", args[0], presented, recorded, err, tail(out, 30))
		}
	}
	first.write(l, ownTenantHCL(l, "own", "own", 5100, 100))
	if after := tenantFile(t, pool, proxy, "own"); after != before {
		t.Fatalf("a run with a changed host key changed the file")
	}
	first.planEmpty()

	// The file removed by hand and created by the second state: the first
	// state's plan warns, and its destroy leaves the second state's file.
	sshRun(t, pool, proxy, "rm "+haproxy.File(haproxy.ConfDir, "own")+" && systemctl reload haproxy")
	second.must(applyArgs...)
	owner2 := second.output("owner_own")
	out = first.must("plan", "-input=false", "-no-color")
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "holds owner_id "+owner2+", not this resource's "+owner) {
		t.Errorf("the first state's plan does not warn that %s took the file over:\n%s", owner2, tail(out, 30))
	}
	out = first.must("destroy", "-auto-approve", "-input=false", "-no-color")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "destroy left it alone") {
		t.Errorf("the first state's destroy did not say it left the file alone:\n%s", tail(out, 30))
	}
	if f := tenantFile(t, pool, proxy, "own"); !strings.HasPrefix(f, haproxy.OwnerHeader+owner2+"\n") || !portOpen(proxy, 5110) {
		t.Fatalf("the first state's destroy touched the second state's tenant:\n%s", tail(f, 5))
	}
	second.planEmpty()

	// Two tenants from two states on one proxy host, changed at once: with
	// lock_timeout = 0s the second fails naming the holder; with the default
	// it waits its turn.
	first.write(l, ownTenantHCL(l, "own2", "own2", 5120, 100))
	first.must(applyArgs...)
	for _, step := range []struct {
		maxconn int
		env     []string
	}{{300, []string{"ERAWAN_LOCK_TIMEOUT=0s"}}, {400, nil}} {
		first.write(l, ownTenantHCL(l, "own2", "own2", 5120, step.maxconn))
		second.write(l, ownTenantHCL(l, "own", "own", 5110, step.maxconn))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmdA, outA := first.cmd(ctx, nil, applyArgs...)
		if err := cmdA.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		holder := waitHolder(t, pool, proxy, haproxyLockKey, "own2@", 2*time.Minute)
		logFile := filepath.Join(t.TempDir(), "second.log")
		start := time.Now()
		out, err := second.run(append(step.env, "TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH="+logFile), applyArgs...)
		took := time.Since(start)
		errA := cmdA.Wait()
		cancel()
		if errA != nil {
			t.Fatalf("the first state's apply: %v\n%s", errA, tail(outA.String(), 30))
		}
		logText, _ := os.ReadFile(logFile)
		if step.env != nil {
			flat := strings.Join(strings.Fields(out), " ")
			if err == nil || !strings.Contains(flat, "is locked by another run") || !strings.Contains(flat, fmt.Sprintf("process %d", holder.PID)) {
				t.Errorf("with lock_timeout = 0s the second apply did not fail naming the holder (process %d): %v\n%s", holder.PID, err, tail(out, 30))
			}
			t.Logf("figure: tenant lock held by another state: lock_timeout=0s failed after %.1fs", took.Seconds())
			second.must(applyArgs...)
			continue
		}
		if err != nil {
			t.Fatalf("the second state's apply with the default lock_timeout: %v\n%s", err, tail(out, 30))
		}
		if !strings.Contains(string(logText), "waiting for a lock held by another run") {
			t.Errorf("the second apply never waited for the first one's lock on %s", proxy)
		}
		if m := regexp.MustCompile(`lock held:.*waited_ms=(\d+)`).FindSubmatch(logText); m != nil {
			t.Logf("figure: tenant lock: the second apply waited %s ms (its whole apply %.1fs)", m[1], took.Seconds())
		}
	}
	for name, want := range map[string]string{"own": "maxconn 400", "own2": "maxconn 400"} {
		if f := tenantFile(t, pool, proxy, name); !strings.Contains(f, want) {
			t.Errorf("tenant %s lacks %q after both applies:\n%s", name, want, f)
		}
	}
	first.planEmpty()
	second.planEmpty()
}

// tamperedKnownHosts copies the lab's known_hosts with host's key replaced
// by a new one, and returns the copy with the fingerprints of the key the
// host presents and of the one the copy records.
func tamperedKnownHosts(t *testing.T, l *lab.File, host string) (file, presented, recorded string) {
	t.Helper()
	data, err := os.ReadFile(l.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		_, hosts, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err == nil && slices.Contains(hosts, host) {
			presented = ssh.FingerprintSHA256(key)
			continue
		}
		out = append(out, line)
	}
	if presented == "" {
		t.Fatalf("%s has no key for %s", l.KnownHostsFile, host)
	}
	out = append(out, knownhosts.Line([]string{host}, fake))
	file = filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, presented, ssh.FingerprintSHA256(fake)
}
