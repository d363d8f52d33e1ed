package mysqlgr

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/testbin"
)

// The scripts never carry a password and are valid Python (compiled with
// python3 when it is installed); the password comes from the environment.
func TestAdminAPIScripts(t *testing.T) {
	s := spec()
	s.Management = ModeAdminAPI
	scripts := s.AdminAPIScripts()
	for _, name := range []string{"configure_instance", "create_cluster", "add_instance", "remove_instance", "set_primary", "rejoin_instance", "status", "dissolve"} {
		src, ok := scripts[name]
		if !ok {
			t.Fatalf("no %s script", name)
		}
		if strings.Contains(src, s.AdminPassword) {
			t.Errorf("%s contains the password", name)
		}
		if !strings.Contains(src, `os.environ["ERAWAN_MYSQL_ADMIN_PASSWORD"]`) {
			t.Errorf("%s does not read the password from the environment", name)
		}
		if name != "configure_instance" && name != "dissolve" && !strings.Contains(src, "report(") {
			t.Errorf("%s does not report cluster.status()", name)
		}
	}
	for want, script := range map[string]string{
		`"recoveryMethod": "clone"`:                         "add_instance",
		`dba.create_cluster(CLUSTER`:                        "create_cluster",
		`"memberSslMode": SSL_MODE`:                         "create_cluster",
		`SSL_MODE = "REQUIRED"`:                             "add_instance",
		`.dissolve({"force": True})`:                        "dissolve",
		`cluster.set_primary_instance(`:                     "set_primary",
		`CLUSTER = "prodCluster"`:                           "status",
		`ALLOW = "10.0.0.21,10.0.0.22,10.0.0.23,127.0.0.1"`: "add_instance",
	} {
		if !strings.Contains(scripts[script], want) {
			t.Errorf("%s lacks %s", script, want)
		}
	}
	s.TLS = &TLS{CAPEM: "CA"}
	if !strings.Contains(s.AdminAPIScripts()["create_cluster"], `SSL_MODE = "VERIFY_IDENTITY"`) {
		t.Error("with the cluster CA, members verify each other's identity")
	}
	py := testbin.Require(t, "python3", "syntax not checked")
	dir := t.TempDir()
	for name, src := range scripts {
		f := filepath.Join(dir, name+".py")
		if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(py, "-m", "py_compile", f).CombinedOutput(); err != nil {
			t.Errorf("%s does not compile: %v: %s", name, err, out)
		}
	}
}

// cluster.status() as documented for MySQL Shell 8.0 (replicationLag),
// 8.4 (replicationLagFromImmediateSource / FromOriginalSource, memberState)
// and 9.x (the same keys, plus fields this parser ignores).
var statusSamples = map[string]string{
	"8.0": `{"clusterName": "prodCluster", "defaultReplicaSet": {"name": "default", "primary": "10.0.0.21:3306", "ssl": "REQUIRED",
	  "status": "OK", "statusText": "Cluster is ONLINE and can tolerate up to ONE failure.", "topology": {
	  "10.0.0.21:3306": {"address": "10.0.0.21:3306", "memberRole": "PRIMARY", "mode": "R/W", "readReplicas": {}, "replicationLag": null, "role": "HA", "status": "ONLINE", "version": "8.0.36"},
	  "10.0.0.22:3306": {"address": "10.0.0.22:3306", "memberRole": "SECONDARY", "mode": "R/O", "readReplicas": {}, "replicationLag": "00:00:00.001234", "role": "HA", "status": "ONLINE", "version": "8.0.36"},
	  "10.0.0.23:3306": {"address": "10.0.0.23:3306", "memberRole": "SECONDARY", "mode": "R/O", "readReplicas": {}, "replicationLag": "applier_queue_applied", "role": "HA", "status": "ONLINE", "version": "8.0.36"}},
	  "topologyMode": "Single-Primary"}, "groupInformationSourceMember": "10.0.0.21:3306"}`,
	"8.4": `{"clusterName": "prodCluster", "defaultReplicaSet": {"name": "default", "primary": "10.0.0.22:3306", "ssl": "REQUIRED",
	  "status": "OK_NO_TOLERANCE_PARTIAL", "statusText": "Cluster is NOT tolerant to any failures. 1 member is not active.", "topology": {
	  "db1": {"address": "10.0.0.21:3306", "instanceErrors": ["NOTE: group_replication is stopped."], "memberRole": "SECONDARY", "memberState": "OFFLINE", "mode": "n/a", "readReplicas": {}, "role": "HA", "status": "(MISSING)", "version": "8.4.3"},
	  "db2": {"address": "10.0.0.22:3306", "memberRole": "PRIMARY", "mode": "R/W", "readReplicas": {}, "replicationLagFromImmediateSource": "", "replicationLagFromOriginalSource": "", "role": "HA", "status": "ONLINE", "version": "8.4.3"},
	  "db3": {"address": "10.0.0.23:3306", "memberRole": "SECONDARY", "mode": "R/O", "readReplicas": {}, "replicationLagFromImmediateSource": "00:00:01.5", "replicationLagFromOriginalSource": "00:00:02.5", "role": "HA", "status": "ONLINE", "version": "8.4.3"}},
	  "topologyMode": "Single-Primary"}, "groupInformationSourceMember": "10.0.0.22:3306"}`,
	"9.x": `{"clusterName": "prodCluster", "clusterRole": "PRIMARY", "defaultReplicaSet": {"name": "default", "primary": "10.0.0.21:3306", "ssl": "REQUIRED",
	  "status": "OK", "statusText": "Cluster is ONLINE and can tolerate up to ONE failure.", "communicationStack": "MYSQL", "topology": {
	  "db1": {"address": "10.0.0.21:3306", "memberRole": "PRIMARY", "mode": "R/W", "readReplicas": {}, "role": "HA", "status": "ONLINE", "version": "9.7.4"},
	  "db2": {"address": "10.0.0.22:3306", "memberRole": "SECONDARY", "mode": "R/O", "readReplicas": {}, "replicationLagFromImmediateSource": "applier_queue_applied", "replicationLagFromOriginalSource": "applier_queue_applied", "role": "HA", "status": "ONLINE", "version": "9.7.4"},
	  "db3": {"address": "10.0.0.23:3306", "memberRole": "SECONDARY", "mode": "R/O", "readReplicas": {}, "role": "HA", "status": "ONLINE", "version": "9.7.4", "clusterSetReplicationStatus": null}},
	  "topologyMode": "Single-Primary"}, "groupInformationSourceMember": "10.0.0.21:3306", "metadataVersion": "2.3.0"}`,
}

func TestParseClusterStatus(t *testing.T) {
	for ver, raw := range statusSamples {
		cs, err := ParseClusterStatus([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", ver, err)
		}
		if cs.Name != "prodCluster" || len(cs.Members) != 3 || cs.Members[0].Address != "10.0.0.21:3306" {
			t.Errorf("%s: %+v", ver, cs)
		}
		switch ver {
		case "8.0":
			if !cs.Healthy() || cs.Members[1].Lag != "00:00:00.001234" || cs.Members[0].Lag != "" || cs.Primary != "10.0.0.21:3306" {
				t.Errorf("8.0: %+v", cs)
			}
		case "8.4":
			if cs.Healthy() || cs.Status != "OK_NO_TOLERANCE_PARTIAL" || cs.Members[0].Status != "(MISSING)" || cs.Members[2].Lag != "00:00:02.5" || cs.Members[1].Role != RolePrimary {
				t.Errorf("8.4: %+v", cs)
			}
		case "9.x":
			if !cs.Healthy() || cs.Members[1].Lag != "applier_queue_applied" || cs.Members[2].Mode != "R/O" {
				t.Errorf("9.x: %+v", cs)
			}
		}
	}
	if _, err := ParseClusterStatus([]byte(`{"error": "Dba.getCluster: This function is not available through a session to a standalone instance"}`)); err == nil ||
		!strings.Contains(err.Error(), "standalone") {
		t.Errorf("error object: %v", err)
	}
	if _, err := ParseClusterStatus([]byte(`{"clusterName": "x"}`)); err == nil {
		t.Error("no defaultReplicaSet must fail")
	}
	out := "add_instance: Clone process has finished\nERAWAN_STATUS " + strings.ReplaceAll(statusSamples["9.x"], "\n", " ") + "\n"
	if cs, err := StatusLine(out); err != nil || cs.Status != "OK" {
		t.Errorf("StatusLine: %v %v", cs, err)
	}
	if _, err := StatusLine("Traceback...\n"); err == nil {
		t.Error("output without a status line must fail")
	}
}

// The status command keeps the password off the command line: it travels
// as the first line of standard input, ahead of the script.
func TestAdminAPIStatusCommand(t *testing.T) {
	s := spec()
	s.Management = ModeAdminAPI
	cmd, stdin := s.AdminAPIStatusCommand("10.0.0.21", "sudo -n ")
	if strings.Contains(cmd, s.AdminPassword) {
		t.Fatal("the password is on the command line")
	}
	if !strings.HasPrefix(string(stdin), s.AdminPassword+"\n") || !strings.Contains(string(stdin), "report(dba.get_cluster(CLUSTER))") {
		t.Errorf("stdin: %q", stdin)
	}
	if !strings.Contains(cmd, "ERAWAN_TARGET=10.0.0.21:3306") || !strings.HasPrefix(cmd, "sudo -n sh -c") {
		t.Errorf("cmd: %s", cmd)
	}
	// The shell part reads the first line into the environment and leaves the rest.
	sh := strings.Replace(strings.TrimPrefix(cmd, "sudo -n "), "exec mysqlsh --no-wizard --py -f /dev/stdin", `printf "%s|" "$ERAWAN_MYSQL_ADMIN_PASSWORD"; cat`, 1)
	c := exec.Command("sh", "-c", strings.TrimSuffix(strings.TrimPrefix(sh, "sh -c '"), "'"))
	c.Stdin = strings.NewReader(string(stdin))
	out, err := c.Output()
	if err != nil || !strings.HasPrefix(string(out), s.AdminPassword+"|import json") {
		t.Errorf("shell split: %q, %v", out, err)
	}
	cs, _ := ParseClusterStatus([]byte(statusSamples["8.4"]))
	if d := cs.StatusDrift(); len(d) != 2 || !strings.Contains(d[0], "OK_NO_TOLERANCE_PARTIAL") || !strings.Contains(d[1], "(MISSING)") {
		t.Errorf("StatusDrift: %v", d)
	}
}
