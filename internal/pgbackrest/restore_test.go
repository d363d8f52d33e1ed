package pgbackrest

import (
	"strings"
	"testing"
	"time"
)

func testRestore() *Restore {
	return &Restore{
		Cluster: "orders_copy", Stanza: "orders", RepositoryHost: "10.0.0.5", RepositoryPath: DefaultRepositoryPath, ServerPort: DefaultRestoreServerPort,
		Members: []Member{{"c1", "10.0.0.21"}, {"c2", "10.0.0.22"}}, DataDir: "/var/lib/erawan/orders_copy/postgresql/data",
		TLSDir: "/etc/erawan/orders_copy/tls", MemberKey: "postgres.key", RepositoryDir: RestoreDir("orders_copy"), RepositoryKey: "pgbackrest.key",
		MemberConfigFile: "/etc/erawan/orders_copy/pgbackrest-restore.conf",
	}
}

// The members reach the source repository through the restore server with
// the new cluster's certificates, for the source stanza, into their own
// data directory; the server admits each new member for that stanza only.
func TestRestoreConfigs(t *testing.T) {
	r := testRestore()
	m := r.MemberConfig()
	lines(t, m, "repo1-host=10.0.0.5", "repo1-host-type=tls", "repo1-host-port=8431",
		"repo1-host-ca-file=/etc/erawan/orders_copy/tls/ca.crt", "repo1-host-cert-file=/etc/erawan/orders_copy/tls/node.crt",
		"repo1-host-key-file=/etc/erawan/orders_copy/tls/postgres.key", "repo1-host-config=/etc/erawan/.pgbackrest-restore/orders_copy/pgbackrest.conf",
		"lock-path=/tmp/pgbackrest-erawan-restore.orders_copy", "[orders]", "pg1-path=/var/lib/erawan/orders_copy/postgresql/data")
	if strings.Contains(m, "tls-server") || strings.Contains(m, "repo1-path") {
		t.Errorf("a member runs no server for a restore and holds no repository path:\n%s", m)
	}
	s := r.RepositoryConfig()
	lines(t, s, "tls-server-address=10.0.0.5", "tls-server-port=8431",
		"tls-server-ca-file=/etc/erawan/.pgbackrest-restore/orders_copy/tls/ca.crt",
		"tls-server-key-file=/etc/erawan/.pgbackrest-restore/orders_copy/tls/pgbackrest.key",
		"tls-server-auth=c1=orders", "tls-server-auth=c2=orders", "[orders]", "repo1-path=/var/lib/pgbackrest",
		"lock-path=/tmp/pgbackrest-erawan-restore.orders_copy-repository")
	if strings.Contains(s, "retention") || strings.Contains(s, "pg1-") {
		t.Errorf("the restore server neither expires backups nor reaches a PostgreSQL:\n%s", s)
	}
}

// The bootstrap command and recovery settings for each kind of target.
func TestRestoreTargets(t *testing.T) {
	r := testRestore()
	if got, want := r.Command(), "/usr/bin/pgbackrest --config=/etc/erawan/orders_copy/pgbackrest-restore.conf --stanza=orders restore"; got != want {
		t.Errorf("latest: command %q, want %q", got, want)
	}
	rc := r.RecoveryConf()
	if rc["restore_command"] != `pgbackrest --config=/etc/erawan/orders_copy/pgbackrest-restore.conf --stanza=orders archive-get %f "%p"` ||
		rc["recovery_target_action"] != "promote" || len(rc) != 2 {
		t.Errorf("latest: recovery_conf %v; want the source's archive and no target", rc)
	}

	r.TargetTime = time.Date(2026, 11, 22, 17, 0, 1, 250000000, time.FixedZone("ICT", 7*3600))
	if got, want := r.Command(), "/usr/bin/pgbackrest --config=/etc/erawan/orders_copy/pgbackrest-restore.conf --stanza=orders --type=time '--target=2026-11-22 10:00:01.25+00' --target-action=promote restore"; got != want {
		t.Errorf("time: command %q, want %q", got, want)
	}
	if rc := r.RecoveryConf(); rc["recovery_target_time"] != "2026-11-22 10:00:01.25+00" || rc["recovery_target"] != "" {
		t.Errorf("time: recovery_conf %v", rc)
	}

	r.BackupLabel = "20261122-100000F_20261123-010000D"
	if got := r.Command(); !strings.Contains(got, " --set=20261122-100000F_20261123-010000D --type=time ") {
		t.Errorf("label and time: command %q; want the set and the time target", got)
	}
	r.TargetTime = time.Time{}
	if rc := r.RecoveryConf(); rc["recovery_target"] != "immediate" || rc["recovery_target_time"] != "" {
		t.Errorf("label alone: recovery_conf %v; want recovery to the backup's consistent point", rc)
	}
	if got := r.Command(); strings.Contains(got, "--type") {
		t.Errorf("label alone: command %q has a target type", got)
	}
}

func TestRestoreValidate(t *testing.T) {
	if err := testRestore().Validate(); err != nil {
		t.Fatal(err)
	}
	r := testRestore()
	r.Stanza, r.RepositoryPath, r.BackupLabel, r.ServerPort = "a b", "var/x", "latest", 0
	err := r.Validate()
	for _, w := range []string{`stanza "a b"`, `repository_path "var/x"`, `backup_label "latest"`, "server_port 0"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v; want it to name %s", err, w)
		}
	}
	for label, ok := range map[string]bool{"20261122-100000F": true, "20261122-100000F_20261123-010000I": true, "20261122-100000D": false, "20261122-100000F_": false} {
		if ValidLabel(label) != ok {
			t.Errorf("ValidLabel(%q) = %v", label, !ok)
		}
	}
}
