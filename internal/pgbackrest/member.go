package pgbackrest

import (
	"fmt"
	"strconv"
	"strings"
)

// memberSeparator ends the unit state in MemberProbeCommand's output.
const memberSeparator = "--- erawan pg_stat_archiver ---"

// MemberUnit is the systemd unit name (without suffix) of a cluster's
// pgBackRest server on a member (the playbooks' erawan_pgbackrest_unit).
func MemberUnit(cluster string) string { return "erawan-pgbackrest-" + cluster }

// MemberProbeCommand is the shell command (run as root on a member) that
// prints whether cluster's pgBackRest server there is active, then, from
// the member's PostgreSQL (psql in binDir, over the socket on port, as
// postgres), pg_stat_archiver's failed_count, whether last_failed_time is
// after last_archived_time, and last_failed_wal, separated by '|'.
// A replica archives nothing (its row stays empty). Errors: a cluster
// name or binDir the command cannot carry.
func MemberProbeCommand(cluster, binDir string, port int) (string, error) {
	if !stanzaRE.MatchString(cluster) {
		return "", fmt.Errorf("cluster %q: want 1-63 characters of a-z, A-Z, 0-9, _ and -", cluster)
	}
	if err := CheckRepositoryPath(binDir); err != nil {
		return "", fmt.Errorf("binDir: %w", err)
	}
	return fmt.Sprintf("systemctl is-active %s.service || true\necho '%s'\n"+
		"runuser -u postgres -- %s/psql -X -A -t -q -h /var/run/postgresql -p %d -d postgres -c "+
		"\"select failed_count, coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false), coalesce(last_failed_wal, '') from pg_stat_archiver\" 2>/dev/null || true\n",
		MemberUnit(cluster), memberSeparator, binDir, port), nil
}

// MemberFindings reads MemberProbeCommand's output for member on host and
// says, one sentence each, what is wrong with its side of the backups:
// its pgBackRest server not active (the repository host cannot back it
// up), or WAL archiving failing (the newest failure after the newest
// success). A PostgreSQL that did not answer is not a finding (the
// cluster's own drift reports it). Errors: output that is not the probe's.
func MemberFindings(out []byte, cluster, member, host string) ([]string, error) {
	state, archiver, ok := strings.Cut(string(out), memberSeparator+"\n")
	if !ok {
		return nil, fmt.Errorf("no %q in the member probe's output: %q", memberSeparator, out)
	}
	var findings []string
	if s := strings.TrimSpace(state); s != "active" {
		findings = append(findings, fmt.Sprintf("the pgBackRest server of member %s (%s, %s.service) is %s", member, host, MemberUnit(cluster), s))
	}
	fields := strings.Split(strings.TrimSpace(archiver), "|")
	if len(fields) != 3 {
		return findings, nil // PostgreSQL did not answer
	}
	failed, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_archiver.failed_count %q: %w", fields[0], err)
	}
	if fields[1] == "t" {
		findings = append(findings, fmt.Sprintf("WAL archiving from member %s (%s) is failing: %d failures, the newest (segment %s) after the newest archived segment; see its PostgreSQL log", member, host, failed, fields[2]))
	}
	return findings, nil
}
