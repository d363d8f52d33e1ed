package pgbackrest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Backup is one backup of a stanza, from pgBackRest's
// `info --output=json`.
type Backup struct {
	// Label is the backup's label, such as 20261122-100000F.
	Label string
	// Type is full, diff or incr.
	Type string
	// StartedAt and StoppedAt are when the backup started and stopped
	// (UTC, second precision, from timestamp.start/stop).
	StartedAt, StoppedAt time.Time
	// SizeBytes is the size of the database the backup holds, in bytes
	// (info.size); RepositorySizeBytes what a restore of it reads from the
	// repository, compressed, with the backups it references
	// (info.repository.size); RepositoryDeltaBytes what this backup itself
	// added to the repository (info.repository.delta: less than
	// RepositorySizeBytes for a diff or incr).
	SizeBytes, RepositorySizeBytes, RepositoryDeltaBytes int64
	// WALStart and WALStop are the first and last WAL segments the backup
	// needs (archive.start/stop).
	WALStart, WALStop string
	// Reference lists the labels of the backups a diff or incr builds on.
	Reference []string
	// Error is true when pgBackRest found a checksum error in the backup.
	Error bool
}

// Stanza is one stanza from `info --output=json`.
type Stanza struct {
	Name string
	// StatusCode and StatusMessage are pgBackRest's status of the stanza:
	// 0 "ok", 1 "missing stanza path", 2 "no valid backups", 3 "missing
	// stanza data", 99 "other".
	StatusCode    int
	StatusMessage string
	// Backups are in the order pgBackRest lists them: oldest first.
	Backups []Backup
	// WALMin and WALMax are the oldest and newest WAL segments in the
	// archive of the current database (empty when none is archived), and
	// ArchiveID that archive's id, such as 17-1.
	WALMin, WALMax, ArchiveID string
}

// Status codes of a stanza (pgBackRest src/command/info/info.c).
const (
	StatusOK                = 0
	StatusMissingStanzaPath = 1
	StatusNoBackup          = 2
	StatusMissingStanzaData = 3
)

type infoJSON struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Backup []struct {
		Label     string `json:"label"`
		Type      string `json:"type"`
		Error     bool   `json:"error"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size  int64 `json:"size"`
				Delta int64 `json:"delta"`
			} `json:"repository"`
		} `json:"info"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Reference []string `json:"reference"`
	} `json:"backup"`
	Archive []struct {
		ID  string `json:"id"`
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"archive"`
	DB []struct {
		ID int `json:"id"`
	} `json:"db"`
}

// ParseInfo reads the output of `pgbackrest info --output=json`: every
// stanza it lists.
func ParseInfo(out []byte) ([]Stanza, error) {
	var raw []infoJSON
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("pgbackrest info --output=json: %w", err)
	}
	var stanzas []Stanza
	for _, r := range raw {
		s := Stanza{Name: r.Name, StatusCode: r.Status.Code, StatusMessage: r.Status.Message}
		for _, b := range r.Backup {
			s.Backups = append(s.Backups, Backup{
				Label: b.Label, Type: b.Type, Error: b.Error,
				StartedAt: time.Unix(b.Timestamp.Start, 0).UTC(), StoppedAt: time.Unix(b.Timestamp.Stop, 0).UTC(),
				SizeBytes: b.Info.Size, RepositorySizeBytes: b.Info.Repository.Size, RepositoryDeltaBytes: b.Info.Repository.Delta,
				WALStart: b.Archive.Start, WALStop: b.Archive.Stop, Reference: slices.Clone(b.Reference),
			})
		}
		// The archive of the newest database (the last one listed) is the
		// one WAL is pushed to now.
		if n := len(r.Archive); n > 0 {
			s.WALMin, s.WALMax, s.ArchiveID = r.Archive[n-1].Min, r.Archive[n-1].Max, r.Archive[n-1].ID
		}
		stanzas = append(stanzas, s)
	}
	return stanzas, nil
}

// Find returns the stanza named name, or false.
func Find(stanzas []Stanza, name string) (Stanza, bool) {
	for _, s := range stanzas {
		if s.Name == name {
			return s, true
		}
	}
	return Stanza{}, false
}

// Newest returns the newest backup of the stanza without errors, or false.
func (s Stanza) Newest() (Backup, bool) {
	for i := len(s.Backups) - 1; i >= 0; i-- {
		if !s.Backups[i].Error {
			return s.Backups[i], true
		}
	}
	return Backup{}, false
}

// Earliest is the earliest point in time a restore can reach (with the
// WAL archived since), or false without a backup: the whole second after
// the oldest backup without errors stopped. A backup is consistent only
// from its stop, and pgBackRest restores for a time target only a backup
// that stopped before the target's second (restore --type=time).
func (s Stanza) Earliest() (time.Time, bool) {
	for _, b := range s.Backups {
		if !b.Error {
			return EarliestAfter(b), true
		}
	}
	return time.Time{}, false
}

// EarliestAfter is the earliest point in time a restore from backup b can
// reach: the whole second after it stopped.
func EarliestAfter(b Backup) time.Time { return b.StoppedAt.Truncate(time.Second).Add(time.Second) }

// InfoCommand is the shell command that prints, on the repository host,
// `info --output=json` of stanza in the repository at repositoryPath, as
// RepositoryUser (run it as root). It needs no cluster's configuration
// file, so it reads the backups of a cluster that is gone. Errors: a
// stanza or a path the command cannot carry.
func InfoCommand(repositoryPath, stanza string) (string, error) {
	if err := CheckRepositoryPath(repositoryPath); err != nil {
		return "", err
	}
	if !stanzaRE.MatchString(stanza) {
		return "", fmt.Errorf("stanza %q: want 1-63 characters of a-z, A-Z, 0-9, _ and -", stanza)
	}
	return fmt.Sprintf("runuser -u %s -- pgbackrest --config=/dev/null --log-level-file=off --log-level-console=warn --repo1-path=%s --stanza=%s --output=json info",
		RepositoryUser, repositoryPath, stanza), nil
}

var (
	walSegmentRE = regexp.MustCompile(`^[0-9A-F]{24}$`)
	archiveIDRE  = regexp.MustCompile(`^[0-9]{1,3}-[0-9]{1,9}$`)
)

// WALTimeCommand is the shell command that prints, on the repository host
// (as root), the modification time in Unix seconds of the stanza's newest
// archived WAL segment (Stanza.WALMax, in archive Stanza.ArchiveID): when
// it reached the repository. Errors: values that are not pgBackRest's.
func WALTimeCommand(repositoryPath string, s Stanza) (string, error) {
	if err := CheckRepositoryPath(repositoryPath); err != nil {
		return "", err
	}
	if !stanzaRE.MatchString(s.Name) || !walSegmentRE.MatchString(s.WALMax) || !archiveIDRE.MatchString(s.ArchiveID) {
		return "", fmt.Errorf("stanza %q, archive %q, WAL segment %q: not what pgBackRest names", s.Name, s.ArchiveID, s.WALMax)
	}
	return fmt.Sprintf("stat -c %%Y %s/archive/%s/%s/%s/%s-*", repositoryPath, s.Name, s.ArchiveID, s.WALMax[:16], s.WALMax), nil
}

// ParseWALTime reads WALTimeCommand's output: the newest of the times it
// printed (a segment pushed twice has two files), in UTC.
func ParseWALTime(out []byte) (time.Time, error) {
	var newest int64
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("the newest WAL file's time %q: %w", f, err)
		}
		newest = max(newest, n)
	}
	if newest == 0 {
		return time.Time{}, fmt.Errorf("no WAL file time in %q", out)
	}
	return time.Unix(newest, 0).UTC(), nil
}

// RepositoryUnit is the systemd unit name (without suffix) of a cluster's
// pgBackRest server on its repository host; each scheduled backup type has
// RepositoryUnit-<type>.service and .timer. The playbooks name them the same
// (erawan_pgbackrest_repo_unit).
func RepositoryUnit(cluster string) string { return "erawan-pgbackrest-repository." + cluster }

// probeSeparator ends the unit states in ProbeCommand's output.
const probeSeparator = "--- erawan pgbackrest info ---"

// ProbeCommand is the shell command (run as root on the repository host)
// that prints the state of cluster's repository server and of the timer of
// each type in scheduled (full, diff, incr), one `systemctl is-active`
// line each, then the result of each type's last scheduled run (systemd's
// Result of its service: success until one fails), then InfoCommand's
// output. Errors: as InfoCommand's.
func ProbeCommand(cluster, repositoryPath string, scheduled []string) (string, error) {
	info, err := InfoCommand(repositoryPath, cluster)
	if err != nil {
		return "", err
	}
	units := []string{RepositoryUnit(cluster) + ".service"}
	for _, t := range scheduled {
		units = append(units, RepositoryUnit(cluster)+"-"+t+".timer")
	}
	var b strings.Builder
	for _, u := range units {
		fmt.Fprintf(&b, "systemctl is-active %s || true\n", u)
	}
	for _, t := range scheduled {
		fmt.Fprintf(&b, "r=$(systemctl show -p Result --value %s-%s.service 2>/dev/null); echo \"${r:-unknown}\"\n", RepositoryUnit(cluster), t)
	}
	fmt.Fprintf(&b, "echo '%s'\n%s\n", probeSeparator, info)
	return b.String(), nil
}

// ProbeFindings reads ProbeCommand's output for cluster on host and says,
// one sentence each, what is not as the playbooks leave it (drift): the
// server or a timer not active, the stanza not ok (missing, or without a
// valid backup); and, as failed, the scheduled types whose last run
// failed (a warning: the next run may succeed). Errors: output that is not
// ProbeCommand's.
func ProbeFindings(out []byte, cluster, host string, scheduled []string) (drift, failed []string, err error) {
	states, info, ok := strings.Cut(string(out), probeSeparator+"\n")
	if !ok {
		return nil, nil, fmt.Errorf("no %q in the probe's output: %q", probeSeparator, out)
	}
	lines := strings.Fields(states)
	if len(lines) != 1+2*len(scheduled) {
		return nil, nil, fmt.Errorf("want %d unit states and results, got %q", 1+2*len(scheduled), states)
	}
	for i, t := range scheduled {
		if r := lines[1+len(scheduled)+i]; r != "success" {
			failed = append(failed, fmt.Sprintf("the last scheduled %s backup on %s failed (%s-%s.service: %s); see journalctl -u %s-%s.service there", t, host, RepositoryUnit(cluster), t, r, RepositoryUnit(cluster), t))
		}
	}
	var out2 []string
	if lines[0] != "active" {
		out2 = append(out2, fmt.Sprintf("the pgBackRest server of the repository host %s (%s.service) is %s", host, RepositoryUnit(cluster), lines[0]))
	}
	for i, t := range scheduled {
		if lines[1+i] != "active" {
			out2 = append(out2, fmt.Sprintf("the timer of the scheduled %s backups on %s (%s-%s.timer) is %s", t, host, RepositoryUnit(cluster), t, lines[1+i]))
		}
	}
	stanzas, err := ParseInfo([]byte(info))
	if err != nil {
		return nil, nil, err
	}
	s, found := Find(stanzas, cluster)
	switch {
	case !found:
		out2 = append(out2, fmt.Sprintf("the repository on %s lists no stanza %s", host, cluster))
	case s.StatusCode != StatusOK:
		out2 = append(out2, fmt.Sprintf("stanza %s on %s: %s (pgBackRest status %d)", cluster, host, s.StatusMessage, s.StatusCode))
	}
	return out2, failed, nil
}
