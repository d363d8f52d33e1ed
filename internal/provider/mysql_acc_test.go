package provider

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

const (
	myRes    = "erawan_mysql_cluster.acc"
	myTenant = "erawan_haproxy_tenant.my"
)

// mysqlHosts returns the lab's MySQL hosts (image "mysql"), skipping the
// test when the lab has fewer than three.
func mysqlHosts(t *testing.T, l *lab.File) []lab.Host {
	t.Helper()
	var out []lab.Host
	for _, h := range l.Hosts {
		if h.Image == lab.MySQLImage {
			out = append(out, h)
		}
	}
	if len(out) < 3 {
		t.Fatalf("the lab has %d MySQL hosts; this test needs 3: run `make lab-up LAB_MYSQL_NODES=3`", len(out))
	}
	return out
}

// proxyHost is the lab's fourth Debian host (node4), which carries HAProxy.
func proxyHost(t *testing.T, l *lab.File) lab.Host {
	t.Helper()
	for _, h := range l.Hosts {
		if h.Name == "node4" {
			return h
		}
	}
	t.Fatal("the lab has no node4 for HAProxy")
	return lab.Host{}
}

// myConfig renders a cluster of members db<i> on MySQL hosts idx (0-based)
// with the tls block tlsLine, and a MySQL tenant on node4 in front of it.
func myConfig(l *lab.File, my []lab.Host, proxy lab.Host, idx []int, protect bool, tlsLine string) string {
	var nodes []string
	for _, i := range idx {
		nodes = append(nodes, fmt.Sprintf(`{ name = "db%d", address = %q }`, i+1, my[i].Address))
	}
	return fmt.Sprintf(`
provider "erawan" {
  ssh = {
    private_key_file = %q
    known_hosts_file = %q
  }
}

resource "erawan_mysql_cluster" "acc" {
  name                = "accCluster"
  nodes               = [%s]
  database            = { name = "appdb", user = "appuser" }
  deletion_protection = %t
  %s
}

resource "erawan_haproxy_tenant" "my" {
  name            = "mysqlacc"
  host            = %q
  engine          = "mysql"
  read_write_port = 7000
  read_only_port  = 7001
  backends        = [for n in erawan_mysql_cluster.acc.nodes : n.address]
  depends_on      = [erawan_mysql_cluster.acc]
}
`, l.SSHPrivateKeyFile, l.KnownHostsFile, strings.Join(nodes, ", "), protect, tlsLine, proxy.Address)
}

func myAttr(s *terraform.State, key string) string {
	return s.RootModule().Resources[myRes].Primary.Attributes[key]
}

// myMembers returns name -> {role, state, address} from state.
func myMembers(s *terraform.State) map[string][3]string {
	a := s.RootModule().Resources[myRes].Primary.Attributes
	out := map[string][3]string{}
	for i := 0; ; i++ {
		p := fmt.Sprintf("members.%d.", i)
		name, ok := a[p+"name"]
		if !ok {
			return out
		}
		out[name] = [3]string{a[p+"role"], a[p+"state"], a[p+"address"]}
	}
}

// checkGroup checks n members, all ONLINE, exactly one PRIMARY, and that
// the primary attribute names it.
func checkGroup(n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ms := myMembers(s)
		if len(ms) != n {
			return fmt.Errorf("%d members, want %d: %v", len(ms), n, ms)
		}
		primaries := 0
		for name, m := range ms {
			if m[1] != "ONLINE" {
				return fmt.Errorf("member %s is %s, want ONLINE", name, m[1])
			}
			if m[0] == "PRIMARY" {
				primaries++
				if myAttr(s, "primary") != name {
					return fmt.Errorf("primary = %q, but %s has role PRIMARY", myAttr(s, "primary"), name)
				}
			}
		}
		if primaries != 1 {
			return fmt.Errorf("%d primaries, want 1: %v", primaries, ms)
		}
		return nil
	}
}

// appDB opens a connection as the application user, over TLS or not.
func appDB(s *terraform.State, addr string, port int, useTLS bool) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = "appuser", myAttr(s, "database_password")
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", fmt.Sprintf("%s:%d", addr, port), "appdb"
	cfg.Timeout, cfg.ReadTimeout = 5*time.Second, 10*time.Second
	if useTLS {
		cfg.TLSConfig = "skip-verify" // the chain and address are checked by appDBVerified (checkMySQLTLS)
	} else {
		cfg.TLSConfig = "false"
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, db.Ping()
}

func primaryAddr(s *terraform.State) string {
	return myMembers(s)[myAttr(s, "primary")][2]
}

func secondaryAddr(s *terraform.State) string {
	for _, m := range myMembers(s) {
		if m[0] == "SECONDARY" {
			return m[2]
		}
	}
	return ""
}

// readRow waits up to 30 s for row id on addr to read v.
func readRow(s *terraform.State, addr string, id, want int) error {
	db, err := appDB(s, addr, 3306, true)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer db.Close()
	var v int
	for i := 0; i < 30; i++ {
		if err = db.QueryRow("SELECT v FROM t WHERE id = ?", id).Scan(&v); err == nil && v == want {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("row %d on %s: v=%d, err=%v, want %d", id, addr, v, err, want)
}

// proxyRouting checks that the tenant's read-write port reaches the primary
// (super_read_only off) and its read-only port a secondary.
func proxyRouting(proxy string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		var lastErr error
		for i := 0; i < 60; i++ {
			lastErr = func() error {
				rw, err := appDB(s, proxy, 7000, true)
				if err != nil {
					return err
				}
				defer rw.Close()
				var host string
				var ro int
				if err := rw.QueryRow("SELECT @@report_host, @@super_read_only").Scan(&host, &ro); err != nil {
					return err
				}
				if ro != 0 || host != primaryAddr(s) {
					return fmt.Errorf("read-write port reached %s (super_read_only=%d), want the primary %s", host, ro, primaryAddr(s))
				}
				rdb, err := appDB(s, proxy, 7001, true)
				if err != nil {
					return err
				}
				defer rdb.Close()
				if err := rdb.QueryRow("SELECT @@report_host, @@super_read_only").Scan(&host, &ro); err != nil {
					return err
				}
				if ro != 1 || host == primaryAddr(s) {
					return fmt.Errorf("read-only port reached %s (super_read_only=%d), want a secondary", host, ro)
				}
				return nil
			}()
			if lastErr == nil {
				return nil
			}
			time.Sleep(time.Second)
		}
		return lastErr
	}
}

func TestAccMySQLCluster_lifecycle(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t) // its tenant is on node4; and beside the others the 2 cores slow both more than running in turn
	my := mysqlHosts(t, l)
	proxy := proxyHost(t, l)
	pool := labPool(t, l)
	all := []int{0, 1, 2}
	var secondary string
	var primaryHolder [2]string // primary address and the app password, kept by the create step
	poweredOff, deadCut := false, time.Time{}
	var loop *writeLoop             // the renewal's client
	var loopCA, loopPassword string // what it needs from state
	var loopPrimary string          // the primary before the renewal
	var joinsBefore map[string]int  // group joins per member before the renewal
	mysqlAddrs := []string{my[0].Address, my[1].Address, my[2].Address}
	t.Cleanup(func() {
		if !poweredOff {
			return
		}
		// A step failed while db3's host was off, so the destroy could not
		// reach it: power it on and take what the cluster left there, so
		// the next run starts clean.
		if err := l.PowerOn(context.Background(), my[2].Name); err != nil && !strings.Contains(err.Error(), "already running") {
			t.Errorf("powering %s on again: %v", my[2].Name, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := pool.Run(ctx, my[2].Address, `systemctl disable --now erawan-mysql-check-accCluster 2>/dev/null; `+
			`rm -rf /etc/erawan/mysql-accCluster /etc/mysql/mysql.conf.d/zz-erawan-accCluster.cnf /usr/local/lib/erawan/mysql-accCluster /etc/systemd/system/erawan-mysql-check-accCluster.service `+myTLSDir+`; `+
			`systemctl daemon-reload; systemctl restart mysql && mysql -e "SET sql_log_bin=0; DROP DATABASE IF EXISTS appdb; DROP USER IF EXISTS appuser"`, nil); err != nil {
			t.Errorf("cleaning %s after the failed fault-5 steps: %v %s", my[2].Name, err, out)
		}
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(s *terraform.State) error {
			ctx := context.Background()
			for _, h := range my[:3] {
				out, err := pool.Run(ctx, h.Address, `ls /etc/erawan/mysql-accCluster /etc/mysql/mysql.conf.d/zz-erawan-accCluster.cnf /usr/local/lib/erawan/mysql-accCluster /etc/systemd/system/erawan-mysql-check-accCluster.service `+myTLSDir+` 2>/dev/null; `+
					`mysql -N -e "SELECT COUNT(*) FROM performance_schema.replication_group_members; SELECT COUNT(*) FROM appdb.t"`, nil)
				if err != nil {
					return fmt.Errorf("%s: %v: %s", h.Name, err, out)
				}
				if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "0" || got[1] == "0" {
					return fmt.Errorf("%s after destroy: %q; want no files of the cluster, Group Replication stopped, appdb kept", h.Name, out)
				}
				// The test's own data goes, so the lab can run the test again.
				if _, err := pool.Run(ctx, h.Address, `mysql -e "SET sql_log_bin=0; DROP DATABASE appdb; DROP USER IF EXISTS appuser"`, nil); err != nil {
					return err
				}
			}
			if portOpen(proxy.Address, 7000) {
				return fmt.Errorf("HAProxy still listens on %s:7000", proxy.Address)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // create, without the cluster CA (as clusters made before TLS existed), to move it to TLS below
				Config: myConfig(l, my, proxy, all, false, myNoTLS),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(myRes, tfjsonpath.New("members"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(myRes, tfjsonpath.New("management_mode"), knownvalue.StringExact("group_replication")),
					statecheck.ExpectKnownValue(myRes, tfjsonpath.New("group_name"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`))),
					statecheck.ExpectKnownValue(myRes, tfjsonpath.New("router_rw_port"), knownvalue.Null()),
					statecheck.ExpectSensitiveValue(myRes, tfjsonpath.New("cluster_admin_password")),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGroup(3),
					func(s *terraform.State) error { // the admin password works over TCP from another member
						pw := myAttr(s, "cluster_admin_password")
						if len(pw) < 24 {
							return fmt.Errorf("cluster_admin_password has %d characters", len(pw))
						}
						secondary = secondaryAddr(s)
						primaryHolder = [2]string{primaryAddr(s), myAttr(s, "database_password")}
						opt := "[client]\nuser=clusteradmin\npassword=" + pw + "\n"
						out, err := pool.Run(context.Background(), secondary,
							"mysql --defaults-extra-file=/dev/stdin -h "+primaryAddr(s)+" -N -e 'SELECT CURRENT_USER()'", []byte(opt))
						if err != nil || !strings.Contains(string(out), "clusteradmin@"+secondary) {
							return fmt.Errorf("clusteradmin from %s to the primary: %q, %v", secondary, out, err)
						}
						// ...and not from an address outside the members.
						cfg := mysql.NewConfig()
						cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.Timeout = "clusteradmin", pw, "tcp", primaryAddr(s)+":3306", 5*time.Second
						db, _ := sql.Open("mysql", cfg.FormatDSN())
						defer db.Close()
						if err := db.Ping(); err == nil {
							return fmt.Errorf("clusteradmin logged in from the test host, outside the members' addresses")
						}
						return nil
					},
					func(s *terraform.State) error { // a row written on the primary is read on a secondary
						db, err := appDB(s, primaryAddr(s), 3306, true)
						if err != nil {
							return fmt.Errorf("appuser over TLS: %w", err)
						}
						defer db.Close()
						if _, err := db.Exec("CREATE TABLE t (id INT PRIMARY KEY, v INT)"); err != nil {
							return err
						}
						if _, err := db.Exec("INSERT INTO t VALUES (1, 42)"); err != nil {
							return err
						}
						return readRow(s, secondaryAddr(s), 1, 42)
					},
					func(s *terraform.State) error { // the application user needs TLS
						if db, err := appDB(s, primaryAddr(s), 3306, false); err == nil {
							db.Close()
							return fmt.Errorf("appuser connected without TLS")
						}
						return nil
					},
					func(s *terraform.State) error { // no cluster CA: the servers' own certificates, group communication REQUIRED
						loopPassword = myAttr(s, "database_password")
						if myAttr(s, "ca_certificate") != "" {
							return fmt.Errorf("ca_certificate is set without TLS")
						}
						out, err := pool.Run(context.Background(), primaryAddr(s), `mysql -N -B -e "SELECT @@group_replication_ssl_mode, @@ssl_cert"`, nil)
						if got := strings.Fields(string(out)); err != nil || len(got) != 2 || got[0] != "REQUIRED" || got[1] == myTLSDir+"/node.crt" {
							return fmt.Errorf("without TLS: %q (%v), want REQUIRED and the server's own certificate", out, err)
						}
						return nil
					},
					proxyRouting(proxy.Address),
				),
			},
			{ // nothing changed: the plan is empty
				Config:           myConfig(l, my, proxy, all, false, myNoTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{ // move to TLS in place: the plan shows an update with a CA to come, and apply moves the
				// running group (two rolling passes). A client writes through the tenant's read-write
				// port every 100 ms throughout; writes may pause for the primary changes only.
				PreConfig: func() {
					joinsBefore = groupJoins(t, pool, mysqlAddrs)
					loop = startMySQLLoop(t, proxy.Address, "", loopPassword, 100*time.Millisecond)
				},
				Config: myConfig(l, my, proxy, all, false, myTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(myRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(myRes, tfjsonpath.New("ca_certificate")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(func(*terraform.State) error {
					return finishRollingRestart(t, pool, "move to TLS", loop, mysqlAddrs, joinsBefore, 2)
				}, checkGroup(3), checkMySQLTLS(t, pool, 2), proxyRouting(proxy.Address), func(s *terraform.State) error {
					return readRow(s, secondaryAddr(s), 1, 42)
				}),
			},
			{ // moved: nothing more to do
				Config:   myConfig(l, my, proxy, all, false, myTLS),
				PlanOnly: true,
			},
			{ // drift: the primary-check service down on a secondary shows in the plan...
				PreConfig:          func() { sshRun(t, pool, secondary, "systemctl stop erawan-mysql-check-accCluster") },
				Config:             myConfig(l, my, proxy, all, false, myTLS),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // ...and with Group Replication stopped there too, apply repairs both: the member
				// rejoins without losing rows and the service runs again
				PreConfig: func() { sshRun(t, pool, secondary, `mysql -e "STOP GROUP_REPLICATION"`) },
				Config:    myConfig(l, my, proxy, all, false, myTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(3), func(s *terraform.State) error {
					if out, err := pool.Run(context.Background(), secondary, "systemctl is-active erawan-mysql-check-accCluster", nil); err != nil {
						return fmt.Errorf("the primary-check service on %s after apply: %s %v", secondary, out, err)
					}
					return readRow(s, secondary, 1, 42)
				}, proxyRouting(proxy.Address)),
			},
			{ // failover: MySQL stopped on the primary; the read-write port follows the new primary; apply starts it and it rejoins
				PreConfig: func() { measureMySQLFailover(t, pool, proxy.Address, primaryHolder) },
				Config:    myConfig(l, my, proxy, all, false, myTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(3), proxyRouting(proxy.Address), func(s *terraform.State) error {
					return readRow(s, myMembers(s)["db1"][2], 1, 42)
				}),
			},
			{ // complete outage: Group Replication stopped everywhere; apply refuses to bootstrap over the data
				PreConfig: func() {
					for _, h := range my[:3] {
						sshRun(t, pool, h.Address, `mysql -e "STOP GROUP_REPLICATION"`)
					}
				},
				Config:      myConfig(l, my, proxy, all, false, myTLS),
				ExpectError: regexp.MustCompile(`Complete\s+outage\s+of\s+MySQL\s+cluster\s+accCluster(.|\s)*Nothing\s+was\s+changed`),
			},
			{ // ...the operator bootstraps the member of their choice, as the error says; apply rejoins the others
				PreConfig: func() {
					sshRun(t, pool, my[0].Address, `mysql -e "SET GLOBAL group_replication_bootstrap_group=ON; START GROUP_REPLICATION; SET GLOBAL group_replication_bootstrap_group=OFF"`)
				},
				Config: myConfig(l, my, proxy, all, false, myTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(3), func(s *terraform.State) error {
					return readRow(s, secondaryAddr(s), 1, 42)
				}),
			},
			{ // fault 5 (#8), MySQL: db3 is made the primary, its host loses power for good and it is
				// taken out of nodes; apply succeeds on the members that stay, Group Replication no longer
				// lists it, and the group takes writes without it
				PreConfig: func() {
					sshRun(t, pool, my[2].Address, `mysql -e "SELECT group_replication_set_as_primary(@@server_uuid)"`)
					poweredOff = true // before the attempt, so a half-done power-off is undone too
					if err := l.PowerOff(my[2].Name); err != nil {
						t.Fatal(err)
					}
					deadCut = time.Now()
				},
				Config: myConfig(l, my, proxy, []int{0, 1}, false, myTLS),
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(2), func(s *terraform.State) error {
					t.Logf("figure: removing the dead primary db3 took %.1fs from the power cut to the end of apply", time.Since(deadCut).Seconds())
					out, err := pool.Run(context.Background(), my[1].Address,
						`mysql -N -e "SELECT MEMBER_HOST, MEMBER_STATE FROM performance_schema.replication_group_members"`, nil)
					if err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 1 || strings.Contains(string(out), my[2].Address) || strings.Contains(string(out), my[2].Name) {
						return fmt.Errorf("Group Replication members after the removal (want the 2 that stay): %v\n%s", err, out)
					}
					db, err := appDB(s, primaryAddr(s), 3306, true)
					if err != nil {
						return err
					}
					defer db.Close()
					if _, err := db.Exec("INSERT INTO t VALUES (2, 43)"); err != nil {
						return err
					}
					return readRow(s, secondaryAddr(s), 2, 43)
				}, proxyRouting(proxy.Address)),
			},
			{ // ...its host comes back with its old data, and db3 is added again (by clone, over
				// the recovery channel verified against the CA), with the row written without it
				PreConfig: func() {
					if err := l.PowerOn(context.Background(), my[2].Name); err != nil {
						t.Fatal(err)
					}
					poweredOff = false
				},
				Config: myConfig(l, my, proxy, all, false, myTLS),
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(3), func(s *terraform.State) error {
					loopCA, loopPassword, loopPrimary = myAttr(s, "ca_certificate"), myAttr(s, "database_password"), primaryAddr(s)
					return readRow(s, my[2].Address, 2, 43)
				}),
			},
			{ // renewal: renew_before_days now exceeds the time left, so the plan shows an update
				// and apply renews every member's certificate in place (the primary last, after a
				// handover). A client writes through the tenant's read-write port on a new verified
				// connection every 100 ms throughout; writes may pause for the primary change only.
				PreConfig: func() {
					joinsBefore = groupJoins(t, pool, mysqlAddrs)
					loop = startMySQLLoop(t, proxy.Address, loopCA, loopPassword, 100*time.Millisecond)
				},
				Config: myConfig(l, my, proxy, all, false, myRenewTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(myRes, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(myRes, tfjsonpath.New("certificates_expire_at")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(func(s *terraform.State) error {
					// group communication took the new certificate: every member rejoined, the primary changed
					if err := finishRollingRestart(t, pool, "renewal", loop, mysqlAddrs, joinsBefore, 1); err != nil {
						return err
					}
					if primaryAddr(s) == loopPrimary {
						return fmt.Errorf("the primary is still %s: it was not handed over before its restart", loopPrimary)
					}
					return nil
				}, checkGroup(3), checkMySQLTLS(t, pool, 5), proxyRouting(proxy.Address)),
			},
			{ // renewed: nothing more to do
				Config:   myConfig(l, my, proxy, all, false, myRenewTLS),
				PlanOnly: true,
			},
			{ // drift: a node certificate removed by hand is replaced, and that member reloaded
				PreConfig: func() { sshRun(t, pool, my[1].Address, "rm "+myTLSDir+"/node.crt") },
				Config:    myConfig(l, my, proxy, all, false, myRenewTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(myRes, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(3), checkMySQLTLS(t, pool, 5)),
			},
			{ // import rebuilds the same state from the nodes
				ResourceName:      myRes,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					return "accCluster@" + my[0].Address + "," + my[1].Address + "," + my[2].Address, nil
				},
				// database_password is not imported: MySQL keeps only its hash.
				// tls is the configuration's (import leaves the defaults).
				ImportStateVerifyIgnore: []string{"deletion_protection", "timeouts", "database_password", "tls"},
				ImportStateCheck:        importedWithoutDatabasePassword,
			},
			{ // scale 3 -> 2, removing db1 while it is the primary: the role is handed over first
				PreConfig: func() {
					sshRun(t, pool, my[0].Address, `mysql -e "SELECT group_replication_set_as_primary(@@server_uuid)"`)
				},
				Config: myConfig(l, my, proxy, []int{1, 2}, false, myRenewTLS),
				Check: resource.ComposeAggregateTestCheckFunc(checkGroup(2), func(s *terraform.State) error {
					if out, err := pool.Run(context.Background(), my[0].Address, `mysql -N -e "SELECT v FROM appdb.t WHERE id = 2"`, nil); err != nil || strings.TrimSpace(string(out)) != "43" {
						return fmt.Errorf("db1 after its removal: row 2 reads %q (%v), want its data kept", out, err)
					}
					return readRow(s, primaryAddr(s), 2, 43)
				}, proxyRouting(proxy.Address)),
			},
			{ // deletion protection refuses destroy at plan time
				Config: myConfig(l, my, proxy, []int{1, 2}, true, myRenewTLS),
			},
			{
				Config:      myConfig(l, my, proxy, []int{1, 2}, true, myRenewTLS),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`Deletion protection is on`),
			},
			{
				Config: myConfig(l, my, proxy, []int{1, 2}, false, myRenewTLS),
			},
		},
	})
}

// measureMySQLFailover stops MySQL on the primary and reports how long the
// tenant's read-write port takes to reach a new, writable primary.
func measureMySQLFailover(t *testing.T, pool *sshclient.Pool, proxy string, primary [2]string) {
	t.Helper()
	old, pw := primary[0], primary[1]
	start := time.Now()
	sshRun(t, pool, old, "systemctl stop mysql")
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "appuser", pw, "tcp", proxy+":7000", "appdb"
	cfg.Timeout, cfg.ReadTimeout, cfg.TLSConfig = 2*time.Second, 2*time.Second, "skip-verify"
	for time.Since(start) < 2*time.Minute {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			var host string
			var ro int
			err = db.QueryRow("SELECT @@report_host, @@super_read_only").Scan(&host, &ro)
			db.Close()
			if err == nil && host != old && ro == 0 {
				t.Logf("failover: the read-write port reached the new primary %s %.1f s after MySQL stopped on %s", host, time.Since(start).Seconds(), old)
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the read-write port did not reach a new primary within 2 minutes of MySQL stopping on %s", old)
}
