package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// hapConfig: a 3-node cluster on node1..3 with TLS (the default) and
// tenants on node4. Each tenant is name -> [rw, ro] ports.
func hapConfig(l *lab.File, tenants [][3]string) string { return hapConfigTLS(l, tenants, "") }

// hapNoTLS is the cluster's tls block before the move to TLS.
const hapNoTLS = "tls = { enabled = false }"

// hapConfigTLS is hapConfig with the cluster's tls block tlsHCL.
func hapConfigTLS(l *lab.File, tenants [][3]string, tlsHCL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
provider "erawan" {
  ssh = {
    private_key_file = %q
    known_hosts_file = %q
  }
}

resource "erawan_patroni_cluster" "hap" {
  name                = "hap"
  postgres_version    = 17
  nodes               = [{ name = "pg1", address = %q }, { name = "pg2", address = %q }, { name = "pg3", address = %q }]
  allowed_cidrs       = [%q]
  deletion_protection = false
  %s
}
`, l.SSHPrivateKeyFile, l.KnownHostsFile, l.Hosts[0].Address, l.Hosts[1].Address, l.Hosts[2].Address, labCIDR(l), tlsHCL)
	for _, t := range tenants {
		fmt.Fprintf(&b, `
resource "erawan_haproxy_tenant" %q {
  name            = %q
  host            = %q
  engine          = "postgresql"
  read_write_port = %s
  read_only_port  = %s
  backends        = [for n in erawan_patroni_cluster.hap.nodes : n.address]
  health_check_ca_pem = erawan_patroni_cluster.hap.ca_certificate
  allowed_cidrs   = [%q]
}
`, t[0], t[0], l.Hosts[3].Address, t[1], t[2], labCIDR(l))
	}
	return b.String()
}

func hapState(s *terraform.State, key string) string {
	return s.RootModule().Resources["erawan_patroni_cluster.hap"].Primary.Attributes[key]
}

// throughProxy connects to the proxy port with the superuser password and
// returns the server address and pg_is_in_recovery().
func throughProxy(ctx context.Context, proxy string, port int, password string) (string, bool, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres connect_timeout=3 sslmode=prefer", proxy, port))
	if err != nil {
		return "", false, err
	}
	cfg.User, cfg.Password = "postgres", password
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", false, err
	}
	defer c.Close(ctx)
	var addr string
	var recovery bool
	err = c.QueryRow(ctx, "select host(inet_server_addr()), pg_is_in_recovery()").Scan(&addr, &recovery)
	return addr, recovery, err
}

func checkRouting(proxy string, rw, ro int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		pw := hapState(s, "superuser_password")
		// Health checks need a moment after a reload to mark servers up.
		var lastErr error
		for ctx.Err() == nil {
			addr, rec, err := throughProxy(ctx, proxy, rw, pw)
			if err == nil && !rec {
				raddr, rrec, rerr := throughProxy(ctx, proxy, ro, pw)
				if rerr == nil && rrec && raddr != addr {
					return nil
				}
				lastErr = fmt.Errorf("read-only port %d reached %s (recovery %v): %v", ro, raddr, rrec, rerr)
			} else {
				lastErr = fmt.Errorf("read-write port %d reached %s (recovery %v): %v", rw, addr, rec, err)
			}
			time.Sleep(time.Second)
		}
		return lastErr
	}
}

// hostOf is the address of the lab host whose member name is pg<i+1>.
func hostOf(l *lab.File, member string) string {
	var i int
	if _, err := fmt.Sscanf(member, "pg%d", &i); err != nil || i < 1 || i > len(l.Hosts) {
		return ""
	}
	return l.Hosts[i-1].Address
}

// execThroughProxy runs sql through the tenant's port as the superuser
// (sslmode=prefer).
func execThroughProxy(proxy string, port int, password, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, proxyConfig(proxy, port, password))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func proxyConfig(proxy string, port int, password string) *pgx.ConnConfig {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres connect_timeout=3 sslmode=prefer", proxy, port))
	if err != nil {
		panic(err)
	}
	cfg.User, cfg.Password = "postgres", password
	return cfg
}

// startProxyLoop writes a row into client_loop (made by startWriteLoop)
// through the tenant's port every interval, each on a new connection.
func startProxyLoop(t *testing.T, proxy string, port int, password string, interval time.Duration) *writeLoop {
	t.Helper()
	w := startLoop(interval, func() error { return writeOnce(proxyConfig(proxy, port, password)) })
	t.Cleanup(func() { _, _, _, _ = w.finish() })
	return w
}

func portOpen(addr string, port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, port), 2*time.Second)
	if err == nil {
		c.Close()
		return true
	}
	return false
}

func TestAccHAProxyTenant_postgresql(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	if len(l.Hosts) < 4 {
		t.Fatalf("the lab has %d hosts; this test needs 4 (LAB_NODES=4)", len(l.Hosts))
	}
	pool := labPool(t, l)
	proxy := l.Hosts[3].Address
	a := [3]string{"ta", "5000", "5001"}
	b := [3]string{"tb", "5010", "5011"}
	clash := [3]string{"tc", "5000", "5021"}
	var password, leader string
	var starts map[string]string
	var direct, viaProxy *writeLoop

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(s *terraform.State) error {
			for _, p := range []int{5000, 5001, 5010, 5011} {
				if portOpen(proxy, p) {
					return fmt.Errorf("port %d on the proxy host is still open after destroy", p)
				}
			}
			out, err := pool.Run(context.Background(), proxy, "ls /etc/haproxy/conf.d/", nil)
			if err != nil || strings.Contains(string(out), "erawan-t") {
				return fmt.Errorf("tenant files left: %q %v", out, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // routing: read-write to the leader, read-only to a replica, on a
				// cluster without TLS (plain health checks)
				Config: hapConfigTLS(l, [][3]string{a}, hapNoTLS),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkRouting(proxy, 5000, 5001),
					resource.TestCheckResourceAttr("erawan_haproxy_tenant.ta", "id", "ta@"+proxy),
					resource.TestMatchResourceAttr("erawan_haproxy_tenant.ta", "rendered_config", regexp.MustCompile(`listen erawan_ta_rw\n    bind 0\.0\.0\.0:5000`)),
					resource.TestMatchResourceAttr("erawan_haproxy_tenant.ta", "config_sha256", regexp.MustCompile(`^[0-9a-f]{64}$`)),
					resource.TestCheckNoResourceAttr("erawan_patroni_cluster.hap", "ca_certificate"),
					func(s *terraform.State) error {
						password, leader = hapState(s, "superuser_password"), hapState(s, "leader")
						if strings.Contains(attrOf(s, "erawan_haproxy_tenant.ta", "rendered_config"), "check-ssl") {
							return errors.New("the tenant of a cluster without TLS checks with check-ssl")
						}
						return execThroughProxy(proxy, 5000, password, "create table keep_me (v int); insert into keep_me values (42)")
					},
				),
			},
			{ // the move to TLS in place: the plan shows an update with the CA to
				// come, and apply moves every channel with PostgreSQL running
				// throughout (no restart, no failover) and the rows kept. One
				// client writes to the leader directly and one through the
				// tenant, each on a new connection every 100 ms (sslmode=prefer):
				// no direct write may fail; the tenant's pause (its checks fail
				// from the leader's REST API switch to HTTPS until the tenant's
				// own update) is logged.
				PreConfig: func() {
					starts = postmasterStarts(t, pool, l)
					direct = startWriteLoop(t, loopTarget{host: hostOf(l, leader), password: password}, 100*time.Millisecond)
					viaProxy = startProxyLoop(t, proxy, 5000, password, 100*time.Millisecond)
				},
				Config: hapConfig(l, [][3]string{a}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("erawan_patroni_cluster.hap", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("erawan_patroni_cluster.hap", tfjsonpath.New("ca_certificate")),
					plancheck.ExpectResourceAction("erawan_haproxy_tenant.ta", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkRouting(proxy, 5000, 5001),
					func(s *terraform.State) error {
						ok, failed, longest, firstErr := direct.finish()
						pok, pfailed, plongest, pfirstErr := viaProxy.finish()
						t.Logf("move to TLS: direct to the leader %d writes, %d failed, longest pause %.1f s; through the tenant %d writes, %d failed, longest pause %.1f s (first error: %v)",
							ok, failed, longest.Seconds(), pok, pfailed, plongest.Seconds(), pfirstErr)
						if failed > 0 || ok == 0 {
							return fmt.Errorf("during the move to TLS %d of %d writes to the leader failed, for up to %.1f s; first: %v", failed, ok+failed, longest.Seconds(), firstErr)
						}
						if pok == 0 {
							return fmt.Errorf("no write went through the tenant during the move; first error: %v", pfirstErr)
						}
						return nil
					},
					checkTLSOf(t, pool, l, "hap", 365),
					resource.TestMatchResourceAttr("erawan_haproxy_tenant.ta", "rendered_config", regexp.MustCompile(`check port 8008 check-ssl verify required ca-file `)),
					func(s *terraform.State) error {
						if now := hapState(s, "leader"); now != leader {
							return fmt.Errorf("the leader changed during the move to TLS: %s, then %s", leader, now)
						}
						if after := postmasterStarts(t, pool, l); !maps.Equal(after, starts) {
							return fmt.Errorf("PostgreSQL restarted during the move to TLS: start times %v, then %v", starts, after)
						}
						return execThroughProxy(proxy, 5000, password, "do $$ begin if (select array_agg(v) from keep_me) is distinct from array[42] then raise 'keep_me lost its row'; end if; end $$")
					},
				),
			},
			{ // failover: stop the leader's Patroni; the read-write port follows
				PreConfig: func() { measureFailover(t, pool, proxy, password) },
				Config:    hapConfig(l, [][3]string{a}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkRouting(proxy, 5000, 5001),
			},
			{ // drift: the tenant's file deleted on the proxy host
				PreConfig: func() { sshRun(t, pool, proxy, "rm /etc/haproxy/conf.d/50-erawan-ta.cfg && systemctl reload haproxy") },
				Config:    hapConfig(l, [][3]string{a}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan(),
						plancheck.ExpectResourceAction("erawan_haproxy_tenant.ta", plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkRouting(proxy, 5000, 5001),
			},
			{ // drift: the tenant's file edited by hand
				PreConfig: func() {
					sshRun(t, pool, proxy, "sed -i 's/maxconn 1000/maxconn 7/' /etc/haproxy/conf.d/50-erawan-ta.cfg")
				},
				Config: hapConfig(l, [][3]string{a}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{ // a second tenant on the same host works
				Config: hapConfig(l, [][3]string{a, b}),
				Check:  resource.ComposeAggregateTestCheckFunc(checkRouting(proxy, 5000, 5001), checkRouting(proxy, 5010, 5011)),
			},
			{ // a third with a clashing port fails cleanly...
				Config:      hapConfig(l, [][3]string{a, b, clash}),
				ExpectError: regexp.MustCompile(`(?s)clash with.*50-erawan-ta\.cfg`),
			},
			{ // ...and the others keep serving
				Config: hapConfig(l, [][3]string{a, b}),
				Check:  resource.ComposeAggregateTestCheckFunc(checkRouting(proxy, 5000, 5001), checkRouting(proxy, 5010, 5011)),
			},
			{
				ResourceName:            "erawan_haproxy_tenant.ta",
				ImportState:             true,
				ImportStateId:           "ta@" + proxy,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

// measureFailover stops Patroni on the current leader and reports how long
// the read-write port takes to reach the new leader.
func measureFailover(t *testing.T, pool *sshclient.Pool, proxy, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	old, _, err := throughProxy(ctx, proxy, 5000, password)
	if err != nil {
		t.Fatalf("before failover: %v", err)
	}
	sshRun(t, pool, old, "systemctl stop erawan-patroni-hap")
	start := time.Now()
	for ctx.Err() == nil {
		addr, rec, err := throughProxy(ctx, proxy, 5000, password)
		if err == nil && addr != old && !rec {
			t.Logf("failover: the read-write port reached the new leader %s %.1f s after Patroni stopped on %s", addr, time.Since(start).Seconds(), old)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the read-write port did not reach a new leader within 3 minutes of stopping %s", old)
}
