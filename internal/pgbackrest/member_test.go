package pgbackrest

import (
	"strings"
	"testing"
)

// A member's side of the backups: its pgBackRest server, and archiving
// failing only when the newest failure is after the newest success.
func TestMemberFindings(t *testing.T) {
	cmd, err := MemberProbeCommand("acc", "/usr/lib/postgresql/17/bin", 5432)
	if err != nil || !strings.HasPrefix(cmd, "systemctl is-active erawan-pgbackrest-acc.service || true\necho '"+memberSeparator+"'\n") ||
		!strings.Contains(cmd, "runuser -u postgres -- /usr/lib/postgresql/17/bin/psql -X -A -t -q -h /var/run/postgresql -p 5432 -d postgres -c ") {
		t.Fatalf("%q %v", cmd, err)
	}
	if _, err := MemberProbeCommand("acc;x", "/usr/lib/postgresql/17/bin", 5432); err == nil {
		t.Error("a cluster name with shell characters is refused")
	}
	probe := func(unit, row string) []byte { return []byte(unit + "\n" + memberSeparator + "\n" + row + "\n") }
	for _, c := range []struct {
		name, unit, row string
		want            []string
	}{
		{"healthy leader", "active", "0|f|", nil},
		{"recovered from failures", "active", "4|f|000000010000000000000003", nil},
		{"replica", "active", "0|f|", nil},
		{"PostgreSQL down", "active", "", nil},
		{"failing", "active", "7|t|000000010000000000000009", []string{"WAL archiving from member pg1 (10.0.0.11) is failing: 7 failures, the newest (segment 000000010000000000000009)"}},
		{"server stopped", "inactive", "0|f|", []string{"the pgBackRest server of member pg1 (10.0.0.11, erawan-pgbackrest-acc.service) is inactive"}},
	} {
		got, err := MemberFindings(probe(c.unit, c.row), "acc", "pg1", "10.0.0.11")
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%s: %q, want %q", c.name, got[i], c.want[i])
			}
		}
	}
	if _, err := MemberFindings([]byte("active\n"), "acc", "pg1", "10.0.0.11"); err == nil {
		t.Error("output without the separator is an error")
	}
	if _, err := MemberFindings(probe("active", "x|t|"), "acc", "pg1", "10.0.0.11"); err == nil {
		t.Error("a failed_count that is not a number is an error")
	}
}
