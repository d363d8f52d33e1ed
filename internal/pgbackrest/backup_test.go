package pgbackrest

import (
	"strings"
	"testing"
)

// The repository host's commands of a cluster's stanza run as the
// repository's account with the cluster's configuration there.
func TestRepositoryCommands(t *testing.T) {
	b, err := BackupCommand("orders", "diff")
	if err != nil || b != "runuser -u pgbackrest -- pgbackrest --config=/etc/erawan/.pgbackrest/orders/pgbackrest.conf --stanza=orders --type=diff --log-level-console=info --log-level-stderr=off backup" {
		t.Errorf("backup: %q (%v)", b, err)
	}
	if _, err := BackupCommand("orders", "snapshot"); err == nil {
		t.Error("an unknown type is refused")
	}
	if _, err := BackupCommand("orders; rm -rf /", "full"); err == nil {
		t.Error("a cluster name with shell characters is refused")
	}
	e, err := ExpireCommand("/srv/pgbackrest", "orders", "20261122-100000F_20261123-010000D")
	if err != nil || e != "runuser -u pgbackrest -- pgbackrest --config=/dev/null --log-level-file=off --log-level-console=info --log-level-stderr=off "+
		"--lock-path=/tmp/pgbackrest-erawan-repository.orders --repo1-path=/srv/pgbackrest --stanza=orders --set=20261122-100000F_20261123-010000D expire" {
		t.Errorf("expire: %q (%v)", e, err)
	}
	if _, err := ExpireCommand("/srv/pgbackrest", "orders", "latest"); err == nil {
		t.Error("a label that is not pgBackRest's is refused")
	}
	if _, err := ExpireCommand("srv", "orders", "20261122-100000F"); err == nil {
		t.Error("a relative repository path is refused")
	}
	if l := NewLabel([]byte("2026-12-07 00:07:01.123 P00   INFO: new backup label = 20261207-000523F_20261207-000701D\n")); l != "20261207-000523F_20261207-000701D" {
		t.Errorf("new label %q", l)
	}
	if !LockBusy([]byte("P00  ERROR: [050]: unable to acquire lock on file")) || LockBusy([]byte("P00 INFO: backup command end")) {
		t.Error("LockBusy")
	}
	if m, _ := MarkerCommand("orders"); m != "cat /etc/erawan/.pgbackrest/orders/erawan.json" {
		t.Errorf("marker: %q", m)
	}
	if id, err := MarkerID([]byte(`{"id": "orders-0f6f3b9e1c2d", "name": "orders"}`)); err != nil || id != "orders-0f6f3b9e1c2d" {
		t.Errorf("marker id %q (%v)", id, err)
	}
	if _, err := MarkerID([]byte(`cat: no such file`)); err == nil {
		t.Error("output that is not a marker is an error")
	}
}

// Dependents are the backups that reference a label, as pgBackRest would
// expire them with it.
func TestDependents(t *testing.T) {
	s := Stanza{Backups: []Backup{
		{Label: "F1"}, {Label: "F1_D1", Reference: []string{"F1"}}, {Label: "F1_I1", Reference: []string{"F1", "F1_D1"}}, {Label: "F2"},
	}}
	if got := strings.Join(s.Dependents("F1_D1"), ","); got != "F1_I1" {
		t.Errorf("dependents of the diff: %q", got)
	}
	if got := strings.Join(s.Dependents("F1"), ","); got != "F1_D1,F1_I1" {
		t.Errorf("dependents of the full: %q", got)
	}
	if got := s.Dependents("F2"); len(got) != 0 {
		t.Errorf("dependents of the newest full: %q", got)
	}
	if b, ok := s.Backup("F1_I1"); !ok || b.Label != "F1_I1" {
		t.Error("Backup finds a label")
	}
}
