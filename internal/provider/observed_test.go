package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

type memberRow struct{ name, role, state, extra string }

func rows(t *testing.T, l types.List, extra string) []memberRow {
	t.Helper()
	var out []memberRow
	for _, e := range l.Elements() {
		at := e.(types.Object).Attributes()
		r := memberRow{name: at["name"].(types.String).ValueString(), role: at["role"].(types.String).ValueString(),
			state: at["state"].(types.String).ValueString()}
		switch v := at[extra].(type) {
		case types.String:
			r.extra = v.ValueString()
		case types.Int64:
			if !v.IsNull() {
				r.extra = v.String()
			}
		}
		out = append(out, r)
	}
	return out
}

var pgNodes = []topology.Member{{Name: "pg1", Address: "10.0.0.11"}, {Name: "pg2", Address: "10.0.0.12"}, {Name: "pg3", Address: "10.0.0.13"}}

func pgStatus(i int, etcd string, sshErr error) pgcluster.NodeStatus {
	return pgcluster.NodeStatus{NodeStatus: topology.NodeStatus{Member: pgNodes[i], SSHError: sshErr}, Etcd: etcd}
}

func TestPatroniSetObserved(t *testing.T) {
	lag := int64(42)
	view := &patroni.Cluster{Members: []patroni.Member{
		{Name: "pg1", Role: patroni.RoleLeader, State: "running", Timeline: 3},
		{Name: "pg2", Role: patroni.RoleReplica, State: "streaming", Timeline: 3, LagBytes: &lag},
		{Name: "pgx", Host: "10.0.0.99", Role: patroni.RoleReplica, State: "streaming"}, // not in nodes: listed after them
	}}
	sync := true
	for _, c := range []struct {
		name          string
		obs           *pgcluster.Observation
		refreshConfig bool
		leader        string // "" for null
		want          []memberRow
		params        string // max_connections after the call
		syncMode      bool
	}{
		{"a view from the leader", &pgcluster.Observation{
			Nodes:   []pgcluster.NodeStatus{pgStatus(0, pgcluster.EtcdHealthy, nil), pgStatus(1, pgcluster.EtcdHealthy, nil), pgStatus(2, pgcluster.EtcdUnhealthy, nil)},
			Cluster: view, Parameters: map[string]string{"max_connections": "300", "work_mem": "4MB"}, SyncMode: &sync}, true, "pg1",
			[]memberRow{{"pg1", "leader", "running", "healthy"}, {"pg2", "replica", "streaming", "healthy"}, {"pg3", "", "stopped", "unhealthy"}, {"pgx", "replica", "streaming", "unknown"}},
			"300", true},
		{"config is not refreshed during a create", &pgcluster.Observation{
			Nodes:   []pgcluster.NodeStatus{pgStatus(0, pgcluster.EtcdHealthy, nil), pgStatus(1, pgcluster.EtcdHealthy, nil), pgStatus(2, pgcluster.EtcdHealthy, nil)},
			Cluster: view, Parameters: map[string]string{"max_connections": "300"}, SyncMode: &sync}, false, "pg1",
			[]memberRow{{"pg1", "leader", "running", "healthy"}, {"pg2", "replica", "streaming", "healthy"}, {"pg3", "", "stopped", "healthy"}, {"pgx", "replica", "streaming", "unknown"}},
			"200", false},
		{"no REST API answered, one node unreachable", &pgcluster.Observation{
			Nodes: []pgcluster.NodeStatus{pgStatus(0, pgcluster.EtcdHealthy, nil), pgStatus(1, "", nil), pgStatus(2, pgcluster.EtcdUnknown, errors.New("no route"))}}, true, "",
			[]memberRow{{"pg1", "", "stopped", "healthy"}, {"pg2", "", "stopped", "unknown"}, {"pg3", "", "unreachable", "unknown"}},
			"200", false},
	} {
		m := patroniClusterModel{Leader: types.StringUnknown(), SynchronousMode: types.BoolValue(false),
			Parameters: types.MapValueMust(types.StringType, map[string]attr.Value{"max_connections": types.StringValue("200")})}
		if d := m.setObserved(context.Background(), c.obs, pgNodes, c.refreshConfig); d.HasError() {
			t.Fatalf("%s: %v", c.name, d)
		}
		if got := m.Leader.ValueString(); got != c.leader || m.Leader.IsNull() != (c.leader == "") {
			t.Errorf("%s: leader %v, want %q", c.name, m.Leader, c.leader)
		}
		got := rows(t, m.Members, "etcd_state")
		if len(got) != len(c.want) {
			t.Fatalf("%s: members %v, want %v", c.name, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: member %d = %v, want %v", c.name, i, got[i], c.want[i])
			}
		}
		if p := m.Parameters.Elements()["max_connections"].(types.String).ValueString(); p != c.params || len(m.Parameters.Elements()) != 1 {
			t.Errorf("%s: parameters %v, want only the managed key at %s", c.name, m.Parameters, c.params)
		}
		if m.SynchronousMode.ValueBool() != c.syncMode {
			t.Errorf("%s: synchronous_mode %v", c.name, m.SynchronousMode)
		}
	}
}

func TestMySQLSetObserved(t *testing.T) {
	nodes := []topology.Member{{Name: "db1", Address: "10.0.0.21"}, {Name: "db2", Address: "10.0.0.22"}, {Name: "db3", Address: "10.0.0.23"}}
	probe := func(uuid, members string) *mysqlgr.NodeProbe {
		p, err := mysqlgr.ParseProbe("marker\tprodCluster-1\ncheck\tactive\nrouter\tinactive\nmysqlsh\tno\nself\t" + uuid + "\t9.7.4\tg\n" + members)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	group := "member\tu1\t10.0.0.21\t3306\tONLINE\tSECONDARY\t9.7.4\nmember\tu2\t10.0.0.22\t3306\tONLINE\tPRIMARY\t9.7.4\n"
	obs := mysqlgr.NewObservation([]mysqlgr.NodeStatus{
		{NodeStatus: topology.NodeStatus{Member: nodes[0]}, Probe: probe("u1", group)},
		{NodeStatus: topology.NodeStatus{Member: nodes[1]}, Probe: probe("u2", group)},
		{NodeStatus: topology.NodeStatus{Member: nodes[2], SSHError: errors.New("no route")}},
	})
	m := mysqlClusterModel{Router: types.ObjectValueMust(mysqlRouterAttrTypes, map[string]attr.Value{"enabled": types.BoolValue(false)})}
	if d := m.setObserved(obs, nodes); d.HasError() {
		t.Fatal(d)
	}
	if m.Primary.ValueString() != "db2" {
		t.Errorf("primary %v, want db2 (the member at the PRIMARY's address)", m.Primary)
	}
	want := []memberRow{{"db1", "SECONDARY", "ONLINE", "9.7.4"}, {"db2", "PRIMARY", "ONLINE", "9.7.4"}, {"db3", "", "unreachable", ""}}
	got := rows(t, m.Members, "version")
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("members %v, want %v", got, want)
			break
		}
	}
	if !m.RouterRWPort.IsNull() || !m.RouterROPort.IsNull() {
		t.Errorf("router ports without Router: %v %v", m.RouterRWPort, m.RouterROPort)
	}
}
