package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
)

// The backup block survives the marker: import rebuilds from the marker the
// same block that readBackup turned into the spec.
func TestBackupValueRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, sched := range []map[string]string{{}, {"full": "Sun *-*-* 01:00:00", "diff": "daily"}} {
		in := &pgcluster.MarkerBackup{RepositoryHost: "10.0.0.5", RepositoryPath: "/srv/backups", RetentionFull: 3, ServerPort: 8500, Schedule: sched}
		var d diag.Diagnostics
		out := readBackup(ctx, backupValue(in), &d)
		if d.HasError() || out == nil {
			t.Fatalf("readBackup: %v", d)
		}
		if out.RepositoryHost != in.RepositoryHost || out.RepositoryPath != in.RepositoryPath || out.RetentionFull != 3 || out.ServerPort != 8500 || len(out.Schedule) != len(sched) {
			t.Errorf("round trip of %+v gave %+v", in, out)
		}
		for k, v := range sched {
			if out.Schedule[k] != v {
				t.Errorf("schedule %s: %q, want %q", k, out.Schedule[k], v)
			}
		}
	}
	if !backupValue(nil).IsNull() || readBackup(ctx, types.ObjectNull(backupAttrTypes), new(diag.Diagnostics)) != nil {
		t.Error("no backups should be a null block and a nil spec")
	}
}

// An update may add backups to a TLS cluster, change retention or the
// schedule, and remove them (with a warning); it may not add them to a
// plaintext cluster or move the repository.
func TestCheckBackupPlan(t *testing.T) {
	ctx := context.Background()
	block := func(host, path string, port, retention int) types.Object {
		return backupValue(&pgcluster.MarkerBackup{RepositoryHost: host, RepositoryPath: path, RetentionFull: retention, ServerPort: port})
	}
	none := types.ObjectNull(backupAttrTypes)
	ca := types.StringValue("-----BEGIN CERTIFICATE-----")
	base := block("10.0.0.5", "/var/lib/pgbackrest", 8432, 2)
	for _, c := range []struct {
		name        string
		stateCA     types.String
		state, plan types.Object
		wantErr     string
	}{
		{"added to a TLS cluster", ca, none, base, ""},
		{"retention changed", ca, base, block("10.0.0.5", "/var/lib/pgbackrest", 8432, 5), ""},
		{"unchanged", ca, base, base, ""},
		{"added to a plaintext cluster", types.StringNull(), none, base, "Move to TLS first"},
		{"removed", ca, base, none, ""},
		{"host moved", ca, base, block("10.0.0.6", "/var/lib/pgbackrest", 8432, 2), "backup.repository_host changes from 10.0.0.5 to 10.0.0.6"},
		{"path moved", ca, base, block("10.0.0.5", "/srv/pgbackrest", 8432, 2), "backup.repository_path changes"},
		{"port moved", ca, base, block("10.0.0.5", "/var/lib/pgbackrest", 8500, 2), "backup.server_port changes from 8432 to 8500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plan, state patroniClusterModel
			state.CACertificate, state.Backup, plan.Backup = c.stateCA, c.state, c.plan
			var d diag.Diagnostics
			checkBackupPlan(ctx, &plan, &state, &d)
			if warned := len(d.Warnings()) > 0; warned != (c.name == "removed") {
				t.Errorf("warnings %v", d.Warnings())
			}
			switch {
			case c.wantErr == "" && d.HasError():
				t.Errorf("refused: %v", d)
			case c.wantErr != "" && (!d.HasError() || !strings.Contains(d.Errors()[0].Summary()+" "+d.Errors()[0].Detail(), c.wantErr)):
				t.Errorf("want an error with %q, got %v", c.wantErr, d)
			}
		})
	}
}
