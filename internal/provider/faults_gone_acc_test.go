package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// goneHCL is cluster "gone" on its own ports with members gn<i+1> on the
// lab hosts in idx, and outputs for the test.
func goneHCL(l *lab.File, idx []int) string {
	var nodes []string
	for _, i := range idx {
		nodes = append(nodes, fmt.Sprintf(`{ name = "gn%d", address = %q }`, i+1, l.Hosts[i].Address))
	}
	return fmt.Sprintf(`
resource "erawan_patroni_cluster" "gone" {
  name             = "gone"
  postgres_version = 17
  nodes            = [%s]
  postgres_port    = 5444
  patroni_port     = 8020
  etcd_client_port = 2393
  etcd_peer_port   = 2394
  allowed_cidrs    = [%q]
  deletion_protection = false
}

output "leader" { value = erawan_patroni_cluster.gone.leader }
output "superuser_password" {
  value     = erawan_patroni_cluster.gone.superuser_password
  sensitive = true
}
`, strings.Join(nodes, ", "), labCIDR(l))
}

// hostLink sets a lab host's link on the bridge up or down. Down, the host
// is gone from the network as if powered off; its processes keep running,
// which the test cleans up afterwards.
func hostLink(t *testing.T, h lab.Host, up bool) {
	t.Helper()
	iface := "vb-" + h.Name
	if len(iface) > 15 {
		iface = iface[:15]
	}
	state := map[bool]string{true: "up", false: "down"}[up]
	if out, err := exec.Command("ip", "link", "set", iface, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v %s", iface, state, err, out)
	}
}

// Fault 5 (#8), Patroni: the leader's host goes for good and is taken out
// of nodes. Apply succeeds with a warning and attempts nothing on the dead
// host; etcd and Patroni list only the members that stay, one of which
// leads; the row written before is read after, and the plan is empty.
func TestAccFaults_deadLeaderRemoved(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	all := []int{0, 2, 3}
	d := newTFDir(t, "gone")
	d.write(l, goneHCL(l, all))
	var dead lab.Host
	cut := false
	// Registered before the first apply, so a failure anywhere leaves no
	// cluster "gone" on the lab for the next run to trip over.
	t.Cleanup(func() {
		if cut {
			hostLink(t, dead, true)
		}
		if out, err := d.run(nil, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
			t.Errorf("destroying gone: %v\n%s", err, tail(out, 40))
		}
		for _, i := range all { // what a cut-off host still runs for the cluster it left
			cleanupGone(t, pool, l.Hosts[i].Address)
		}
	})
	d.must(applyArgs...)
	var stay []int
	leader := d.output("leader")
	for _, i := range all {
		if fmt.Sprintf("gn%d", i+1) == leader {
			dead = l.Hosts[i]
		} else {
			stay = append(stay, i)
		}
	}
	if dead.Name == "" {
		t.Fatalf("the leader %q is not a member", leader)
	}
	password := d.output("superuser_password")
	// Written on the leader (the host about to go), read later on a member that stays.
	goneRow(t, dead.Address, password, "create table if not exists gone_keep (v int primary key); insert into gone_keep values (5) on conflict do nothing")

	hostLink(t, dead, false)
	cut = true
	start := time.Now()
	d.write(l, goneHCL(l, stay))
	out := d.must(applyArgs...)
	took := time.Since(start)
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "was removed without its host") {
		t.Errorf("the apply gave no warning for the dead member:\n%s", tail(out, 40))
	}
	t.Logf("figure: removing the dead leader %s took %.1fs (apply), new leader %s", dead.Name, took.Seconds(), d.output("leader"))
	d.planEmpty()

	survivor := l.Hosts[stay[0]].Address
	etcd, err := pool.Run(context.Background(), survivor, "ETCDCTL_CACERT=/etc/erawan/gone/tls/ca.crt ETCDCTL_CERT=/etc/erawan/gone/tls/node.crt ETCDCTL_KEY=/etc/erawan/gone/tls/etcd.key etcdctl --endpoints=https://127.0.0.1:2393 member list -w simple", nil)
	if err != nil || strings.Count(strings.TrimSpace(string(etcd)), "\n") != 1 || strings.Contains(string(etcd), dead.Address) {
		t.Errorf("etcd members after the removal (want the 2 that stay): %v\n%s", err, etcd)
	}
	var cluster struct {
		Members []struct{ Name, Role string }
	}
	client, err := tlsClient(pool, survivor, "gone", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get("https://" + survivor + ":8020/cluster")
	if err != nil {
		t.Fatalf("Patroni GET /cluster: %v", err)
	}
	err = json.NewDecoder(resp.Body).Decode(&cluster)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("Patroni GET /cluster: %v", err)
	}
	var names []string
	for _, m := range cluster.Members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if want := []string{fmt.Sprintf("gn%d", stay[0]+1), fmt.Sprintf("gn%d", stay[1]+1)}; !slices.Equal(names, want) {
		t.Errorf("Patroni lists %v, want %v", names, want)
	}
	if v := goneRow(t, survivor, password, ""); v != 5 {
		t.Errorf("the row written before reads %d, want 5", v)
	}
}

// goneRow connects to "gone" on addr, runs stmt there (which must then be
// the leader, else it retries until one is) and reads the kept row.
func goneRow(t *testing.T, addr, password, stmt string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		c, err := connectAt(ctx, addr, 5444, "postgres", password, "postgres")
		if err == nil {
			var rec bool
			if err = c.QueryRow(ctx, "select pg_is_in_recovery()").Scan(&rec); err == nil && stmt != "" && rec {
				err = fmt.Errorf("%s is a replica", addr)
			}
			if err == nil && stmt != "" {
				_, err = c.Exec(ctx, stmt)
			}
			var v int
			if err == nil {
				err = c.QueryRow(ctx, "select v from gone_keep").Scan(&v)
			}
			c.Close(ctx)
			if err == nil {
				return v
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("gone on %s: %v", addr, err)
		}
		time.Sleep(time.Second)
	}
}

// cleanupGone stops and removes what cluster "gone" left on a host that was
// cut off while it ran (a real dead host would have nothing running).
func cleanupGone(t *testing.T, pool *sshclient.Pool, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := "systemctl disable --now erawan-patroni-gone erawan-etcd-gone 2>/dev/null; " +
		"rm -rf /etc/erawan/gone /var/lib/erawan/gone /etc/systemd/system/erawan-patroni-gone.service /etc/systemd/system/erawan-etcd-gone.service; systemctl daemon-reload"
	if out, err := pool.Run(ctx, addr, cmd, nil); err != nil {
		t.Errorf("cleaning up gone on %s: %v %s", addr, err, out)
	}
}
