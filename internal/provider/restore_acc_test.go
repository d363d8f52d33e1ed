package provider

import (
	"context"
	"fmt"
	"regexp"
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
		if _, err := c.Exec(ctx, "insert into restore_mark values ('after')"); err != nil {
			return err
		}
		vars["target_time"] = config.StringVariable(target.Format(time.RFC3339))
		return switchAndArchive(ctx, c)
	}
}

// switchAndArchive writes a checkpoint record (WAL, not a commit, so a
// switch always has a segment to close), switches the WAL of the cluster
// c is connected to and waits until the segment switched from has been
// archived.
func switchAndArchive(ctx context.Context, c *pgx.Conn) error {
	var segment string
	if _, err := c.Exec(ctx, "checkpoint"); err != nil {
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
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("WAL segment %s not archived (last archived %q)", segment, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// quietPoint puts in vars' target_time a second after which cluster "wo"
// (superuser password pw) commits nothing, and archives the WAL past it,
// so the time is in the stanza's window but no recovery can reach it.
func quietPoint(t *testing.T, l *lab.File, pw string, vars config.Variables) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", pw, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if err := switchAndArchive(ctx, c); err != nil {
			t.Fatal(err)
		}
		quiet := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(quiet.Add(1300 * time.Millisecond)))
		// WAL without a commit (switchAndArchive's checkpoint record),
		// archived after that second.
		if err := switchAndArchive(ctx, c); err != nil {
			t.Fatal(err)
		}
		vars["target_time"] = config.StringVariable(quiet.Format(time.RFC3339))
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

// woAgainConfig is cluster "wo_again", made on "wo"'s host and ports
// after "wo" was destroyed, from stanza "wo" to the end of its archive,
// with backups of its own (stanza "wo_again") in the same repository.
func woAgainConfig(l *lab.File) string {
	return fmt.Sprintf(`
resource "erawan_patroni_cluster" "wo_again" {
  name                = "wo_again"
  postgres_version    = 17
  nodes               = [{ name = "woa1", address = %q }]
  postgres_port       = 5445
  patroni_port        = 8021
  etcd_client_port    = 2395
  etcd_peer_port      = 2396
  allowed_cidrs       = [%q]
  deletion_protection = false
  restore = {
    repository_host = %q
    stanza          = "wo"
  }
  backup = {
    repository_host = %q
    server_port     = 8433
  }
}
`, l.Hosts[2].Address, labCIDR(l), l.Hosts[3].Address, l.Hosts[3].Address)
}

// checkRestoredAfterLoss asserts cluster "wo_again", restored from the
// stanza of the destroyed "wo" without a target: both rows (the end of the
// archive, past the destroy's last WAL) on a new timeline; its own stanza
// ok with a full backup and its WAL; and stanza "wo" as the destroy left
// it (before: its backups and newest WAL then), nothing archived into it.
func checkRestoredAfterLoss(t *testing.T, pool *sshclient.Pool, l *lab.File, before *pgbackrest.Stanza) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", attrOf(s, "erawan_patroni_cluster.wo_again", "superuser_password"), "postgres")
		if err != nil {
			return fmt.Errorf("the restored cluster's own superuser password: %v", err)
		}
		defer c.Close(ctx)
		var rows []string
		r, err := c.Query(ctx, "select v from restore_mark order by v desc")
		if err == nil {
			rows, err = pgx.CollectRows(r, pgx.RowTo[string])
		}
		var timeline int
		if err == nil {
			err = c.QueryRow(ctx, "select timeline_id from pg_control_checkpoint()").Scan(&timeline)
		}
		if err != nil || strings.Join(rows, ",") != "before,after" || timeline < 2 {
			return fmt.Errorf("rows %v, timeline %d (%v); want both rows on a new timeline", rows, timeline, err)
		}
		if err := switchAndArchive(ctx, c); err != nil {
			return err
		}
		own, err := stanzaInfo(ctx, pool, l, "wo_again")
		if err != nil || own.StatusCode != pgbackrest.StatusOK || len(own.Backups) != 1 || own.Backups[0].Type != "full" || !strings.HasPrefix(own.WALMax, fmt.Sprintf("%08X", timeline)) {
			return fmt.Errorf("stanza wo_again: %+v (%v); want ok with one full backup and WAL of timeline %d", own, err, timeline)
		}
		src, err := stanzaInfo(ctx, pool, l, "wo")
		if err != nil || src.WALMax != before.WALMax || len(src.Backups) != len(before.Backups) {
			return fmt.Errorf("stanza wo after the restore: %d backups, WAL up to %s (%v); want it as the destroy left it: %d backups, WAL up to %s",
				len(src.Backups), src.WALMax, err, len(before.Backups), before.WALMax)
		}
		t.Logf("restore: wo_again restored from the stanza of the destroyed wo on timeline %d, archiving %s into its own stanza", timeline, own.WALMax)
		return nil
	}
}

// readStanza puts stanza name as node4's repository holds it in st.
func readStanza(pool *sshclient.Pool, l *lab.File, name string, st *pgbackrest.Stanza) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var err error
		*st, err = stanzaInfo(ctx, pool, l, name)
		return err
	}
}

// woBackupsConfig adds two on-demand backups of cluster "wo": a
// differential one that is expired when destroyed, and an incremental one
// on top of it.
func woBackupsConfig(l *lab.File) string {
	return fmt.Sprintf(`
resource "erawan_patroni_backup" "diff" {
  cluster_id        = erawan_patroni_cluster.wo.id
  nodes             = erawan_patroni_cluster.wo.nodes
  repository_host   = %[1]q
  type              = "diff"
  expire_on_destroy = true
}

resource "erawan_patroni_backup" "incr" {
  cluster_id      = erawan_patroni_cluster.wo.id
  repository_host = %[1]q
  type            = "incr"
  depends_on      = [erawan_patroni_backup.diff]
}
`, l.Hosts[3].Address)
}

var (
	diffLabelRE = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F_[0-9]{8}-[0-9]{6}D$`)
	incrLabelRE = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F_[0-9]{8}-[0-9]{6}I$`)
)

// checkOnDemandBackups asserts the two backups in state as pgBackRest lists
// them in stanza "wo" (the incremental one on top of the differential
// one), and keeps their labels.
func checkOnDemandBackups(t *testing.T, pool *sshclient.Pool, l *lab.File, labels map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stanzaInfo(ctx, pool, l, "wo")
		if err != nil {
			return err
		}
		for name, re := range map[string]*regexp.Regexp{"diff": diffLabelRE, "incr": incrLabelRE} {
			res := "erawan_patroni_backup." + name
			a := func(k string) string { return attrOf(s, res, k) }
			b, ok := st.Backup(a("label"))
			if !ok || !re.MatchString(a("label")) || a("type") != name || a("expired") != "false" || a("started_at") != b.StartedAt.Format(time.RFC3339) ||
				a("size_bytes") != fmt.Sprint(b.SizeBytes) || a("size_bytes") == "0" || a("wal_start") != b.WALStart || a("wal_stop") == "" ||
				a("id") != a("cluster_id")+"/"+a("label") {
				return fmt.Errorf("%s: state %v; pgBackRest lists %+v (found %v)", res, s.RootModule().Resources[res].Primary.Attributes, b, ok)
			}
			labels[name] = a("label")
		}
		if deps := st.Dependents(labels["diff"]); len(deps) != 1 || deps[0] != labels["incr"] {
			return fmt.Errorf("backups on top of %s: %v; want the incremental one %s", labels["diff"], deps, labels["incr"])
		}
		t.Logf("backup: on demand %s and %s", labels["diff"], labels["incr"])
		return nil
	}
}

// expireByHand expires backup labels[name] of stanza "wo" on node4, as
// retention or an operator would.
func expireByHand(t *testing.T, pool *sshclient.Pool, l *lab.File, labels map[string]string, name string) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, err := pgbackrest.ExpireCommand(pgbackrest.DefaultRepositoryPath, "wo", labels[name])
		if err == nil {
			var out []byte
			out, err = pool.Run(ctx, l.Hosts[3].Address, cmd, nil)
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkBackupGone asserts that stanza "wo" no longer lists labels[name].
func checkBackupGone(pool *sshclient.Pool, l *lab.File, labels map[string]string, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stanzaInfo(ctx, pool, l, "wo")
		if _, ok := st.Backup(labels[name]); err != nil || ok {
			return fmt.Errorf("stanza wo still lists backup %s (%v)", labels[name], err)
		}
		return nil
	}
}

// checkExpired asserts that backup resource name kept labels[name] in
// state and says it expired.
func checkExpired(labels map[string]string, name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		res := "erawan_patroni_backup." + name
		if attrOf(s, res, "expired") != "true" || attrOf(s, res, "label") != labels[name] {
			return fmt.Errorf("%s: expired %q, label %q; want true and %s", res, attrOf(s, res, "expired"), attrOf(s, res, "label"), labels[name])
		}
		return nil
	}
}

// breakArchiving breaks cluster "wo"'s side of its backups on lab host 2:
// its pgBackRest configuration names a repository configuration that does
// not exist (archive-push fails at once) and its pgBackRest server is
// stopped. It switches the WAL and waits until pg_stat_archiver shows
// archiving failing: drift the next plan must report.
func breakArchiving(t *testing.T, pool *sshclient.Pool, l *lab.File, pw string) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := pool.Run(ctx, l.Hosts[2].Address, "sed -i 's|^repo1-host-config=.*|repo1-host-config=/nonexistent/pgbackrest.conf|' /etc/erawan/wo/pgbackrest.conf && systemctl stop "+
			pgbackrest.MemberUnit("wo")+".service", nil); err != nil {
			t.Fatalf("breaking wo's pgBackRest on %s: %v: %s", l.Hosts[2].Name, err, out)
		}
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", pw, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "checkpoint"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "select pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
		for {
			var failing bool
			if err := c.QueryRow(ctx, "select coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) from pg_stat_archiver").Scan(&failing); err != nil {
				t.Fatal(err)
			}
			if failing {
				return
			}
			if ctx.Err() != nil {
				t.Fatal("archiving did not fail with the repository's server stopped")
			}
			time.Sleep(time.Second)
		}
	}
}

// checkArchiving asserts that cluster "wo" archives again: its newest
// archived segment after its newest failure, its pgBackRest servers up.
func checkArchiving(pool *sshclient.Pool, l *lab.File, pw string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := connectAt(ctx, l.Hosts[2].Address, 5445, "postgres", pw, "postgres")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var failing bool
		if err := c.QueryRow(ctx, "select coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) from pg_stat_archiver").Scan(&failing); err != nil || failing {
			return fmt.Errorf("archiving from wo still failing after apply (%v)", err)
		}
		for _, h := range []struct{ host, unit string }{{l.Hosts[2].Address, pgbackrest.MemberUnit("wo")}, {l.Hosts[3].Address, pgbackrest.RepositoryUnit("wo")}} {
			if out, err := pool.Run(ctx, h.host, "systemctl is-active "+h.unit+".service", nil); err != nil {
				return fmt.Errorf("%s on %s after apply: %v: %s", h.unit, h.host, err, out)
			}
		}
		return nil
	}
}
