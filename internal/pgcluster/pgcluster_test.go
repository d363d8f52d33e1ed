package pgcluster

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/testspec"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

func spec() *Spec {
	return &Spec{
		Name: "orders", ID: "orders-abc", PostgresVersion: 17,
		Nodes:        []topology.Member{{Name: "pg1", Address: "10.0.0.11"}, {Name: "pg2", Address: "10.0.0.12"}, {Name: "pg3", Address: "10.0.0.13"}},
		PostgresPort: 5432, PatroniPort: 8008, EtcdClientPort: 2379, EtcdPeerPort: 2380,
		Parameters: map[string]string{"max_connections": "200"},
		Database:   &Database{Name: "app", Owner: "app", Password: "db-secret-password-123"},
		Passwords:  Passwords{Superuser: "su-secret-1234567", Replication: "repl-secret-123456", Rewind: "rw-secret-12345678", RestAPI: "api-secret-1234567"},
	}
}

func TestVarsCarryVerifierNotDatabasePassword(t *testing.T) {
	s := spec()
	v, err := s.Vars(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.Database.PasswordVerifier, "SCRAM-SHA-256$4096:") {
		t.Fatalf("verifier %q", v.Database.PasswordVerifier)
	}
	b, _ := json.Marshal(v)
	if strings.Contains(string(b), `"password":"db-secret`) {
		t.Fatal("plaintext database password outside the marker")
	}
	var keys map[string]any
	_ = json.Unmarshal(b, &keys)
	if keys["erawan_cluster"] != "orders" || keys["erawan_pg_version"] != float64(17) || keys["erawan_config_patch"] == nil {
		t.Fatalf("vars %s", b)
	}
}

func TestDiffConfig(t *testing.T) {
	old, nw := spec(), spec()
	old.Parameters = map[string]string{"max_connections": "100", "work_mem": "4MB"}
	nw.Parameters = map[string]string{"max_connections": "200", "shared_buffers": "256MB"}
	nw.SynchronousMode = true
	patch, changed := DiffConfig(old, nw)
	params := patch["postgresql"].(map[string]any)["parameters"].(map[string]any)
	if params["max_connections"] != "200" || params["shared_buffers"] != "256MB" || params["work_mem"] != nil {
		t.Fatalf("params %v", params)
	}
	if _, ok := params["work_mem"]; !ok {
		t.Fatal("a removed parameter is patched to null (Patroni's default)")
	}
	if patch["synchronous_mode"] != true {
		t.Fatalf("patch %v", patch)
	}
	if strings.Join(changed, ",") != "max_connections,shared_buffers,work_mem" {
		t.Fatalf("changed %v", changed)
	}
	if p, c := DiffConfig(nw, nw); len(p) != 0 || len(c) != 0 {
		t.Fatalf("no change gives an empty patch, got %v %v", p, c)
	}
}

func TestMarkerHoldsNoRolePasswords(t *testing.T) {
	b, _ := json.Marshal(spec().Marker())
	for _, p := range []string{"su-secret", "repl-secret", "rw-secret", "api-secret"} {
		if strings.Contains(string(b), p) {
			t.Fatalf("marker leaks %s: %s", p, b)
		}
	}
}

// Spec.Equal decides whether Update runs a playbook: a field it does not
// compare would make a change of that field silently do nothing.
func TestSpecEqualCoversEveryField(t *testing.T) {
	full := func() *Spec {
		s := spec()
		s.AllowedCIDRs, s.SynchronousMode = []string{"10.0.0.0/24"}, true
		s.TLS = &TLS{RequireTLS: true, CAPEM: "ca", Certs: map[string]string{"pg1": "cert"}}
		s.Backup = &Backup{RepositoryHost: "10.0.0.5", RepositoryPath: "/var/lib/pgbackrest", RetentionFull: 2, ServerPort: 8432,
			Schedule: map[string]string{"full": "daily"}}
		return s
	}
	testspec.EqualCoversEveryField(t, full, (*Spec).Equal, map[string]string{
		"Restore": "acts only in a restoring run; a later change gives the nodes nothing to do"})
	a, b := spec(), spec()
	a.AllowedCIDRs, a.Parameters, b.AllowedCIDRs, b.Parameters = nil, nil, []string{}, map[string]string{}
	if !a.Equal(b) {
		t.Error("nil and empty lists and maps are the same input")
	}
}

func TestDrift(t *testing.T) {
	nodes := spec().Nodes
	up := func(n topology.Member, etcd string) NodeStatus {
		return NodeStatus{NodeStatus: topology.NodeStatus{Member: n}, PatroniUp: true, Etcd: etcd}
	}
	member := func(name, role, state string) patroni.Member {
		lag := int64(0)
		return patroni.Member{Name: name, Role: role, State: state, LagBytes: &lag, Timeline: 1}
	}
	healthy := &patroni.Cluster{Scope: "orders", Members: []patroni.Member{
		member("pg1", patroni.RoleLeader, "running"), member("pg2", patroni.RoleReplica, "streaming"), member("pg3", patroni.RoleReplica, "streaming")}}
	allUp := []NodeStatus{up(nodes[0], EtcdHealthy), up(nodes[1], EtcdHealthy), up(nodes[2], EtcdHealthy)}
	unreachable := NodeStatus{NodeStatus: topology.NodeStatus{Member: nodes[2], SSHError: errors.New("no route")}, Etcd: EtcdUnknown}
	for _, c := range []struct {
		name string
		obs  Observation
		want []string // substrings, one per sentence, in order
	}{
		{"healthy", Observation{Nodes: allUp, Cluster: healthy}, nil},
		{"standby leader is a leader", Observation{Nodes: allUp, Cluster: &patroni.Cluster{Members: []patroni.Member{
			member("pg1", patroni.RoleStandbyLeader, "running"), member("pg2", patroni.RoleReplica, "streaming"), member("pg3", patroni.RoleReplica, "streaming")}}}, nil},
		{"no REST API", Observation{Nodes: allUp}, []string{"no member's Patroni REST API answered"}},
		{"nobody reachable", Observation{Nodes: []NodeStatus{unreachable}}, nil},
		{"missing, not streaming, pending restart, etcd down", Observation{
			Nodes: []NodeStatus{up(nodes[0], EtcdHealthy), up(nodes[1], EtcdUnhealthy), up(nodes[2], EtcdHealthy)},
			Cluster: &patroni.Cluster{Members: []patroni.Member{member("pg1", patroni.RoleLeader, "running"),
				{Name: "pg2", Role: patroni.RoleReplica, State: "starting", PendingRestart: true}}}},
			[]string{"member pg3 (10.0.0.13) is missing", "member pg2: Patroni reports state \"starting\"", "pg2 has pending_restart", "etcd on pg2 (10.0.0.12) is down"}},
		{"two leaders", Observation{Nodes: allUp, Cluster: &patroni.Cluster{Members: []patroni.Member{
			member("pg1", patroni.RoleLeader, "running"), member("pg2", patroni.RoleLeader, "running"), member("pg3", patroni.RoleReplica, "streaming")}}},
			[]string{"2 leaders"}},
		{"an unreachable member is not missing", Observation{Nodes: []NodeStatus{allUp[0], allUp[1], unreachable},
			Cluster: &patroni.Cluster{Members: healthy.Members[:2]}}, nil},
	} {
		d := c.obs.Drift(nodes)
		got := d.Sentences()
		if d.Empty() != (len(got) == 0) || len(got) != len(c.want) {
			t.Errorf("%s: drift %v (empty %v), want %v", c.name, got, d.Empty(), c.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("%s: sentence %d %q lacks %q", c.name, i, got[i], c.want[i])
			}
		}
		// Drift survives private state (JSON) unchanged.
		b, _ := json.Marshal(d)
		var back Drift
		if err := json.Unmarshal(b, &back); err != nil || strings.Join(back.Sentences(), "|") != strings.Join(got, "|") {
			t.Errorf("%s: JSON round trip %s: %v", c.name, b, err)
		}
	}
}

func TestGone(t *testing.T) {
	n := spec().Nodes[0]
	st := func(sshErr error, owner string, known, patroni bool) NodeStatus {
		return NodeStatus{NodeStatus: topology.NodeStatus{Member: n, SSHError: sshErr, Owner: owner, OwnerKnown: known}, PatroniUp: patroni}
	}
	for _, c := range []struct {
		name  string
		nodes []NodeStatus
		gone  bool
	}{
		{"every node answered, none holds it", []NodeStatus{st(nil, "", true, false), st(nil, "", true, false)}, true},
		{"one still holds this id", []NodeStatus{st(nil, "", true, false), st(nil, "orders-abc", true, false)}, false},
		{"another resource's marker of the same name", []NodeStatus{st(nil, "orders-other", true, false), st(nil, "", true, false)}, true},
		{"a marker that could not be read", []NodeStatus{st(nil, "", false, false), st(nil, "", true, false)}, false},
		{"Patroni still answers for the scope", []NodeStatus{st(nil, "", true, true), st(nil, "", true, false)}, false},
		{"one unreachable", []NodeStatus{st(nil, "", true, false), st(errors.New("x"), "", false, false)}, false},
		{"no nodes", nil, false},
	} {
		if got := (&Observation{Nodes: c.nodes}).Gone("orders-abc"); got != c.gone {
			t.Errorf("%s: Gone() = %v", c.name, got)
		}
	}
}

func TestTLSVars(t *testing.T) {
	s := spec()
	if v, _ := s.Vars(nil, nil); v.TLS.Enabled || len(v.TLS.Certs) != 0 || v.Marker.TLS {
		t.Fatalf("a spec without TLS renders %+v, marker tls %v", v.TLS, v.Marker.TLS)
	}
	s.TLS = &TLS{RequireTLS: true, CAPEM: "ca", Certs: map[string]string{"pg2": "cert2"}}
	v, err := s.Vars(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.TLS.Enabled || !v.TLS.RequireTLS || v.TLS.CAPEM != "ca" || v.TLS.Certs["pg2"] != "cert2" || len(v.TLS.Certs) != 1 {
		t.Fatalf("TLS vars %+v", v.TLS)
	}
	if got, want := v.TLS.PendingKeys["pg2"], "/etc/erawan/.tls-pending/"+s.ID+"-pg2.key"; got != want {
		t.Fatalf("pending key %q, want %q", got, want)
	}
	if !v.Marker.TLS || !v.Marker.RequireTLS {
		t.Fatalf("marker %+v", v.Marker)
	}
}

// Backups turn WAL archiving on through the dynamic configuration, so
// adding them patches archive_mode (a restart) and archive_command; the
// marker keeps only the user's parameters.
func TestBackupArchiving(t *testing.T) {
	old, nw := spec(), spec()
	nw.Backup = &Backup{RepositoryHost: "10.0.0.5", RepositoryPath: "/var/lib/pgbackrest", RetentionFull: 2, ServerPort: 8432}
	patch, changed := DiffConfig(old, nw)
	if strings.Join(changed, ",") != "archive_command,archive_mode" {
		t.Fatalf("changed %v", changed)
	}
	params := patch["postgresql"].(map[string]any)["parameters"].(map[string]any)
	if params["archive_mode"] != "on" || !strings.Contains(params["archive_command"].(string), "--stanza="+nw.Name+" archive-push %p") {
		t.Fatalf("patch %v", params)
	}
	if _, ok := nw.Marker().Parameters["archive_command"]; ok {
		t.Fatal("the marker holds the user's parameters only")
	}
	v, err := nw.Vars(nil, nil)
	if err != nil || v.Backup == nil || v.Parameters["archive_mode"] != "on" || len(v.Backup.MemberConfigs) != len(nw.Nodes) {
		t.Fatalf("vars %+v %v", v, err)
	}
	if v.BackupOff != nil {
		t.Fatal("a create turns no backups off")
	}
	if patch, _ := DiffConfig(nw, old); patch["postgresql"].(map[string]any)["parameters"].(map[string]any)["archive_mode"] != nil {
		t.Fatal("removing backups resets archive_mode")
	}
	off, err := old.Vars(nw, nil)
	if err != nil || off.Backup != nil || off.BackupOff == nil || off.BackupOff.RepositoryDir != "/etc/erawan/.pgbackrest/"+nw.Name {
		t.Fatalf("removing backups: vars %+v %v", off, err)
	}
	if kept, _ := nw.Vars(nw, nil); kept.BackupOff != nil {
		t.Fatal("an update that keeps backups turns them off")
	}
}

// A restore reaches the playbooks only in a restoring run, and the marker
// keeps it for import either way.
func TestRestoreVars(t *testing.T) {
	s := spec()
	s.Restore = &Restore{RepositoryHost: "10.0.0.5", RepositoryPath: "/var/lib/pgbackrest", Stanza: "orders", ServerPort: 8431,
		TargetTime: "2026-11-22T17:00:00+07:00"}
	v, err := s.Vars(nil, nil)
	if err != nil || v.Restore != nil {
		t.Fatalf("a run that does not restore renders %+v (%v)", v.Restore, err)
	}
	if m := v.Marker.Restore; m == nil || m.Stanza != "orders" || m.TargetTime != "2026-11-22T17:00:00+07:00" || m.ServerPort != 8431 {
		t.Fatalf("marker restore %+v", m)
	}
	s.Restore.Run = true
	if v, err = s.Vars(nil, nil); err != nil || v.Restore == nil {
		t.Fatalf("a restoring run renders no restore (%v)", err)
	}
	r := v.Restore
	if r.RecoveryConf["recovery_target_time"] != "2026-11-22 10:00:00+00" || r.Target != "time 2026-11-22T17:00:00+07:00" ||
		!strings.Contains(r.Command, "--stanza=orders --type=time '--target=2026-11-22 10:00:00+00'") ||
		r.MemberConfigFile != "/etc/erawan/"+s.Name+"/pgbackrest-restore.conf" || !strings.Contains(r.MemberConfig, "pg1-path=/var/lib/erawan/"+s.Name+"/postgresql/data") {
		t.Fatalf("restore vars %+v", r)
	}
	s.Restore.TargetTime = "yesterday"
	if _, err := s.Vars(nil, nil); err == nil || !strings.Contains(err.Error(), "restore.target_time") {
		t.Fatalf("a target time that is not RFC 3339: %v", err)
	}
}
