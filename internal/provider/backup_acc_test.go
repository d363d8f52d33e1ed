package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// accBackupsRes is the erawan_patroni_backups data source of accBackupsData.
const accBackupsRes = "data.erawan_patroni_backups.acc"

// accBackupsData lists the backups of stanza acc on node4.
func accBackupsData(l *lab.File) string {
	return fmt.Sprintf(`
data "erawan_patroni_backups" "acc" {
  repository_host = %q
  stanza          = "acc"
}
`, l.Hosts[3].Address)
}

// checkRestoreWindow asserts the data source's window: from the start of
// the first full backup (label fullLabel) to a time after it.
func checkRestoreWindow(fullLabel *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := func(k string) string { return attrOf(s, accBackupsRes, k) }
		earliest, err1 := time.Parse(time.RFC3339, a("earliest_restore_time"))
		latest, err2 := time.Parse(time.RFC3339, a("latest_restore_time"))
		if err1 != nil || err2 != nil || a("backups.0.label") != *fullLabel || a("backups.0.stopped_at") != earliest.Add(-time.Second).Format(time.RFC3339) ||
			latest.Before(earliest.Add(-time.Second)) || time.Since(latest) > time.Hour || latest.After(time.Now().Add(time.Minute)) {
			return fmt.Errorf("restore window %s..%s (%v, %v), first backup %s stopped %s; want it to start the second after %s stopped and end no earlier than that stop, within the last hour",
				a("earliest_restore_time"), a("latest_restore_time"), err1, err2, a("backups.0.label"), a("backups.0.stopped_at"), *fullLabel)
		}
		return nil
	}
}

// stanzaInfo runs pgBackRest's info for stanza name in node4's repository
// (from the repository alone, so also after the cluster is gone) and
// returns the stanza.
func stanzaInfo(ctx context.Context, pool *sshclient.Pool, l *lab.File, name string) (pgbackrest.Stanza, error) {
	cmd, err := pgbackrest.InfoCommand(pgbackrest.DefaultRepositoryPath, name)
	if err != nil {
		return pgbackrest.Stanza{}, err
	}
	out, err := pool.Run(ctx, l.Hosts[3].Address, cmd, nil)
	if err != nil {
		return pgbackrest.Stanza{}, fmt.Errorf("pgbackrest info on %s: %v: %s", l.Hosts[3].Name, err, out)
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		return pgbackrest.Stanza{}, err
	}
	s, ok := pgbackrest.Find(stanzas, name)
	if !ok {
		return s, fmt.Errorf("pgbackrest info lists no stanza %s: %s", name, out)
	}
	return s, nil
}

// checkBackups asserts the backups of cluster acc, with its repository on
// node4: archive_mode on every member and WAL archived by the leader; the
// stanza ok with a full backup taken and WAL in the archive; the
// repository and its configuration closed to other accounts; and the
// scheduled differential backup's service, started by hand, adding a
// differential backup on top of the full one. The full backup's label goes
// into fullLabel.
func checkBackups(t *testing.T, pool *sshclient.Pool, l *lab.File, fullLabel *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := archiveMode(s, "on"); err != nil {
			return err
		}
		if err := sqlOn(s, stateAttr(s, "leader"), func(c *pgx.Conn) error {
			var archived int64
			if err := c.QueryRow(ctx, "select pg_switch_wal() is not null").Scan(new(bool)); err != nil {
				return err
			}
			if err := c.QueryRow(ctx, "select archived_count from pg_stat_archiver").Scan(&archived); err != nil || archived == 0 {
				return fmt.Errorf("the leader archived %d WAL segments (%v)", archived, err)
			}
			return nil
		}); err != nil {
			return err
		}
		st, err := stanzaInfo(ctx, pool, l, "acc")
		if err != nil {
			return err
		}
		full, ok := st.Newest()
		if st.StatusCode != pgbackrest.StatusOK || !ok || full.Type != "full" || st.WALMax == "" {
			return fmt.Errorf("stanza acc: status %d %q, newest backup %+v, archive %s..%s; want ok with a full backup and WAL", st.StatusCode, st.StatusMessage, full, st.WALMin, st.WALMax)
		}
		*fullLabel = full.Label
		t.Logf("backup: stanza acc ok, full backup %s of %d bytes (%d in the repository) in %s, WAL %s..%s",
			full.Label, full.SizeBytes, full.RepositorySizeBytes, full.StoppedAt.Sub(full.StartedAt), st.WALMin, st.WALMax)
		out, err := pool.Run(ctx, l.Hosts[3].Address, fmt.Sprintf("stat -c '%%a %%U %%G %%n' /var/lib/pgbackrest %s/pgbackrest.conf; systemctl is-enabled erawan-pgbackrest-repository.acc-diff.timer; systemctl is-active erawan-pgbackrest-repository.acc.service",
			pgbackrest.RepositoryDir("acc")), nil)
		if want := []string{"750 pgbackrest pgbackrest /var/lib/pgbackrest", "640 root pgbackrest " + pgbackrest.RepositoryDir("acc") + "/pgbackrest.conf", "enabled", "active"}; err != nil || !slices.Equal(strings.Split(strings.TrimSpace(string(out)), "\n"), want) {
			return fmt.Errorf("the repository host's files and units: %q (%v), want %q", out, err, want)
		}
		// The scheduled differential backup, run now.
		if out, err := pool.Run(ctx, l.Hosts[3].Address, "systemctl start erawan-pgbackrest-repository.acc-diff.service", nil); err != nil {
			return fmt.Errorf("running the scheduled differential backup: %v: %s", err, out)
		}
		if st, err = stanzaInfo(ctx, pool, l, "acc"); err != nil {
			return err
		}
		diff, _ := st.Newest()
		if diff.Type != "diff" || !slices.Contains(diff.Reference, full.Label) {
			return fmt.Errorf("after the scheduled differential backup the newest backup is %+v, want a diff on %s", diff, full.Label)
		}
		return nil
	}
}

// archiveMode asserts archive_mode on every member of cluster acc.
func archiveMode(s *terraform.State, want string) error {
	for _, m := range []string{"pg1", "pg2", "pg3"} {
		err := sqlOn(s, m, func(c *pgx.Conn) error {
			var mode string
			if err := c.QueryRow(context.Background(), "show archive_mode").Scan(&mode); err != nil || mode != want {
				return fmt.Errorf("%s: archive_mode = %q (%v), want %s", m, mode, err, want)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkBackupsOff asserts that cluster acc no longer archives WAL or runs
// pgBackRest, on its members or on node4, and that node4 keeps its backups.
func checkBackupsOff(pool *sshclient.Pool, l *lab.File) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := archiveMode(s, "off"); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, h := range l.Hosts[:3] {
			out, err := pool.Run(ctx, h.Address, "test -e /etc/erawan/acc/pgbackrest.conf && echo pgbackrest.conf; test -e /etc/systemd/system/erawan-pgbackrest-acc.service && echo unit; systemctl is-active erawan-pgbackrest-acc || true", nil)
			if err != nil || strings.TrimSpace(string(out)) != "inactive" {
				return fmt.Errorf("%s after backups were removed: %q (%v); want no pgBackRest configuration or server of acc", h.Name, out, err)
			}
		}
		return checkRepositoryKept(ctx, pool, l, "acc")
	}
}

// checkFirstBackup asserts that cluster name, created with backups into
// node4, has its stanza ok with one full backup and WAL archived.
func checkFirstBackup(t *testing.T, pool *sshclient.Pool, l *lab.File, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stanzaInfo(ctx, pool, l, name)
		if err != nil {
			return err
		}
		full, ok := st.Newest()
		if st.StatusCode != pgbackrest.StatusOK || len(st.Backups) != 1 || !ok || full.Type != "full" || st.WALMax == "" {
			return fmt.Errorf("stanza %s after create: status %d %q, backups %+v, WAL %q; want ok with one full backup and WAL", name, st.StatusCode, st.StatusMessage, st.Backups, st.WALMax)
		}
		t.Logf("backup at create: stanza %s, full backup %s of %d bytes in %s", name, full.Label, full.SizeBytes, full.StoppedAt.Sub(full.StartedAt))
		return nil
	}
}

// checkBackupsAgain asserts that backups added again to cluster acc found
// the stanza with the backups taken before (label fullLabel) and took no
// new full backup, and that WAL reaches the repository again.
func checkBackupsAgain(pool *sshclient.Pool, l *lab.File, fullLabel *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := archiveMode(s, "on"); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := stanzaInfo(ctx, pool, l, "acc")
		if err != nil {
			return err
		}
		var fulls []string
		for _, b := range st.Backups {
			if b.Type == "full" {
				fulls = append(fulls, b.Label)
			}
		}
		if st.StatusCode != pgbackrest.StatusOK || !slices.Equal(fulls, []string{*fullLabel}) {
			return fmt.Errorf("stanza acc after backups were added again: status %d %q, full backups %v; want ok with only %s", st.StatusCode, st.StatusMessage, fulls, *fullLabel)
		}
		return nil
	}
}

// checkRepositoryKept asserts, after destroy, that node4 no longer runs or
// configures cluster name's pgBackRest, and still holds its backups.
func checkRepositoryKept(ctx context.Context, pool *sshclient.Pool, l *lab.File, name string) error {
	unit := "/etc/systemd/system/" + pgbackrest.RepositoryUnit(name)
	out, err := pool.Run(ctx, l.Hosts[3].Address, fmt.Sprintf(
		"for p in %s %s.service %s-diff.timer; do test -e $p && echo $p; done; test -d /var/lib/pgbackrest/backup/%s || echo 'no backups left'",
		pgbackrest.RepositoryDir(name), unit, unit, name), nil)
	if err != nil || strings.TrimSpace(string(out)) != "" {
		return fmt.Errorf("%s after destroy: %q (%v); want the cluster's pgBackRest configuration and units gone and its backups kept", l.Hosts[3].Name, out, err)
	}
	return nil
}
