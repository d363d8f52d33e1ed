package provider

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// secHCL is cluster "sec" on hosts 0..2 with an application database (so
// every generated password exists) and, when version > 0, its superuser
// password given write-only from an ephemeral variable (set through
// TF_VAR_superuser_wo, so no file holds it).
func secHCL(l *lab.File, version int) string {
	wo := ""
	if version > 0 {
		wo = fmt.Sprintf("superuser_password_wo = var.superuser_wo\n  superuser_password_wo_version = %d", version)
	}
	return fmt.Sprintf(`
variable "superuser_wo" {
  type      = string
  default   = null
  sensitive = true
  ephemeral = true
}

resource "erawan_patroni_cluster" "sec" {
  name             = "sec"
  postgres_version = 17
  nodes            = [{ name = "sc1", address = %q }, { name = "sc2", address = %q }, { name = "sc3", address = %q }]
  postgres_port    = 5447
  patroni_port     = 8023
  etcd_client_port = 2401
  etcd_peer_port   = 2402
  allowed_cidrs    = [%q]
  database         = { name = "secapp", owner = "secowner" }
  deletion_protection = false
  %s
}
`, l.Hosts[0].Address, l.Hosts[1].Address, l.Hosts[2].Address, labCIDR(l), wo)
}

// argSampler records every distinct process command line seen on the
// control host and on the nodes while it runs.
type argSampler struct {
	mu    sync.Mutex
	seen  map[string]map[string]bool // where -> the command lines seen there
	count map[string]int             // samples taken per place
}

func (s *argSampler) add(where string, lines []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[where]++
	if s.seen[where] == nil {
		s.seen[where] = map[string]bool{}
	}
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			s.seen[where][l] = true
		}
	}
}

// localArgs reads every process's arguments from /proc on this host.
func localArgs() []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// sample runs until ctx ends: the control host every 100 ms, each node
// every 500 ms (over the pool's one connection per node).
func (s *argSampler) sample(ctx context.Context, pool *sshclient.Pool, nodes []string) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1 + len(nodes))
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			s.add("the control host", localArgs())
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for _, n := range nodes {
		go func(n string) {
			defer wg.Done()
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				out, err := pool.Run(rctx, n, "ps -eww -o args=", nil)
				cancel()
				if err == nil {
					s.add(n, strings.Split(string(out), "\n"))
				}
				time.Sleep(500 * time.Millisecond)
			}
		}(n)
	}
	return &wg
}

// filesHolding lists the regular files under root, changed since since,
// that hold any of secrets, skipping names skip allows.
func filesHolding(root string, since time.Time, secrets []string, skip func(string) bool) []string {
	var hits []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() || skip(p) {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.ModTime().Before(since) || info.Size() > 256<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				hits = append(hits, p)
				break
			}
		}
		return nil
	})
	return hits
}

// Fault 9 (#8): over a create, a plan, a rotation and a destroy run with
// TF_LOG=TRACE, no generated or write-only password appears in the
// Terraform log, in any process's arguments on the control host or a node
// (sampled while the runs go), in any file left on the control host (the
// state, which keeps the generated passwords as sensitive values by
// design, aside), or in any node file that a non-root user can read.
func TestAccFaults_secrets(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	start := time.Now()
	d := newTFDir(t, "sec")
	logPath := filepath.Join(d.dir, "terraform-trace.log")
	trace := []string{"TF_LOG=TRACE", "TF_LOG_PATH=" + logPath}
	nodes := []string{l.Hosts[0].Address, l.Hosts[1].Address, l.Hosts[2].Address}
	rotated := "sec-rotated-Passw0rd-9"
	trace = append(trace, "TF_VAR_superuser_wo="+rotated)

	ctx, stop := context.WithCancel(context.Background())
	sampler := &argSampler{seen: map[string]map[string]bool{}, count: map[string]int{}}
	sampling := sampler.sample(ctx, pool, nodes)
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			stop()
			sampling.Wait()
		}
	}
	t.Cleanup(func() {
		halt()
		if _, err := os.Stat(filepath.Join(d.dir, "terraform.tfstate")); err == nil {
			if out, err := d.run(nil, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
				t.Errorf("destroying sec: %v\n%s", err, tail(out, 40))
			}
		}
	})
	step := func(what string, args ...string) {
		t.Helper()
		if out, err := d.run(trace, args...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, tail(out, 40))
		}
	}

	// The first create runs with accept-new against a known_hosts file that
	// does not exist yet (#8 §3): it must record each node's real key.
	known := filepath.Join(d.dir, "known_hosts")
	d.writeAcceptNew(l, known, secHCL(l, 0))
	step("create", applyArgs...)
	recorded, err := os.ReadFile(known)
	if err != nil {
		t.Fatalf("accept-new recorded no known_hosts: %v", err)
	}
	labKeys, err := os.ReadFile(l.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		want := ""
		for _, line := range strings.Split(string(labKeys), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == n {
				want = f[1] + " " + f[2]
			}
		}
		lines := 0
		for _, line := range strings.Split(string(recorded), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == n {
				lines++
				if f[1]+" "+f[2] != want {
					t.Errorf("accept-new recorded %s for %s; the lab's key is %s", f[1]+" "+f[2], n, want)
				}
			}
		}
		if lines != 1 {
			t.Errorf("accept-new recorded %d lines for %s, want 1:\n%s", lines, n, recorded)
		}
	}
	generated := passwords(d.stateValues("erawan_patroni_cluster.sec"))
	for _, k := range []string{"superuser_password", "replication_password", "rewind_password", "restapi_password", "database_password"} {
		if generated[k] == "" {
			t.Fatalf("%s was not generated (state has %v)", k, keysOf(generated))
		}
	}
	step("plan", "plan", "-input=false", "-no-color")
	d.writeAcceptNew(l, known, secHCL(l, 1))
	step("rotation", applyArgs...)

	secrets := map[string]string{"the rotated superuser password (write-only)": rotated}
	for k, v := range generated {
		secrets["the generated "+k] = v
	}
	var all []string
	for _, v := range secrets {
		all = append(all, v)
	}
	// Node files a non-root user can read, while the cluster still runs.
	// A control string in a world-readable file must be found, so the
	// search is shown to work; grep's exit status is 2 whenever it meets an
	// unreadable file, which is expected here, so only its output counts.
	control := fmt.Sprintf("erawan-search-control-%d", time.Now().UnixNano())
	patterns := strings.Join(append(append([]string{}, all...), control), "\n") + "\n"
	for _, n := range nodes {
		rctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		out, err := pool.Run(rctx, n, "umask 022; echo "+control+" > /tmp/erawan-search-control; "+
			"runuser -u nobody -- grep -rlsF -f - /etc /var /tmp /home /root /srv /opt /run /usr/local; rm -f /tmp/erawan-search-control; echo searched",
			[]byte(patterns))
		cancel()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "searched") {
			t.Fatalf("searching %s's files as nobody: %v %s", n, err, out)
		}
		var hits []string
		found := false
		for _, f := range strings.Fields(string(out)) {
			switch f {
			case "searched":
			case "/tmp/erawan-search-control":
				found = true
			default:
				hits = append(hits, f)
			}
		}
		if !found {
			t.Fatalf("the search as nobody on %s did not find the control file: it proves nothing", n)
		}
		if len(hits) > 0 {
			t.Errorf("files on %s that a non-root user can read hold a password:\n%s", n, strings.Join(hits, "\n"))
		}
	}
	step("destroy", "destroy", "-auto-approve", "-input=false", "-no-color")
	// The controls: a process living about a second, with a marker in its
	// arguments, on the control host and on each node, must be seen.
	marker := fmt.Sprintf("erawan-sampler-control-%d", time.Now().UnixNano())
	if out, err := exec.Command("sh", "-c", "sleep 1.2; true", marker).CombinedOutput(); err != nil {
		t.Fatalf("control process: %v %s", err, out)
	}
	for _, n := range nodes {
		if out, err := pool.Run(context.Background(), n, "sh -c 'sleep 1.2; true' "+marker, nil); err != nil {
			t.Fatalf("control process on %s: %v %s", n, err, out)
		}
	}
	halt()
	for _, where := range append([]string{"the control host"}, nodes...) {
		seen := false
		for line := range sampler.seen[where] {
			if strings.Contains(line, marker) {
				seen = true
			}
		}
		if sampler.count[where] == 0 || !seen {
			t.Errorf("the argument sampler took %d samples on %s and saw the control process: %v; it proves nothing there", sampler.count[where], where, seen)
		}
	}

	logText, err := os.ReadFile(logPath)
	if err != nil || len(logText) == 0 {
		t.Fatalf("no Terraform log at %s: %v", logPath, err)
	}
	for what, v := range secrets {
		if bytes.Contains(logText, []byte(v)) {
			t.Errorf("the TF_LOG=TRACE log holds %s", what)
		}
		for where, lines := range sampler.seen {
			for line := range lines {
				if strings.Contains(line, v) {
					t.Errorf("%s appeared in a process's arguments on %s: %.120s…", what, where, line)
				}
			}
		}
	}
	distinct := 0
	for _, lines := range sampler.seen {
		distinct += len(lines)
	}
	t.Logf("figure: %d MB of TRACE log and %d distinct command lines from %v samples searched; none holds one of the %d passwords",
		len(logText)>>20, distinct, sampler.count, len(secrets))

	// Files left on the control host: the test's own directories, the
	// temporary directory (the runner's private run directories live
	// there) and Ansible's home directory.
	home, _ := os.UserHomeDir()
	roots := []string{os.TempDir(), "/var/tmp", filepath.Join(home, ".ansible")}
	// Skipped: the state (which keeps the generated passwords by design),
	// and the Go toolchain's build directories (go-build*): a test binary
	// built meanwhile on this host holds this test's write-only passwords,
	// which are constants of its source, not something the provider wrote.
	skip := func(p string) bool {
		b := filepath.Base(p)
		rel, err := filepath.Rel(os.TempDir(), p)
		return (strings.HasPrefix(b, "terraform.tfstate") && strings.HasPrefix(p, d.dir)) ||
			(err == nil && strings.HasPrefix(rel, "go-build"))
	}
	for _, r := range roots {
		for _, hit := range filesHolding(r, start, all, skip) {
			t.Errorf("a file left on the control host holds a password: %s", hit)
		}
	}
}
