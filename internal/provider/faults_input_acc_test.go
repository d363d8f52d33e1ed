package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
)

var tenDotAddr = regexp.MustCompile(`10\.0\.0\.(\d+|\$)`)

// onLab maps the 10.0.0.x addresses of a bad-input case onto the lab:
// .11-.13 are node1..3, .5 is node4 (the proxy host), .21-.23 are the MySQL
// hosts; any other 10.0.0.x becomes the same last octet in the lab's /24,
// so a check that failed to stop it would still send nothing off the lab.
func onLab(l *lab.File, s string) string {
	prefix := strings.TrimSuffix(labCIDR(l), ".0/24")
	named := map[string]string{"11": l.Hosts[0].Address, "12": l.Hosts[1].Address, "13": l.Hosts[2].Address, "5": l.Hosts[3].Address}
	var mysql []string
	for _, h := range l.Hosts {
		if h.Image == lab.MySQLImage {
			mysql = append(mysql, h.Address)
		}
	}
	for i, a := range mysql {
		named[strconv.Itoa(21+i)] = a
	}
	return tenDotAddr.ReplaceAllStringFunc(s, func(m string) string {
		last := m[len("10.0.0."):]
		if a, ok := named[last]; ok {
			return a
		}
		return prefix + "." + last
	})
}

// sshdLines counts the lines sshd has logged on addr since the Unix time
// since: every connection, accepted or not, logs at least one.
func sshdLines(ctx context.Context, t *testing.T, run func(context.Context, string, string) ([]byte, error), addr string, since int64) int {
	t.Helper()
	out, err := run(ctx, addr, fmt.Sprintf("journalctl -q --since @%d -o cat SYSLOG_IDENTIFIER=sshd SYSLOG_IDENTIFIER=sshd-session | wc -l", since))
	if err != nil {
		t.Fatalf("reading sshd's journal on %s: %v %s", addr, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("sshd's journal on %s: %q", addr, out)
	}
	return n
}

// Fault 10 (#8): the bad-input table of §5 (every case of the plan-time
// unit tables for both clusters and tenants), each put through `terraform
// plan` with the lab's provider settings and the lab's addresses, fails
// with its error, and no lab host's sshd sees a connection meanwhile. Today
// no plan of a new resource connects anywhere, valid or not; the journal
// check guards that a check which moves to a later, connecting stage (a
// preflight at plan time, a probe in ModifyPlan) still refuses first.
// (A member renamed at the same address needs a state; TestRenames covers it.)
func TestAccFaults_badInputs(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	ctx := context.Background()
	run := func(ctx context.Context, addr, cmd string) ([]byte, error) { return pool.Run(ctx, addr, cmd, nil) }
	// Connect first: the pooled sessions used to read the journals later
	// open no new connection.
	for _, h := range l.Hosts {
		if _, err := pool.Run(ctx, h.Address, "true", nil); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // journal times are whole seconds
	since := time.Now().Unix()
	before := map[string]int{}
	for _, h := range l.Hosts {
		before[h.Address] = sshdLines(ctx, t, run, h.Address, since)
	}

	var cases []badInput
	cases = append(cases, patroniBadInputs...)
	cases = append(cases, tenantBadInputs...)
	cases = append(cases, mysqlBadInputs...)
	const workers = 3
	dirs := make([]*tfDir, workers)
	for i := range dirs {
		dirs[i] = newTFDir(t, fmt.Sprintf("bad%d", i))
	}
	var mu sync.Mutex
	var failed []string
	next := make(chan badInput)
	var wg sync.WaitGroup
	start := time.Now()
	for _, d := range dirs {
		wg.Add(1)
		go func(d *tfDir) {
			defer wg.Done()
			for c := range next {
				hcl := onLab(l, c.hcl)
				want := regexp.MustCompile(strings.ReplaceAll(onLab(l, c.want), " ", `\s+`))
				// Not d.write: t.Fatal must not be called from this goroutine.
				werr := os.WriteFile(filepath.Join(d.dir, "main.tf"), []byte(d.config(l, hcl)), 0o600)
				out, err := d.run(nil, "plan", "-input=false", "-no-color", "-refresh=true")
				var problem string
				switch {
				case werr != nil:
					problem = werr.Error()
				case err == nil:
					problem = "the plan succeeded"
				case !want.MatchString(out):
					problem = fmt.Sprintf("the error does not match %s:\n%s", want, tail(out, 20))
				}
				if problem != "" {
					mu.Lock()
					failed = append(failed, c.name)
					mu.Unlock()
					t.Errorf("%s: %s\n%s", c.name, problem, hcl)
				}
			}
		}(d)
	}
	for _, c := range cases {
		next <- c
	}
	close(next)
	wg.Wait()
	t.Logf("figure: %d bad inputs rejected at plan time of %d (%.1fs for all, %d plans at a time)", len(cases)-len(failed), len(cases), time.Since(start).Seconds(), workers)
	for _, h := range l.Hosts {
		if n := sshdLines(ctx, t, run, h.Address, since); n != before[h.Address] {
			t.Errorf("%s's sshd logged %d line(s) while the bad inputs were planned: something reached it", h.Name, n-before[h.Address])
		}
	}
	// The control: one new connection to a host shows in its count, so the
	// count above could have caught one.
	fresh := labPool(t, l)
	if _, err := fresh.Run(ctx, l.Hosts[0].Address, "true", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := sshdLines(ctx, t, run, l.Hosts[0].Address, since); n == before[l.Hosts[0].Address] {
		t.Errorf("a new SSH connection to %s left no line in sshd's journal: the check above proves nothing", l.Hosts[0].Name)
	}
}
