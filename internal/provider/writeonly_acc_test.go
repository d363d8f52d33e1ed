package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
)

const woRes = "erawan_patroni_cluster.wo"

// woConfig is a one-node cluster "wo" on lab host 2, on ports of its own,
// whose superuser password is given write-only, with backups into node4
// from create on (a cluster without a replica: the backup is the leader's).
func woConfig(l *lab.File, password string, version int) string {
	return labProviderHCL(l) + fmt.Sprintf(`
resource "erawan_patroni_cluster" "wo" {
  name                          = "wo"
  postgres_version              = 17
  nodes                         = [{ name = "wo1", address = %q }]
  postgres_port                 = 5445
  patroni_port                  = 8021
  etcd_client_port              = 2395
  etcd_peer_port                = 2396
  allowed_cidrs                 = [%q]
  superuser_password_wo         = %q
  superuser_password_wo_version = %d
  deletion_protection           = false
  backup = {
    repository_host = %q
    server_port     = 8433
  }
}
`, l.Hosts[2].Address, labCIDR(l), password, version, l.Hosts[3].Address)
}

// woLogin checks that postgres logs in to "wo" with password (ok) or is refused.
func woLogin(l *lab.File, password string, ok bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", password, "postgres")
		if err == nil {
			c.Close(ctx)
		}
		switch {
		case ok && err != nil:
			return fmt.Errorf("postgres cannot log in with the write-only password: %v", err)
		case !ok && err == nil:
			return fmt.Errorf("postgres still logs in with the password before the rotation")
		}
		return nil
	}
}

// noAttributeHolds fails when any attribute in state holds one of values.
func noAttributeHolds(values ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for name, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				for _, secret := range values {
					if v == secret {
						return fmt.Errorf("state holds a write-only value in %s.%s", name, k)
					}
				}
			}
		}
		return nil
	}
}

// Write-only passwords (#8 §3): a superuser password given with
// superuser_password_wo is used at create and rotated when its version
// changes, and never reaches state: superuser_password stays null.
func TestAccPatroniCluster_writeOnlyPassword(t *testing.T) {
	l := loadLab(t)
	onNodeHosts(t)
	first, second := "wo-first-Passw0rd-1", "wo-second-Passw0rd-2"
	nullPassword := []statecheck.StateCheck{statecheck.ExpectKnownValue(woRes, tfjsonpath.New("superuser_password"), knownvalue.Null())}
	pool := labPool(t, l)
	restoreVars, lateVars := config.Variables{}, config.Variables{}
	var woLeft pgbackrest.Stanza
	labels := map[string]string{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(*terraform.State) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return errors.Join(checkRepositoryKept(ctx, pool, l, "wo"), checkRepositoryKept(ctx, pool, l, "wo_again"))
		},
		Steps: []resource.TestStep{
			{
				Config:            woConfig(l, first, 1),
				ConfigStateChecks: nullPassword,
				Check: resource.ComposeAggregateTestCheckFunc(woLogin(l, first, true), noAttributeHolds(first), checkFirstBackup(t, pool, l, "wo"),
					markRestorePoint(l, first, restoreVars)),
			},
			{ // the same configuration plans nothing
				Config:   woConfig(l, first, 1),
				PlanOnly: true,
			},
			{ // a new value and version rotate the password in place
				Config: woConfig(l, second, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(woRes, plancheck.ResourceActionUpdate)}},
				ConfigStateChecks: nullPassword,
				Check: resource.ComposeAggregateTestCheckFunc(woLogin(l, second, true), woLogin(l, first, false),
					noAttributeHolds(first, second)),
			},
			{ // a new value without a new version changes nothing (a plan warning says so)
				Config:   woConfig(l, "wo-third-Passw0rd-3", 2),
				PlanOnly: true,
			},
			// Restore (#10): a point in time before the stanza's first
			// backup is refused at plan time, after reading the repository.
			{
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: config.Variables{"target_time": config.StringVariable("2020-01-01T00:00:00Z")},
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`Target before the backups`),
			},
			// A time in the window after which nothing committed: the
			// recovery cannot reach it, and apply fails with PostgreSQL's
			// reason from Patroni's log (the resource is tainted).
			{
				PreConfig:       quietPoint(t, l, second, lateVars),
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: lateVars,
				ExpectError:     regexp.MustCompile(`(?s)did not finish.*FATAL:\s+recovery\s+ended\s+before\s+configured\s+recovery\s+target\s+was\s+reached`),
			},
			// A new cluster from stanza "wo" at the time between the two
			// rows written after its first backup (replacing the failed
			// one, whose restore server the destroy removes): the first row
			// only, a new timeline, its own passwords, and nothing left of
			// the restore on the repository host or written to the stanza.
			{
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: restoreVars,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(woRestoredRes, plancheck.ResourceActionDestroyBeforeCreate)}},
				Check: checkRestored(t, pool, l),
			},
			{ // the restored cluster reads back as configured
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: restoreVars,
				PlanOnly:        true,
			},
			// On-demand backups (#10): a differential one, then an
			// incremental one on top of it.
			{
				Config:          woConfig(l, second, 2) + woRestoredConfig(l) + woBackupsConfig(l),
				ConfigVariables: restoreVars,
				Check:           checkOnDemandBackups(t, pool, l, labels),
			},
			{ // import by <cluster_id>/<label>@<repository_host>
				Config:            woConfig(l, second, 2) + woRestoredConfig(l) + woBackupsConfig(l),
				ConfigVariables:   restoreVars,
				ResourceName:      "erawan_patroni_backup.diff",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					return attrOf(s, "erawan_patroni_backup.diff", "id") + "@" + l.Hosts[3].Address, nil
				},
				ImportStateVerifyIgnore: []string{"nodes", "expire_on_destroy", "timeouts"},
			},
			// The incremental one expired by hand: kept in state as
			// expired, and not taken again (the plan after is empty).
			{
				PreConfig:       expireByHand(t, pool, l, labels, "incr"),
				Config:          woConfig(l, second, 2) + woRestoredConfig(l) + woBackupsConfig(l),
				ConfigVariables: restoreVars,
				Check:           checkExpired(labels, "incr"),
			},
			// Destroyed: the differential one (expire_on_destroy) expires.
			{
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: restoreVars,
				Check:           checkBackupGone(pool, l, labels, "diff"),
			},
			// Archiving broken on purpose (both pgBackRest servers stopped,
			// a WAL switch failing to archive): the plan shows it ...
			{
				PreConfig:          breakArchiving(t, pool, l, second),
				Config:             woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables:    restoreVars,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			// ... and apply repairs it: the servers run and WAL is archived.
			{
				Config:          woConfig(l, second, 2) + woRestoredConfig(l),
				ConfigVariables: restoreVars,
				Check:           checkArchiving(pool, l, second),
			},
			// "wo" lost: destroyed, its repository kept ...
			{
				Config:          labProviderHCL(l) + woRestoredConfig(l),
				ConfigVariables: restoreVars,
				Check: resource.ComposeAggregateTestCheckFunc(readStanza(pool, l, "wo", &woLeft), func(*terraform.State) error {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					return checkRepositoryKept(ctx, pool, l, "wo")
				}),
			},
			// ... and a restore from its stanza still works: to the end of
			// the archive, into a cluster with its own stanza.
			{
				Config:          labProviderHCL(l) + woRestoredConfig(l) + woAgainConfig(l),
				ConfigVariables: restoreVars,
				Check:           checkRestoredAfterLoss(t, pool, l, &woLeft),
			},
		},
	})
}
