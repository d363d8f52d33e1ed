package pgbackrest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// BackupTypes are pgBackRest's backup types (--type): full, diff (the
// changes since the last full backup) and incr (since the last backup).
var BackupTypes = []string{"full", "diff", "incr"}

// repositoryCommand is a pgBackRest command for cluster's stanza on its
// repository host, with the repository host's configuration of that
// cluster (in RepositoryDir), run as RepositoryUser (run it as root).
func repositoryCommand(cluster string, args ...string) (string, error) {
	if !stanzaRE.MatchString(cluster) {
		return "", fmt.Errorf("cluster %q: want 1-63 characters of a-z, A-Z, 0-9, _ and -", cluster)
	}
	cmd := fmt.Sprintf("runuser -u %s -- pgbackrest --config=%s/pgbackrest.conf --stanza=%s", RepositoryUser, RepositoryDir(cluster), cluster)
	for _, a := range args {
		cmd += " " + a
	}
	return cmd, nil
}

// BackupCommand is the shell command (run as root on the repository host)
// that takes a backup of type typ (BackupTypes) of cluster's stanza, as the
// cluster's scheduled backups do: from a replica when one is up. Its log
// goes to standard output, where NewLabel finds the new backup's label. Errors: an unknown type or a cluster name the
// command cannot carry.
func BackupCommand(cluster, typ string) (string, error) {
	if !slices.Contains(BackupTypes, typ) {
		return "", fmt.Errorf("backup type %q: want one of %v", typ, BackupTypes)
	}
	return repositoryCommand(cluster, "--type="+typ, "--log-level-console=info", "--log-level-stderr=off", "backup")
}

// ExpireCommand is the shell command (run as root on the repository host)
// that expires the backup label of stanza in the repository at
// repositoryPath, and the backups that depend on it (pgBackRest expire
// --set; with --set, full and diff retention are not applied). It needs no
// cluster's configuration, so it works after the cluster is gone, and
// takes the repository host's lock of the stanza (LockPath). pgBackRest
// refuses to expire the newest full backup unless an older full one of
// the same database exists.
func ExpireCommand(repositoryPath, stanza, label string) (string, error) {
	if !ValidLabel(label) {
		return "", fmt.Errorf("backup label %q: not a pgBackRest label", label)
	}
	if err := CheckRepositoryPath(repositoryPath); err != nil {
		return "", err
	}
	if !stanzaRE.MatchString(stanza) {
		return "", fmt.Errorf("stanza %q: want 1-63 characters of a-z, A-Z, 0-9, _ and -", stanza)
	}
	return fmt.Sprintf("runuser -u %s -- pgbackrest --config=/dev/null --log-level-file=off --log-level-console=info --log-level-stderr=off --lock-path=%s --repo1-path=%s --stanza=%s --set=%s expire",
		RepositoryUser, LockPath(stanza, true), repositoryPath, stanza, label), nil
}

// newLabelRE finds the label in pgBackRest backup's log line
// "new backup label = <label>".
var newLabelRE = regexp.MustCompile(`new backup label = ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)`)

// NewLabel reads the label of the backup BackupCommand took from its
// output, or "".
func NewLabel(out []byte) string {
	if m := newLabelRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

// LockBusy reports whether pgBackRest's output says another process holds
// the stanza's lock (error 050: a scheduled backup, another backup).
func LockBusy(out []byte) bool { return strings.Contains(string(out), "[050]") }

// MarkerCommand is the shell command (run as root on the repository host)
// that prints the marker of cluster's backups there (RepositoryDir), whose
// id says which cluster resource they belong to.
func MarkerCommand(cluster string) (string, error) {
	if !stanzaRE.MatchString(cluster) {
		return "", fmt.Errorf("cluster %q: want 1-63 characters of a-z, A-Z, 0-9, _ and -", cluster)
	}
	return "cat " + RepositoryDir(cluster) + "/erawan.json", nil
}

// MarkerID reads the id from MarkerCommand's output. Errors: output that
// is not a marker.
func MarkerID(out []byte) (string, error) {
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &m); err != nil || m.ID == "" {
		return "", fmt.Errorf("not a marker of this provider: %q", out)
	}
	return m.ID, nil
}

// Dependents are the labels of the backups of s that build on label (a
// diff or incr that references it).
func (s Stanza) Dependents(label string) []string {
	var out []string
	for _, b := range s.Backups {
		if b.Label != label && slices.Contains(b.Reference, label) {
			out = append(out, b.Label)
		}
	}
	return out
}

// Backup finds the backup label in s.
func (s Stanza) Backup(label string) (Backup, bool) {
	for _, b := range s.Backups {
		if b.Label == label {
			return b, true
		}
	}
	return Backup{}, false
}
