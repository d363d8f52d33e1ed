package pgbackrest

import (
	"encoding/json"
	"fmt"
	"slices"
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
// goes to standard error. Errors: an unknown type or a cluster name the
// command cannot carry.
func BackupCommand(cluster, typ string) (string, error) {
	if !slices.Contains(BackupTypes, typ) {
		return "", fmt.Errorf("backup type %q: want one of %v", typ, BackupTypes)
	}
	return repositoryCommand(cluster, "--type="+typ, "--log-level-console=info", "--log-level-stderr=info", "backup")
}

// ExpireCommand is the shell command (run as root on the repository host)
// that expires the backup label of cluster's stanza and the backups that
// depend on it (pgBackRest expire --set), and applies the retention as
// any expire does. pgBackRest refuses to expire the only full backup.
func ExpireCommand(cluster, label string) (string, error) {
	if !ValidLabel(label) {
		return "", fmt.Errorf("backup label %q: not a pgBackRest label", label)
	}
	return repositoryCommand(cluster, "--set="+label, "--log-level-console=info", "--log-level-stderr=info", "expire")
}

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
