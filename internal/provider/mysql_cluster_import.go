package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// mysqlImporter rebuilds erawan_mysql_cluster from each member's marker
// (/etc/erawan/mysql-<name>/erawan.json, 0600 root), passwords included.
type mysqlImporter struct {
	c      *clients
	name   string
	marker mysqlgr.Marker
	tls    tlsImport
}

func (mysqlEngine) importer(_ context.Context, c *clients, name string) clusterImporter[mysqlClusterModel] {
	return &mysqlImporter{c: c, name: name}
}

func (p *mysqlImporter) node(ctx context.Context, addr string) (string, string, error) {
	file := "/etc/erawan/mysql-" + p.name + "/erawan.json"
	out, err := p.c.pool.Run(ctx, addr, p.c.sudo()+"cat "+file, nil)
	if err != nil {
		return "", "", err
	}
	var m mysqlgr.Marker
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", fmt.Errorf("reading the marker %s: %w", file, err)
	}
	p.marker = m
	for _, n := range m.Members {
		if n.Address != addr {
			continue
		}
		if m.TLS {
			if err := p.tls.read(ctx, p.c, addr, mysqlgr.TLSDir(p.name), n.Name); err != nil {
				return "", "", err
			}
		}
		return m.ID, n.Name, nil
	}
	return "", "", fmt.Errorf("the marker on %s does not list %s among the members %v", addr, addr, m.Members)
}

func (p *mysqlImporter) model(_ context.Context, id string, nodes []topology.Member) (mysqlClusterModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	mk := p.marker
	st := mysqlClusterModel{
		clusterBase: clusterBase{ID: types.StringValue(id), Name: types.StringValue(p.name), Nodes: nodesValue(nodes),
			DeletionProtection: types.BoolValue(true), Members: types.ListNull(types.ObjectType{AttrTypes: mysqlMemberAttrTypes}), Timeouts: timeoutsNull},
		GroupName: types.StringValue(mk.GroupName),
		MySQLPort: types.Int64Value(int64(mk.MySQLPort)), GroupPort: types.Int64Value(int64(mk.GroupPort)),
		PrimaryCheckPort: types.Int64Value(int64(mk.PrimaryCheckPort)),
		Management:       types.StringValue(mysqlgr.ModeAuto), ManagementMode: types.StringValue(mk.Management),
		ClusterAdminUser: types.StringValue(mk.ClusterAdminUser), AdminPassword: types.StringValue(mk.ClusterAdminPassword),
		AdminPasswordWO: types.StringNull(), AdminPasswordVersion: types.Int64Null(),
		Router:           types.ObjectValueMust(mysqlRouterAttrTypes, map[string]attr.Value{"enabled": types.BoolValue(mk.Router)}),
		Database:         types.ObjectNull(mysqlDatabaseAttrTypes),
		DatabasePassword: types.StringNull(), RouterPassword: types.StringNull(), Primary: types.StringNull(),
	}
	st.setRouterPorts()
	p.tls.set(mk.TLS, mysqlEngine{}.tls(&st), nodes, "", &diags)
	if mk.RouterPassword != "" {
		st.RouterPassword = types.StringValue(mk.RouterPassword)
	}
	if mk.Database != nil {
		st.Database = types.ObjectValueMust(mysqlDatabaseAttrTypes, map[string]attr.Value{
			"name": types.StringValue(mk.Database.Name), "user": types.StringValue(mk.Database.User), "ssl_required": types.BoolValue(mk.Database.SSLRequired)})
		diags.AddWarning("database_password is not imported",
			fmt.Sprintf("MySQL keeps the password of %q only as a hash, so import leaves database_password null and apply leaves the user's password as it is.", mk.Database.User))
	}
	return st, diags
}
