package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

const woRestoredRes = "erawan_patroni_cluster.wo_r"

// woRestoredConfig adds to the configuration a one-node cluster "wo_r" on
// lab host 2, on ports of its own, restored from stanza "wo" on node4 up to
// var.target_time.
func woRestoredConfig(l *lab.File) string {
	return fmt.Sprintf(`
variable "target_time" {
  type = string
}

resource "erawan_patroni_cluster" "wo_r" {
  name                = "wo_r"
  postgres_version    = 17
  nodes               = [{ name = "wor1", address = %q }]
  postgres_port       = 5451
  patroni_port        = 8031
  etcd_client_port    = 2411
  etcd_peer_port      = 2412
  allowed_cidrs       = [%q]
  deletion_protection = false
  restore = {
    repository_host = %q
    stanza          = "wo"
    target_time     = var.target_time
  }
}
`, l.Hosts[2].Address, labCIDR(l), l.Hosts[3].Address)
}

// markRestorePoint writes, in cluster "wo" (superuser password pw), a row
// "before", then a row "after" a little past the second that it puts in
// vars' target_time, and waits until the WAL holding both has reached the
// repository.
func markRestorePoint(l *lab.File, pw string, vars config.Variables) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", pw, "postgres")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "create table restore_mark (v text); insert into restore_mark values ('before')"); err != nil {
			return err
		}
		target := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(target.Add(700 * time.Millisecond)))
		var segment string
		if _, err := c.Exec(ctx, "insert into restore_mark values ('after')"); err != nil {
			return err
		}
		if err := c.QueryRow(ctx, "select pg_walfile_name(pg_switch_wal())").Scan(&segment); err != nil {
			return err
		}
		for {
			var last string
			if err := c.QueryRow(ctx, "select coalesce(last_archived_wal, '') from pg_stat_archiver").Scan(&last); err != nil {
				return err
			}
			if last >= segment {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("WAL segment %s not archived (last archived %q)", segment, last)
			}
			time.Sleep(500 * time.Millisecond)
		}
		vars["target_time"] = config.StringVariable(target.Format(time.RFC3339))
		return nil
	}
}

// checkRestored asserts the cluster restored from "wo": it holds the row
// written before the target and not the one after, runs on a new timeline,
// and logs in with its own superuser password; the restore server and the
// members' restore configuration are gone; and nothing was written to
// stanza "wo" (no WAL of a later timeline in its archive).
func checkRestored(t *testing.T, pool *sshclient.Pool, l *lab.File) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5451, "postgres", attrOf(s, woRestoredRes, "superuser_password"), "postgres")
		if err != nil {
			return fmt.Errorf("the restored cluster's own superuser password: %v", err)
		}
		defer c.Close(ctx)
		var rows []string
		r, err := c.Query(ctx, "select v from restore_mark order by v")
		if err == nil {
			rows, err = pgx.CollectRows(r, pgx.RowTo[string])
		}
		if err != nil || strings.Join(rows, ",") != "before" {
			return fmt.Errorf("restored rows %v (%v); want only the row written before target_time %s", rows, err, attrOf(s, woRestoredRes, "restore.target_time"))
		}
		var timeline int
		var recovering bool
		if err := c.QueryRow(ctx, "select timeline_id, pg_is_in_recovery() from pg_control_checkpoint()").Scan(&timeline, &recovering); err != nil || timeline < 2 || recovering {
			return fmt.Errorf("restored cluster on timeline %d, in recovery %v (%v); want a promoted new timeline", timeline, recovering, err)
		}
		t.Logf("restore: wo_r restored from stanza wo to %s: rows %v, timeline %d", attrOf(s, woRestoredRes, "restore.target_time"), rows, timeline)
		out, err := pool.Run(ctx, l.Hosts[3].Address, fmt.Sprintf(
			"for p in /etc/systemd/system/%s.service %s; do test -e $p && echo $p; done; ss -Htln sport = :%d; ls /var/lib/pgbackrest/archive/wo/*/ | grep -v '^0000000100000000$' || true",
			pgbackrest.RestoreUnit("wo_r"), pgbackrest.RestoreDir("wo_r"), pgbackrest.DefaultRestoreServerPort), nil)
		if err != nil || strings.TrimSpace(string(out)) != "" {
			return fmt.Errorf("%s after the restore: %q (%v); want the restore server gone and stanza wo's archive with timeline 1 only", l.Hosts[3].Name, out, err)
		}
		out, err = pool.Run(ctx, l.Hosts[2].Address,
			"for p in /etc/erawan/wo_r/pgbackrest-restore.conf /run/systemd/system/erawan-patroni-wo_r.service.d/erawan-restore.conf; do test -e $p && echo $p; done; true", nil)
		if err != nil || strings.TrimSpace(string(out)) != "" {
			return fmt.Errorf("%s after the restore: %q (%v); want the member's restore configuration gone", l.Hosts[2].Name, out, err)
		}
		return nil
	}
}
