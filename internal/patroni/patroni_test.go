package patroni

import "testing"

// Patroni 3.0.2 (Debian 12): role "master"... in /cluster the leader is
// "leader" but older builds report "master"; replicas are "running" and lag
// may be "unknown".
const cluster3 = `{"members":[
 {"name":"pg1","role":"master","state":"running","api_url":"http://10.0.0.11:8008/patroni","host":"10.0.0.11","port":5432,"timeline":1},
 {"name":"pg2","role":"replica","state":"running","api_url":"http://10.0.0.12:8008/patroni","host":"10.0.0.12","port":5432,"timeline":1,"lag":0},
 {"name":"pg3","role":"replica","state":"running","host":"10.0.0.13","port":5432,"lag":"unknown"}]}`

// Patroni 4.0.7 (Debian 13).
const cluster4 = `{"members":[
 {"name":"pg1","role":"leader","state":"running","api_url":"http://10.0.0.11:8008/patroni","host":"10.0.0.11","port":5432,"timeline":3},
 {"name":"pg2","role":"sync_standby","state":"streaming","host":"10.0.0.12","port":5432,"timeline":3,"lag":1024,"pending_restart":true},
 {"name":"pg3","role":"replica","state":"stopped","host":"10.0.0.13","port":5432,"lag":"unknown"}],
 "scope":"orders","pause":false}`

func TestParseClusterPatroni3(t *testing.T) {
	c, err := ParseCluster([]byte(cluster3))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Leader(); l == nil || l.Name != "pg1" || l.Role != RoleLeader {
		t.Fatalf("leader = %+v, want pg1 as leader", l)
	}
	c.Version = "3.0.2"
	pg2 := c.Member("pg2")
	if !c.Streaming(*pg2) || pg2.LagBytes == nil || *pg2.LagBytes != 0 {
		t.Fatalf("pg2 = %+v: want streaming with lag 0", pg2)
	}
	if pg3 := c.Member("pg3"); pg3.LagBytes != nil || pg3.Timeline != 0 {
		t.Fatalf("pg3 lag %v timeline %d: want nil lag for \"unknown\" and timeline 0", pg3.LagBytes, pg3.Timeline)
	}
}

func TestParseClusterPatroni4(t *testing.T) {
	c, err := ParseCluster([]byte(cluster4))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope != "orders" {
		t.Fatalf("scope %q", c.Scope)
	}
	if l := c.Leader(); l == nil || l.Name != "pg1" || l.Timeline != 3 || *l.LagBytes != 0 {
		t.Fatalf("leader = %+v", l)
	}
	c.Version = "4.0.7"
	pg2 := c.Member("pg2")
	if pg2.Role != RoleSyncStandby || !c.Streaming(*pg2) || *pg2.LagBytes != 1024 || !pg2.PendingRestart {
		t.Fatalf("pg2 = %+v", pg2)
	}
	pg3 := c.Member("pg3")
	if c.Streaming(*pg3) || pg3.Running() {
		t.Fatalf("pg3 is stopped but reported streaming/running: %+v", pg3)
	}
}

func TestParseClusterRejectsGarbage(t *testing.T) {
	if _, err := ParseCluster([]byte("<html>")); err == nil {
		t.Fatal("want an error for a non-JSON body")
	}
}

func TestNormalizeRole(t *testing.T) {
	for in, want := range map[string]string{
		"master": RoleLeader, "primary": RoleLeader, "leader": RoleLeader,
		"standby_leader": RoleStandbyLeader, "sync_standby": RoleSyncStandby,
		"replica": RoleReplica, "quorum_standby": RoleSyncStandby,
	} {
		if got := NormalizeRole(in); got != want {
			t.Errorf("NormalizeRole(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParametersFromConfig(t *testing.T) {
	got := ParametersFromConfig(map[string]any{"postgresql": map[string]any{"parameters": map[string]any{
		"max_connections": float64(200), "wal_log_hints": true, "work_mem": "8MB"}}})
	want := map[string]string{"max_connections": "200", "wal_log_hints": "on", "work_mem": "8MB"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// On Patroni 4, "running" for a replica means up but not streaming; on
// 3.0.2 it is all Patroni says about a streaming replica.
func TestStreamingDependsOnVersion(t *testing.T) {
	m := Member{Name: "pg2", Role: RoleReplica, State: "running"}
	for v, want := range map[string]bool{"3.0.2": true, "3.0.4": false, "4.0.7": false, "": true} {
		c := &Cluster{Version: v}
		if got := c.Streaming(m); got != want {
			t.Errorf("Patroni %q: running replica streaming = %v, want %v", v, got, want)
		}
	}
	if (&Cluster{Version: "4.0.7"}).Streaming(Member{Role: RoleLeader, State: "running"}) {
		t.Error("a leader is never a streaming replica")
	}
}

func TestParseVersion(t *testing.T) {
	if v := ParseVersion([]byte(`{"state":"running","patroni":{"version":"4.0.7","scope":"demo","name":"pg1"}}`)); v != "4.0.7" {
		t.Fatalf("version %q", v)
	}
	if !VersionAtLeast("3.0.4", 3, 0, 4) || VersionAtLeast("3.0.2", 3, 0, 4) || !VersionAtLeast("4.1", 3, 0, 4) || VersionAtLeast("", 1, 0, 0) {
		t.Fatal("VersionAtLeast")
	}
}
