package ansible_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The teardown roles' own ownership fence: a host whose marker holds
// another resource's id (or none) is left before the first destructive
// task; a host whose marker holds this id goes on to it. The runs are
// --check runs on a local connection with the marker directory pointed at
// a temporary directory, so nothing on this machine changes.
func TestTeardownFencesOnTheMarkerID(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	for _, c := range []struct {
		playbook, dirVar, idVar, firstTask string
		vars                               func() map[string]any
	}{
		{"patroni_delete.yml", "erawan_etc", "erawan_cluster_id", "patroni_teardown : Stop and disable Patroni", patroniVars},
		{"mysql_delete.yml", "erawan_my_etc", "erawan_cluster_id", "mysql_common : Read this member's Group Replication state", mysqlVars},
	} {
		for _, owner := range []string{"mine", "another", ""} {
			t.Run(c.playbook+"/"+owner, func(t *testing.T) {
				vars := c.vars()
				markerDir := filepath.Join(t.TempDir(), "etc")
				if err := os.MkdirAll(markerDir, 0o700); err != nil {
					t.Fatal(err)
				}
				id, _ := vars[c.idVar].(string)
				if owner != "" {
					mid := id
					if owner == "another" {
						mid = id + "-other"
					}
					b, _ := json.Marshal(map[string]string{"id": mid})
					if err := os.WriteFile(filepath.Join(markerDir, "erawan.json"), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				vars[c.dirVar] = markerDir
				r := run(t, bin, dir, vars, "--check", "--limit", "pg1", c.playbook)
				started := false
				for _, e := range events(t, r.stdout) {
					if e.Event == "task_start" && strings.HasPrefix(e.Task, c.firstTask) {
						started = true
					}
				}
				if want := owner == "mine"; started != want {
					t.Errorf("marker %q: first destructive task started = %v, want %v\n%s%s", owner, started, want, r.stdout, r.stderr)
				}
				if owner != "mine" && r.err != nil {
					t.Errorf("a fenced host must end quietly, got %v\n%s", r.err, r.stdout)
				}
			})
		}
	}
}
