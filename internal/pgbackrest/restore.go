package pgbackrest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultRestoreServerPort is the port of the pgBackRest TLS server that a
// restore runs on the source repository host for as long as it lasts: one
// apart from the backups' DefaultServerPort, which the source cluster's own
// repository server may hold there.
const DefaultRestoreServerPort = 8431

// RestoreCommonName is the common name of the certificate that the source
// repository host's restore server presents: the restored cluster's CA
// issues it, and the members check it (repo1-host-ca-file).
const RestoreCommonName = "pgbackrest-restore"

// labelRE is the shape of a backup label: a full backup's
// (20261122-100000F), or a diff or incr's on top of it
// (20261122-100000F_20261123-010000D).
var labelRE = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$`)

// ValidLabel reports whether s has the shape of a pgBackRest backup label.
func ValidLabel(s string) bool { return labelRE.MatchString(s) }

// Restore is how a new cluster's first member is made from a stanza of
// another cluster's repository: through a pgBackRest TLS server that runs
// on the source repository host only while the create lasts, admits the
// new members' certificates (of the new cluster's CA) for the source
// stanza alone, and reads the repository as its owner. Nothing is written
// to the repository.
type Restore struct {
	// Cluster is the new cluster's name (it names the files and units).
	Cluster string
	// Stanza is the source stanza: the name of the cluster backed up.
	Stanza string
	// RepositoryHost and RepositoryPath are where the source repository
	// is; ServerPort the restore server's port there.
	RepositoryHost string
	RepositoryPath string
	ServerPort     int
	// TargetTime is the point in time to recover to (zero: to the end of
	// the archived WAL). BackupLabel is the backup to restore (empty: the
	// newest one before TargetTime, as pgBackRest chooses); alone, the
	// restore stops at that backup's consistent point.
	TargetTime  time.Time
	BackupLabel string
	// Members are the new cluster's members (the common names the restore
	// server admits); DataDir is PostgreSQL's data directory on them.
	Members []Member
	DataDir string
	// TLSDir holds the members' ca.crt, node.crt and MemberKey;
	// RepositoryDir is the restore server's directory on the source
	// repository host (RestoreDir), with tls/ and RepositoryKey there.
	TLSDir        string
	MemberKey     string
	RepositoryDir string
	RepositoryKey string
	// MemberConfigFile is the members' configuration of the restore.
	MemberConfigFile string
}

// RestoreDir is the directory of the restore server of cluster on the
// source repository host: its configuration, TLS files and marker, apart
// from any cluster's RepositoryDir.
func RestoreDir(cluster string) string { return "/etc/erawan/.pgbackrest-restore/" + cluster }

// RestoreUnit is the systemd unit name (without suffix) of that server.
func RestoreUnit(cluster string) string { return "erawan-pgbackrest-restore." + cluster }

// Validate checks the restore's user inputs; each error names the
// attribute (under restore).
func (r *Restore) Validate() error {
	var errs []error
	if !stanzaRE.MatchString(r.Stanza) {
		errs = append(errs, fmt.Errorf("stanza %q: want 1-63 letters, digits, '_' or '-'", r.Stanza))
	}
	if r.RepositoryHost == "" {
		errs = append(errs, errors.New("repository_host is required"))
	}
	if err := CheckRepositoryPath(r.RepositoryPath); err != nil {
		errs = append(errs, err)
	}
	if r.BackupLabel != "" && !ValidLabel(r.BackupLabel) {
		errs = append(errs, fmt.Errorf("backup_label %q: want a pgBackRest label such as 20261122-100000F or 20261122-100000F_20261123-010000D", r.BackupLabel))
	}
	if r.ServerPort < 1 || r.ServerPort > 65535 {
		errs = append(errs, fmt.Errorf("server_port %d: want 1 to 65535", r.ServerPort))
	}
	return errors.Join(errs...)
}

// pgTime is t as PostgreSQL's recovery_target_time and pgBackRest's
// --target read it: UTC with an explicit offset, which is also the form
// pgBackRest needs to choose the backup set by time.
func pgTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}

func (r *Restore) lockPath() string { return "/tmp/pgbackrest-erawan-restore." + r.Cluster }

// MemberConfig is the members' configuration of the restore: the source
// repository reached over TLS through the restore server, and the source
// stanza's PostgreSQL at the new cluster's data directory. The members run
// no server for it.
func (r *Restore) MemberConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by terraform-provider-erawan for cluster %s (restore from stanza %s). Do not edit.\n[global]\n", r.Cluster, r.Stanza)
	fmt.Fprintf(&b, "repo1-host=%s\nrepo1-host-type=tls\nrepo1-host-port=%d\n", r.RepositoryHost, r.ServerPort)
	fmt.Fprintf(&b, "repo1-host-ca-file=%s/ca.crt\nrepo1-host-cert-file=%s/node.crt\nrepo1-host-key-file=%s/%s\n", r.TLSDir, r.TLSDir, r.TLSDir, r.MemberKey)
	fmt.Fprintf(&b, "repo1-host-config=%s/pgbackrest.conf\n", r.RepositoryDir)
	fmt.Fprintf(&b, "log-level-console=info\nlog-level-file=off\nlock-path=%s\n", r.lockPath())
	fmt.Fprintf(&b, "\n[%s]\npg1-path=%s\n", r.Stanza, r.DataDir)
	return b.String()
}

// RepositoryConfig is the restore server's configuration on the source
// repository host: it admits only the new members' certificates, for the
// source stanza, and reads the repository.
func (r *Restore) RepositoryConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by terraform-provider-erawan for cluster %s (restore from stanza %s). Do not edit.\n[global]\n", r.Cluster, r.Stanza)
	fmt.Fprintf(&b, "log-level-console=info\nlog-level-file=off\nlock-path=%s-repository\n", r.lockPath())
	fmt.Fprintf(&b, "tls-server-address=%s\ntls-server-port=%d\n", r.RepositoryHost, r.ServerPort)
	d := r.RepositoryDir + "/tls"
	fmt.Fprintf(&b, "tls-server-ca-file=%s/ca.crt\ntls-server-cert-file=%s/node.crt\ntls-server-key-file=%s/%s\n", d, d, d, r.RepositoryKey)
	for _, m := range r.Members {
		fmt.Fprintf(&b, "tls-server-auth=%s=%s\n", m.Name, r.Stanza)
	}
	fmt.Fprintf(&b, "\n[%s]\nrepo1-path=%s\n", r.Stanza, r.RepositoryPath)
	return b.String()
}

// Command is the custom bootstrap command Patroni runs on the first member
// (bootstrap.<method>.command, split like a shell would): pgBackRest's
// restore of the chosen backup into the empty data directory. Recovery
// settings come from RecoveryConf, which Patroni writes after it.
func (r *Restore) Command() string {
	args := []string{"/usr/bin/pgbackrest", "--config=" + r.MemberConfigFile, "--stanza=" + r.Stanza}
	if r.BackupLabel != "" {
		args = append(args, "--set="+r.BackupLabel)
	}
	if !r.TargetTime.IsZero() {
		// With a time target and no set, pgBackRest restores the newest
		// backup that stopped before it.
		args = append(args, "--type=time", "'--target="+pgTime(r.TargetTime)+"'", "--target-action=promote")
	}
	return strings.Join(append(args, "restore"), " ")
}

// RecoveryConf is Patroni's bootstrap.<method>.recovery_conf: PostgreSQL
// fetches WAL from the source stanza (restore_command) up to the target,
// then promotes to a new timeline. Without a target it recovers to the end
// of the archive; with only a backup label, to that backup's consistent
// point.
func (r *Restore) RecoveryConf() map[string]string {
	c := map[string]string{
		"restore_command":        RestoreCommand(r.MemberConfigFile, r.Stanza),
		"recovery_target_action": "promote",
	}
	switch {
	case !r.TargetTime.IsZero():
		c["recovery_target_time"] = pgTime(r.TargetTime)
	case r.BackupLabel != "":
		c["recovery_target"] = "immediate"
	}
	return c
}
