package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

var protoV6 = map[string]func() (tfprotov6.ProviderServer, error){
	"erawan": providerserver.NewProtocol6WithError(New("test")()),
}

const (
	accRes  = "erawan_patroni_cluster.acc"
	accData = "data.erawan_patroni_cluster.acc"
)

// nodeHosts serialises the acceptance tests that use node1..4 (clusters on
// default ports, the proxy host's failover measurements, the MySQL test's
// tenant). Measured on this 2-core machine, the MySQL and Patroni lifecycle
// tests side by side took 1176 s and 962 s (each about 240 s in turn at the
// last landing), so they take turns.
var nodeHosts sync.Mutex

// onNodeHosts runs the test one at a time with the others that use
// node1..4. Call it right after loadLab.
func onNodeHosts(t *testing.T) {
	t.Helper()
	t.Parallel()
	nodeHosts.Lock()
	t.Cleanup(nodeHosts.Unlock)
}

// loadLab reads the lab written by `make lab-up`. Outside acceptance runs
// (TF_ACC unset) the test is skipped; in them, a missing lab is a failure.
func loadLab(t *testing.T) *lab.File {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make testacc)")
	}
	p := os.Getenv("ERAWAN_LAB_JSON")
	if p == "" {
		p = "../../.lab/lab.json"
	}
	l, err := lab.Load(p)
	if err != nil {
		t.Fatalf("the acceptance tests need the lab: run `make lab-up` (%v)", err)
	}
	if len(l.Hosts) < 3 {
		t.Fatalf("the lab has %d hosts; these tests need 3", len(l.Hosts))
	}
	return l
}

// labCIDR is the lab's /24, derived from its first host.
func labCIDR(l *lab.File) string {
	a := l.Hosts[0].Address
	return a[:strings.LastIndex(a, ".")] + ".0/24"
}

func labPool(t *testing.T, l *lab.File) *sshclient.Pool {
	t.Helper()
	p, err := sshclient.New(sshclient.Config{Settings: l.Settings()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// accTLS is the lifecycle test's tls block: 2-day node certificates renewed
// within a day of expiry, so a later step can make them due (accRenewTLS).
const (
	accTLS      = "tls = { validity_days = 2, renew_before_days = 1 }"
	accRenewTLS = "tls = { validity_days = 5, renew_before_days = 3 }"
)

// accConfig renders the test cluster on lab hosts idx (0-based), member
// names pg<idx+1>.
func accConfig(l *lab.File, idx []int, maxConn int) string {
	return accConfigTLS(l, idx, maxConn, false, accTLS)
}

// accConfigTLS is accConfig with the tls block tlsHCL, and any further
// attributes of the cluster in extra (such as accBackup's block).
func accConfigTLS(l *lab.File, idx []int, maxConn int, protect bool, tlsHCL string, extra ...string) string {
	var nodes []string
	for _, i := range idx {
		nodes = append(nodes, fmt.Sprintf(`{ name = "pg%d", address = %q }`, i+1, l.Hosts[i].Address))
	}
	return labProviderHCL(l) + fmt.Sprintf(`
resource "erawan_patroni_cluster" "acc" {
  name             = "acc"
  postgres_version = 17
  nodes            = [%s]
  allowed_cidrs    = [%q]
  parameters       = { max_connections = "%d" }
  database         = { name = "app", owner = "app" }
  deletion_protection = %t
  %s
  %s
}

data "erawan_patroni_cluster" "acc" {
  addresses          = [for n in erawan_patroni_cluster.acc.nodes : n.address]
  ca_certificate_pem = erawan_patroni_cluster.acc.ca_certificate
  depends_on = [erawan_patroni_cluster.acc]
}
`, strings.Join(nodes, ", "), labCIDR(l), maxConn, protect, tlsHCL, strings.Join(extra, "\n"))
}

// accBackup is the backup block of cluster acc: its repository on node4
// (the fourth lab host), with a daily differential backup.
func accBackup(l *lab.File) string {
	return fmt.Sprintf(`backup = {
    repository_host = %q
    retention_full  = 1
    schedule        = { differential = "daily" }
  }`, l.Hosts[3].Address)
}

// labProviderHCL is the provider block that reaches the lab's hosts.
func labProviderHCL(l *lab.File) string {
	return fmt.Sprintf(`
provider "erawan" {
  ssh = {
    user             = %q
    private_key_file = %q
    known_hosts_file = %q
  }
}
`, l.SSHUser, l.SSHPrivateKeyFile, l.KnownHostsFile)
}

// members returns name -> {role, state, address} from state.
func members(s *terraform.State) (map[string][3]string, error) { return stateMembers(s, accRes) }

// stateMembers returns name -> {role, state, address} of the cluster res from state.
func stateMembers(s *terraform.State, res string) (map[string][3]string, error) {
	rs, ok := s.RootModule().Resources[res]
	if !ok {
		return nil, fmt.Errorf("%s not in state", res)
	}
	n, _ := strconv.Atoi(rs.Primary.Attributes["members.#"])
	out := map[string][3]string{}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("members.%d.", i)
		a := rs.Primary.Attributes
		out[a[p+"name"]] = [3]string{a[p+"role"], a[p+"state"], a[p+"address"]}
	}
	return out, nil
}

func stateAttr(s *terraform.State, key string) string { return attrOf(s, accRes, key) }

// attrOf is the attribute key of resource res in state ("" when absent).
func attrOf(s *terraform.State, res, key string) string {
	rs, ok := s.RootModule().Resources[res]
	if !ok {
		return ""
	}
	return rs.Primary.Attributes[key]
}

// checkHealthy asserts one leader and every other member streaming, in state.
func checkHealthy(want int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ms, err := members(s)
		if err != nil {
			return err
		}
		if len(ms) != want {
			return fmt.Errorf("%d members in state, want %d: %v", len(ms), want, ms)
		}
		leaders := 0
		for name, m := range ms {
			switch {
			case m[0] == "leader" && m[1] == "running":
				leaders++
				if stateAttr(s, "leader") != name {
					return fmt.Errorf("leader attribute %q, but member %s is the leader", stateAttr(s, "leader"), name)
				}
			case m[0] == "replica" || m[0] == "sync_standby":
				if m[1] != "streaming" {
					return fmt.Errorf("replica %s is %q, want streaming", name, m[1])
				}
			default:
				return fmt.Errorf("member %s: role %q state %q", name, m[0], m[1])
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d leaders: %v", leaders, ms)
		}
		return nil
	}
}

func connect(ctx context.Context, host, user, password, db string) (*pgx.Conn, error) {
	return connectAt(ctx, host, 5432, user, password, db)
}

func connectAt(ctx context.Context, host string, port int, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s connect_timeout=10 sslmode=prefer", host, port, db))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, password
	return pgx.ConnectConfig(ctx, cfg)
}

// tlsClient returns an HTTP client tunnelled to host that verifies servers
// against the CA certificate of cluster name as that node holds it
// (/etc/erawan/<name>/tls/ca.crt).
func tlsClient(pool *sshclient.Pool, host, name string, timeout time.Duration) (*http.Client, error) {
	ca, err := pool.Run(context.Background(), host, "cat /etc/erawan/"+name+"/tls/ca.crt", nil)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA on %s: %w", host, err)
	}
	cfg, err := pki.ClientTLS(string(ca), "", "")
	if err != nil {
		return nil, err
	}
	return pool.HTTPSClient(host, timeout, cfg), nil
}

// sqlOn runs fn against a member with the generated superuser password.
func sqlOn(s *terraform.State, member string, fn func(*pgx.Conn) error) error {
	ms, err := members(s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect(ctx, ms[member][2], "postgres", stateAttr(s, "superuser_password"), "postgres")
	if err != nil {
		return fmt.Errorf("connecting to %s as postgres with the generated password: %w", member, err)
	}
	defer c.Close(ctx)
	return fn(c)
}

func sshRun(t *testing.T, pool *sshclient.Pool, addr, cmd string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pool.Run(ctx, addr, cmd, nil); err != nil {
		t.Fatalf("%s on %s: %v", cmd, addr, err)
	}
}

func TestAccPatroniCluster_lifecycle(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	var replica string // a replica's address, chosen after create
	var startTimes map[string]string
	var loopAt loopTarget // the leader, for the client loop during the renewal
	var loop *writeLoop
	var fullLabel string // the first full backup
	all := []int{0, 1, 2}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(s *terraform.State) error {
			ctx := context.Background()
			for _, h := range l.Hosts[:3] {
				out, err := pool.Run(ctx, h.Address, "for p in /etc/erawan/acc /var/lib/erawan/acc /etc/systemd/system/erawan-patroni-acc.service /etc/systemd/system/erawan-etcd-acc.service; do test -e $p && echo $p; done; systemctl is-active erawan-patroni-acc erawan-etcd-acc || true", nil)
				if err != nil {
					return err
				}
				for _, line := range strings.Fields(string(out)) {
					if line != "inactive" && line != "unknown" {
						return fmt.Errorf("%s still has %q after destroy", h.Name, line)
					}
				}
			}
			return checkRepositoryKept(ctx, pool, l, "acc")
		},
		Steps: []resource.TestStep{
			{ // create
				Config: accConfig(l, all, 150),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(accRes, tfjsonpath.New("members"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(accRes, tfjsonpath.New("leader"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(accRes, tfjsonpath.New("members").AtSliceIndex(1).AtMapKey("lag_bytes"), knownvalue.NotNull()),
					statecheck.ExpectSensitiveValue(accRes, tfjsonpath.New("superuser_password")),
					statecheck.ExpectKnownValue(accData, tfjsonpath.New("healthy"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(accData, tfjsonpath.New("scope"), knownvalue.StringExact("acc")),
					statecheck.ExpectKnownValue(accData, tfjsonpath.New("streaming_replicas"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(accData, tfjsonpath.New("members"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(accData, tfjsonpath.New("problems"), knownvalue.ListSizeExact(0)),
					statecheck.CompareValuePairs(accData, tfjsonpath.New("leader"), accRes, tfjsonpath.New("leader"), compare.ValuesSame()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkHealthy(3),
					checkTLS(t, pool, l, 2),
					func(s *terraform.State) error {
						for _, k := range []string{"superuser_password", "replication_password", "rewind_password", "restapi_password", "database_password"} {
							if len(stateAttr(s, k)) < 24 {
								return fmt.Errorf("%s has %d characters, want >= 24", k, len(stateAttr(s, k)))
							}
						}
						ms, _ := members(s)
						for name, m := range ms {
							if m[0] != "leader" {
								replica = m[2]
								_ = name
							}
						}
						return sqlOn(s, stateAttr(s, "leader"), func(c *pgx.Conn) error {
							_, err := c.Exec(context.Background(), "create table keep_me (v int); insert into keep_me values (42)")
							return err
						})
					},
					func(s *terraform.State) error { // the database owner logs in with database_password
						ms, _ := members(s)
						ctx := context.Background()
						c, err := connect(ctx, ms[stateAttr(s, "leader")][2], "app", stateAttr(s, "database_password"), "app")
						if err != nil {
							return fmt.Errorf("connecting as the database owner: %w", err)
						}
						defer c.Close(ctx)
						var owner string
						if err := c.QueryRow(ctx, "select pg_catalog.pg_get_userbyid(datdba) from pg_database where datname = 'app'").Scan(&owner); err != nil || owner != "app" {
							return fmt.Errorf("database app owner %q: %v", owner, err)
						}
						return nil
					},
				),
			},
			{ // nothing changed: the plan is empty
				Config:           accConfig(l, all, 150),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{ // drift: Patroni stopped on a replica
				PreConfig: func() { sshRun(t, pool, replica, "systemctl stop erawan-patroni-acc") },
				Config:    accConfig(l, all, 150),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkHealthy(3),
			},
			{ // drift: etcd down on a node
				PreConfig: func() { sshRun(t, pool, replica, "systemctl stop erawan-etcd-acc") },
				Config:    accConfig(l, all, 150),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkHealthy(3),
			},
			{ // a parameter changed in place (needs a restart: replicas first)
				Config: accConfig(l, all, 200),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(accRes, plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(3), func(s *terraform.State) error {
					for _, m := range []string{"pg1", "pg2", "pg3"} {
						err := sqlOn(s, m, func(c *pgx.Conn) error {
							var v string
							if err := c.QueryRow(context.Background(), "show max_connections").Scan(&v); err != nil {
								return err
							}
							if v != "200" {
								return fmt.Errorf("%s: max_connections = %s, want 200", m, v)
							}
							return nil
						})
						if err != nil {
							return err
						}
					}
					return nil
				}),
			},
			{ // scale 3 -> 2
				Config: accConfig(l, []int{0, 1}, 200),
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(2), func(s *terraform.State) error {
					return sqlOn(s, stateAttr(s, "leader"), checkRow)
				}),
			},
			{ // scale 2 -> 3: the data written before is on the new member
				Config: accConfig(l, all, 200),
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(3), loopAt.capture, func(s *terraform.State) error {
					return sqlOn(s, "pg3", checkRow)
				}),
			},
			{ // backups added in place: pgBackRest on the members and on node4, the
				// stanza, WAL archiving (archive_mode needs a rolling restart) and
				// the first full backup; then the scheduled differential one
				Config: accConfigTLS(l, all, 200, false, accTLS, accBackup(l)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(accRes, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(3), checkBackups(t, pool, l, &fullLabel), func(s *terraform.State) error {
					return sqlOn(s, stateAttr(s, "leader"), checkRow)
				}),
			},
			{ // drift: the repository host's pgBackRest server and timer stopped
				PreConfig: func() {
					sshRun(t, pool, l.Hosts[3].Address, "systemctl stop erawan-pgbackrest-repository.acc.service erawan-pgbackrest-repository.acc-diff.timer")
				},
				Config: accConfigTLS(l, all, 200, false, accTLS, accBackup(l)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					out, err := pool.Run(ctx, l.Hosts[3].Address, "systemctl is-active erawan-pgbackrest-repository.acc.service erawan-pgbackrest-repository.acc-diff.timer", nil)
					if err != nil || strings.Join(strings.Fields(string(out)), " ") != "active active" {
						return fmt.Errorf("after the repair the repository host's server and timer are %q (%v)", out, err)
					}
					return nil
				},
			},
			{ // renewal: renew_before_days now exceeds the time left, so the plan
				// shows an update (with a warning) and apply renews every node
				// certificate in place, with reloads and no restart. A client
				// writes through a new verify-full connection to the leader
				// every 100 ms throughout, and no write may fail.
				PreConfig: func() {
					startTimes = postmasterStarts(t, pool, l)
					loop = startWriteLoop(t, loopAt, 100*time.Millisecond)
				},
				Config: accConfigTLS(l, all, 200, false, accRenewTLS, accBackup(l)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(accRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(accRes, tfjsonpath.New("certificates_expire_at")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(func(*terraform.State) error {
					ok, failed, longest, firstErr := loop.finish()
					t.Logf("renewal: the client loop wrote %d rows through new TLS connections to the leader; %d writes failed, longest outage %.1f s", ok, failed, longest.Seconds())
					if failed > 0 || ok == 0 {
						return fmt.Errorf("during the renewal %d of %d writes through new TLS connections failed, for up to %.1f s; first: %v", failed, ok+failed, longest.Seconds(), firstErr)
					}
					return nil
				}, checkHealthy(3), checkTLS(t, pool, l, 5), func(s *terraform.State) error {
					if after := postmasterStarts(t, pool, l); !maps.Equal(after, startTimes) {
						return fmt.Errorf("PostgreSQL restarted during the renewal: start times %v, then %v", startTimes, after)
					}
					return sqlOn(s, stateAttr(s, "leader"), checkRow)
				}),
			},
			{ // renewed: nothing more to do
				Config:   accConfigTLS(l, all, 200, false, accRenewTLS, accBackup(l)),
				PlanOnly: true,
			},
			{ // drift: a node certificate removed by hand is replaced, and that node reloaded
				PreConfig: func() { sshRun(t, pool, replica, "rm /etc/erawan/acc/tls/node.crt") },
				Config:    accConfigTLS(l, all, 200, false, accRenewTLS, accBackup(l)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(accRes, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(3), checkTLS(t, pool, l, 5)),
			},
			{ // import rebuilds the same state from the nodes
				ResourceName:      accRes,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					return "acc@" + l.Hosts[0].Address + "," + l.Hosts[1].Address + "," + l.Hosts[2].Address, nil
				},
				// timeline and lag are live readings that Patroni may omit for a
				// member that has just joined; compare everything else.
				// database_password is not imported: PostgreSQL keeps only its verifier.
				// tls is the configuration's (import leaves it null: the defaults).
				ImportStateVerifyIgnore: append([]string{"deletion_protection", "timeouts", "database_password", "tls"}, liveMemberFields(3)...),
				ImportStateCheck:        importedWithoutDatabasePassword,
			},
			{ // backups removed in place: archiving off (a rolling restart), the
				// pgBackRest servers and the timer gone, the repository kept
				Config: accConfigTLS(l, all, 200, false, accTLS) + accBackupsData(l),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(accRes, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				// The data source lists what the repository keeps: the full
				// backup and the differential one on top of it.
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(accBackupsRes, tfjsonpath.New("status"), knownvalue.StringExact("ok")),
					statecheck.ExpectKnownValue(accBackupsRes, tfjsonpath.New("backups"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.ObjectPartial(map[string]knownvalue.Check{"type": knownvalue.StringExact("full"), "reference": knownvalue.ListSizeExact(0)}),
						1: knownvalue.ObjectPartial(map[string]knownvalue.Check{"type": knownvalue.StringExact("diff"), "reference": knownvalue.ListSizeExact(1)}),
					})),
					statecheck.ExpectKnownValue(accBackupsRes, tfjsonpath.New("earliest_restore_time"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(accBackupsRes, tfjsonpath.New("latest_restore_time"), knownvalue.NotNull()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkHealthy(3), checkBackupsOff(pool, l), checkRestoreWindow(&fullLabel)),
			},
			{ // backups added again: the stanza and its backups are found, no new full backup
				Config: accConfigTLS(l, all, 200, false, accTLS, accBackup(l)),
				Check:  resource.ComposeAggregateTestCheckFunc(checkHealthy(3), checkBackupsAgain(pool, l, &fullLabel)),
			},
			{ // deletion protection: turning it on changes nothing on the nodes...
				Config: accConfigTLS(l, all, 200, true, accTLS, accBackup(l)),
			},
			{ // ...and refuses destroy at plan time
				Config:      accConfigTLS(l, all, 200, true, accTLS, accBackup(l)),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`Deletion protection is on`),
			},
			{
				Config: accConfigTLS(l, all, 200, false, accTLS, accBackup(l)),
			},
		},
	})
}

func checkRow(c *pgx.Conn) error {
	var v int
	if err := c.QueryRow(context.Background(), "select v from keep_me").Scan(&v); err != nil {
		return fmt.Errorf("reading the row written before scaling: %w", err)
	}
	if v != 42 {
		return fmt.Errorf("keep_me.v = %d, want 42", v)
	}
	return nil
}

// liveMemberFields lists members.N.timeline and members.N.lag_bytes for n
// members: readings that change between two probes of a healthy cluster.
func liveMemberFields(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("members.%d.timeline", i), fmt.Sprintf("members.%d.lag_bytes", i))
	}
	return out
}

// importedWithoutDatabasePassword checks that import left database_password
// null (the nodes keep only a verifier or hash) and still read the roles'
// passwords.
func importedWithoutDatabasePassword(states []*terraform.InstanceState) error {
	if len(states) != 1 {
		return fmt.Errorf("import gave %d resources, want 1", len(states))
	}
	a := states[0].Attributes
	if v, ok := a["database_password"]; ok && v != "" {
		return fmt.Errorf("import read a database_password (%d characters); the nodes should not keep it", len(v))
	}
	if a["database.name"] == "" {
		return fmt.Errorf("import lost the database block: %v", a["database.%"])
	}
	return nil
}

// checkTLS asserts the TLS of cluster acc on the lab: the CA and expiry in
// state; PostgreSQL with verify-full against that CA, and no plaintext
// login; etcd refusing plain HTTP and a client without a certificate, and
// answering one with the node's certificate; the REST API over HTTPS
// verified against the CA; each node key 0600 for its service only, and no
// key left pending.
func checkTLS(t *testing.T, pool *sshclient.Pool, l *lab.File, wantDays float64) resource.TestCheckFunc {
	return checkTLSOf(t, pool, l, "acc", wantDays)
}

// checkTLSOf checks every channel of the Patroni cluster name on the first
// three lab hosts: PostgreSQL with verify-full and no plaintext login, etcd
// with client certificates only, the REST API over HTTPS, key file modes,
// and certificates_expire_at about wantDays ahead.
func checkTLSOf(t *testing.T, pool *sshclient.Pool, l *lab.File, name string, wantDays float64) resource.TestCheckFunc {
	res := "erawan_patroni_cluster." + name
	stateAttr := func(s *terraform.State, key string) string { return attrOf(s, res, key) }
	return func(s *terraform.State) error {
		ctx := context.Background()
		caPEM := stateAttr(s, "ca_certificate")
		if _, err := pki.ParseCertificate(caPEM); err != nil {
			return fmt.Errorf("ca_certificate: %v", err)
		}
		exp, err := time.Parse(time.RFC3339, stateAttr(s, "certificates_expire_at"))
		if days := time.Until(exp).Hours() / 24; err != nil || days < wantDays-0.1 || days > wantDays+0.01 {
			return fmt.Errorf("certificates_expire_at %q: want about %v days ahead (%v)", stateAttr(s, "certificates_expire_at"), wantDays, err)
		}
		caFile := filepath.Join(t.TempDir(), "ca.crt")
		if err := os.WriteFile(caFile, []byte(caPEM), 0o600); err != nil {
			return err
		}
		leader := l.Hosts[0].Address
		ms, _ := stateMembers(s, res)
		for _, m := range ms {
			if m[0] == "leader" {
				leader = m[2]
			}
		}
		password := stateAttr(s, "superuser_password")
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=5432 dbname=postgres connect_timeout=10 sslmode=verify-full sslrootcert=%s", leader, caFile))
		if err != nil {
			return err
		}
		cfg.User, cfg.Password = "postgres", password
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("psql with sslmode=verify-full against ca_certificate: %v", err)
		}
		var ssl bool
		err = c.QueryRow(ctx, "select ssl from pg_stat_ssl where pid = pg_backend_pid()").Scan(&ssl)
		c.Close(ctx)
		if err != nil || !ssl {
			return fmt.Errorf("pg_stat_ssl says ssl=%v (%v)", ssl, err)
		}
		plain, _ := pgx.ParseConfig(fmt.Sprintf("host=%s port=5432 dbname=postgres connect_timeout=10 sslmode=disable", leader))
		plain.User, plain.Password = "postgres", password
		if pc, err := pgx.ConnectConfig(ctx, plain); err == nil {
			pc.Close(ctx)
			return errors.New("a plaintext login succeeded, but require_tls (the default) must refuse it")
		} else if !strings.Contains(err.Error(), "no pg_hba.conf entry") {
			return fmt.Errorf("the plaintext login failed for another reason than pg_hba: %v", err)
		}
		for _, h := range l.Hosts[:3] {
			etcd := "https://" + h.Address + ":2379/health"
			if resp, err := pool.HTTPClient(h.Address, 5*time.Second).Get("http://" + h.Address + ":2379/health"); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return fmt.Errorf("etcd on %s answered plain HTTP: %s", h.Name, body)
				}
			}
			noCert, err := tlsClient(pool, h.Address, name, 5*time.Second)
			if err != nil {
				return err
			}
			if resp, err := noCert.Get(etcd); err == nil {
				resp.Body.Close()
				return fmt.Errorf("etcd on %s answered a client without a certificate (%s)", h.Name, resp.Status)
			}
			out, err := pool.Run(ctx, h.Address, "cd /etc/erawan/"+name+"/tls && ETCDCTL_CACERT=ca.crt ETCDCTL_CERT=node.crt ETCDCTL_KEY=etcd.key etcdctl --endpoints="+
				"https://"+h.Address+":2379 endpoint health && stat -c '%n %a %U' etcd.key postgres.key && ls -A /etc/erawan/.tls-pending 2>/dev/null | grep -c '^"+name+"-' || true", nil)
			if err != nil || !strings.Contains(string(out), "is healthy") ||
				!strings.Contains(string(out), "etcd.key 600 etcd") || !strings.Contains(string(out), "postgres.key 600 postgres") ||
				!strings.HasSuffix(strings.TrimSpace(string(out)), "\n0") {
				return fmt.Errorf("etcd with the node certificate, key modes, pending keys on %s: %v\n%s", h.Name, err, out)
			}
			resp, err := noCert.Get("https://" + h.Address + ":8008/cluster")
			if err != nil {
				return fmt.Errorf("Patroni REST API over HTTPS, verified against the CA, on %s: %v", h.Name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("Patroni GET /cluster on %s: %s", h.Name, resp.Status)
			}
			if served := resp.TLS.PeerCertificates[0].NotAfter; served.Before(exp) || served.After(exp.Add(30*time.Minute)) {
				return fmt.Errorf("the REST API on %s serves a certificate expiring %s; certificates_expire_at is %s", h.Name, served, exp)
			}
		}
		return nil
	}
}

// postmasterStarts returns pg_postmaster_start_time() of PostgreSQL on each
// of the first three lab hosts (port 5432), read on the node over its socket.
func postmasterStarts(t *testing.T, pool *sshclient.Pool, l *lab.File) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range l.Hosts[:3] {
		b, err := pool.Run(context.Background(), h.Address, `runuser -u postgres -- psql -X -h /var/run/postgresql -p 5432 -Atc "select pg_postmaster_start_time()"`, nil)
		if err != nil {
			t.Errorf("reading the postmaster start time on %s: %v", h.Name, err)
		}
		out[h.Name] = strings.TrimSpace(string(b))
	}
	return out
}
