package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

const dupRes = "erawan_patroni_cluster.dup"

// dupConfig is a one-node Patroni cluster "dup" on lab host 0, on ports of
// its own so it never meets the other tests' clusters.
func dupConfig(l *lab.File) string {
	return labProviderHCL(l) + fmt.Sprintf(`
resource "erawan_patroni_cluster" "dup" {
  name             = "dup"
  postgres_version = 17
  nodes            = [{ name = "dup1", address = %q }]
  postgres_port    = 5442
  patroni_port     = 8018
  etcd_client_port = 2389
  etcd_peer_port   = 2390
  allowed_cidrs    = [%q]
  deletion_protection = false
}
`, l.Hosts[0].Address, labCIDR(l))
}

// dupSQL runs fn on the dup cluster's only member as postgres.
func dupSQL(s *terraform.State, fn func(context.Context, *pgx.Conn) error) error {
	a := s.RootModule().Resources[dupRes].Primary.Attributes
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connectAt(ctx, a["nodes.0.address"], 5442, "postgres", a["superuser_password"], "postgres")
	if err != nil {
		return fmt.Errorf("connecting to the dup cluster: %w", err)
	}
	defer c.Close(ctx)
	return fn(ctx, c)
}

// markerID is the resource id in the marker of Patroni cluster name on addr.
func markerID(t *testing.T, pool *sshclient.Pool, addr, name string) string {
	t.Helper()
	out, err := pool.Run(context.Background(), addr, "sh -s", []byte(topology.MarkerIDScript(pgcluster.MarkerPath(name))))
	value, ok := strings.CutPrefix(strings.TrimRight(string(out), "\n"), "marker\t")
	if err != nil || !ok {
		t.Fatalf("reading the marker of %s on %s: %v %q", name, addr, err, out)
	}
	owner, _, _ := topology.ParseMarkerLine(value)
	return owner
}

// Fault 1 (#8): a second state with the same configuration is applied
// (preflight refuses it) and then destroyed; the first state's cluster keeps
// running with its data, and its plan stays empty.
func TestAccFaults_sameNameOtherState(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	pool := labPool(t, l)
	addr := l.Hosts[0].Address
	var firstID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{ // the first state creates dup and writes a row
				Config: dupConfig(l),
				Check: func(s *terraform.State) error {
					firstID = s.RootModule().Resources[dupRes].Primary.ID
					return dupSQL(s, func(ctx context.Context, c *pgx.Conn) error {
						_, err := c.Exec(ctx, "create table keep_me (v int); insert into keep_me values (42)")
						return err
					})
				},
			},
			{ // a second state: create refused by preflight, then destroyed
				PreConfig: func() {
					resource.Test(t, resource.TestCase{
						ProtoV6ProviderFactories: protoV6,
						Steps: []resource.TestStep{{
							Config:      dupConfig(l),
							ExpectError: regexp.MustCompile(`(?s)already\s+holds\s+data.*Nothing\s+was\s+changed`),
						}},
						// The test framework destroys the second state here: its
						// create never passed preflight, so no node may change.
						CheckDestroy: func(*terraform.State) error {
							if id := markerID(t, pool, addr, "dup"); id != firstID {
								return fmt.Errorf("after the second state's destroy the marker holds %q, want the first state's %q", id, firstID)
							}
							out, err := pool.Run(context.Background(), addr, "systemctl is-active erawan-patroni-dup erawan-etcd-dup", nil)
							if err != nil {
								return fmt.Errorf("the first state's services after the second state's destroy: %v: %s", err, out)
							}
							return nil
						},
					})
				},
				Config:           dupConfig(l),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(s *terraform.State) error {
					return dupSQL(s, func(ctx context.Context, c *pgx.Conn) error {
						var v int
						if err := c.QueryRow(ctx, "select v from keep_me").Scan(&v); err != nil || v != 42 {
							return fmt.Errorf("the row written before: %d, %v", v, err)
						}
						return nil
					})
				},
			},
		},
		CheckDestroy: func(*terraform.State) error { // the first state's destroy still tears its own cluster down
			out, err := pool.Run(context.Background(), addr, "test -e /etc/erawan/dup && echo left || echo gone", nil)
			if err != nil || strings.TrimSpace(string(out)) != "gone" {
				return fmt.Errorf("/etc/erawan/dup after the first state's destroy: %q %v", out, err)
			}
			return nil
		},
	})
}
