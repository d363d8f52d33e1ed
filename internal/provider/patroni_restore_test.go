package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
)

// The target of a restore against its stanza's window: the oldest valid
// backup's stop to the newest archived WAL; a label must be a valid backup
// of the stanza, and then the window starts at its stop.
func TestCheckRestoreTarget(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	w := restoreWindow{
		Stanza: pgbackrest.Stanza{Name: "orders", StatusCode: pgbackrest.StatusOK, StatusMessage: "ok", Backups: []pgbackrest.Backup{
			{Label: "20261120-010000F", Type: "full", StoppedAt: at("2026-11-20T01:05:00Z"), Error: true},
			{Label: "20261121-010000F", Type: "full", StoppedAt: at("2026-11-21T01:05:00Z")},
			{Label: "20261121-010000F_20261122-010000D", Type: "diff", StoppedAt: at("2026-11-22T01:02:00Z")},
		}},
		Earliest: at("2026-11-21T01:05:01Z"), Latest: at("2026-11-22T12:00:00Z"),
	}
	for _, c := range []struct {
		name, target, label, want string
	}{
		{"latest", "", "", ""},
		{"in the window", "2026-11-21T18:00:00+07:00", "", ""},
		{"before the oldest valid backup", "2026-11-21T01:00:00Z", "", "restore.target_time 2026-11-21T01:00:00Z is not after 2026-11-21T01:05:00Z (the stop of the oldest backup)"},
		{"in the oldest backup's stop second", "2026-11-21T01:05:00.5Z", "", "The earliest restorable time is 2026-11-21T01:05:01Z"},
		{"the second after it", "2026-11-21T01:05:01Z", "", ""},
		{"after the archive", "2026-11-22T12:00:01Z", "", "after the newest WAL archived in stanza orders in /var/lib/pgbackrest on 10.0.0.5 (2026-11-22T12:00:00Z)"},
		{"a label alone", "", "20261121-010000F_20261122-010000D", ""},
		{"before the labelled backup's stop", "2026-11-21T12:00:00Z", "20261121-010000F_20261122-010000D", "(the stop of backup 20261121-010000F_20261122-010000D)"},
		{"an unknown label", "", "20261119-010000F", "holds no valid backup 20261119-010000F; it holds 20261120-010000F, 20261121-010000F, 20261121-010000F_20261122-010000D"},
		{"a backup with errors", "", "20261120-010000F", "holds no valid backup 20261120-010000F"},
	} {
		var diags diag.Diagnostics
		checkRestoreTarget(&pgcluster.Restore{RepositoryHost: "10.0.0.5", RepositoryPath: "/var/lib/pgbackrest", Stanza: "orders", TargetTime: c.target, BackupLabel: c.label}, w, &diags)
		got := ""
		for _, d := range diags.Errors() {
			got += d.Detail()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: errors %q, want %q", c.name, got, c.want)
		}
	}
	var diags diag.Diagnostics
	checkRestoreTarget(&pgcluster.Restore{RepositoryHost: "10.0.0.5", Stanza: "gone"},
		restoreWindow{Stanza: pgbackrest.Stanza{StatusCode: pgbackrest.StatusMissingStanzaPath, StatusMessage: "missing stanza path"}}, &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), `pgBackRest says "missing stanza path"`) {
		t.Errorf("a missing stanza: %v", diags)
	}
}

// Import rebuilds the restore block from the marker as the plan had it.
func TestRestoreValueRoundTrip(t *testing.T) {
	s := &pgcluster.Spec{Restore: &pgcluster.Restore{RepositoryHost: "10.0.0.5", RepositoryPath: "/srv/pgbackrest", Stanza: "orders", ServerPort: 8431,
		TargetTime: "2026-11-22T10:00:00Z"}}
	var diags diag.Diagnostics
	got := readRestore(context.Background(), restoreValue(s.Marker().Restore), &diags)
	if diags.HasError() || *got != *s.Restore {
		t.Fatalf("round trip: %+v (%v), want %+v", got, diags, s.Restore)
	}
	if v := restoreValue(nil); !v.IsNull() {
		t.Fatalf("no restore in the marker: %v", v)
	}
	if v := restoreValue(s.Marker().Restore); !v.Attributes()["backup_label"].IsNull() {
		t.Fatalf("an absent label imports as %v, want null", v.Attributes()["backup_label"])
	}
}
