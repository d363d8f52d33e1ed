package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"gopkg.in/yaml.v3"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// patroniFile is the part of patroni.yml that import reads.
type patroniFile struct {
	Scope   string `yaml:"scope"`
	Name    string `yaml:"name"`
	RestAPI struct {
		Authentication struct {
			Password string `yaml:"password"`
		} `yaml:"authentication"`
	} `yaml:"restapi"`
	PostgreSQL struct {
		Authentication map[string]struct {
			Password string `yaml:"password"`
		} `yaml:"authentication"`
	} `yaml:"postgresql"`
}

// patroniImporter rebuilds erawan_patroni_cluster from each node's marker
// (/etc/erawan/<name>/erawan.json) and patroni.yml, passwords included.
type patroniImporter struct {
	c      *clients
	name   string
	marker pgcluster.Marker
	file   patroniFile
	tls    tlsImport
}

func (patroniEngine) importer(_ context.Context, c *clients, name string) clusterImporter[patroniClusterModel] {
	return &patroniImporter{c: c, name: name}
}

func (p *patroniImporter) node(ctx context.Context, addr string) (string, string, error) {
	dir := "/etc/erawan/" + p.name
	out, err := p.c.pool.Run(ctx, addr, p.c.sudo()+"cat "+dir+"/erawan.json "+dir+"/patroni.yml", nil)
	if err != nil {
		return "", "", err
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var m pgcluster.Marker
	if err := dec.Decode(&m); err != nil {
		return "", "", fmt.Errorf("reading the marker %s/erawan.json: %w", dir, err)
	}
	var f patroniFile
	if err := yaml.Unmarshal(out[dec.InputOffset():], &f); err != nil || f.Name == "" {
		return "", "", fmt.Errorf("reading %s/patroni.yml: %v", dir, err)
	}
	p.marker, p.file = m, f
	if m.TLS {
		if err := p.tls.read(ctx, p.c, addr, dir+"/tls", f.Name); err != nil {
			return "", "", err
		}
	}
	return m.ID, f.Name, nil
}

func (p *patroniImporter) model(ctx context.Context, id string, nodes []topology.Member) (patroniClusterModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	mk := p.marker
	st := patroniClusterModel{
		clusterBase: clusterBase{ID: types.StringValue(id), Name: types.StringValue(p.name), Nodes: nodesValue(nodes),
			DeletionProtection: types.BoolValue(true), Members: types.ListNull(types.ObjectType{AttrTypes: patroniMemberAttrTypes}), Timeouts: timeoutsNull},
		PostgresVersion: types.Int64Value(int64(mk.PostgresVersion)),
		PostgresPort:    types.Int64Value(int64(mk.PostgresPort)), PatroniPort: types.Int64Value(int64(mk.PatroniPort)),
		EtcdClientPort: types.Int64Value(int64(mk.EtcdClientPort)), EtcdPeerPort: types.Int64Value(int64(mk.EtcdPeerPort)),
		SynchronousMode: types.BoolValue(mk.SynchronousMode),
		Database:        types.ObjectNull(patroniDatabaseAttrTypes), Leader: types.StringNull(),
		AllowedCIDRs: types.ListNull(types.StringType), Parameters: types.MapNull(types.StringType),
	}
	var d diag.Diagnostics
	if len(mk.AllowedCIDRs) > 0 {
		st.AllowedCIDRs, d = types.ListValueFrom(ctx, types.StringType, mk.AllowedCIDRs)
		diags.Append(d...)
	}
	if len(mk.Parameters) > 0 {
		st.Parameters, d = types.MapValueFrom(ctx, types.StringType, mk.Parameters)
		diags.Append(d...)
	}
	st.RequireTLS = types.BoolValue(mk.RequireTLS)
	st.Backup = backupValue(mk.Backup)
	st.Restore = restoreValue(mk.Restore)
	p.tls.set(mk.TLS, patroniEngine{}.tls(&st), nodes, "Until then, etcd health is checked with etcdctl on each node (the provider has no client certificate of its own).", &diags)
	for _, pw := range st.passwords() {
		*pw.value, *pw.wo, *pw.version = types.StringNull(), types.StringNull(), types.Int64Null()
	}
	auth := p.file.PostgreSQL.Authentication
	st.SuperuserPassword = types.StringValue(auth["superuser"].Password)
	st.ReplicationPassword = types.StringValue(auth["replication"].Password)
	st.RewindPassword = types.StringValue(auth["rewind"].Password)
	st.RestAPIPassword = types.StringValue(p.file.RestAPI.Authentication.Password)
	if mk.DatabaseName != "" {
		st.Database, d = types.ObjectValue(patroniDatabaseAttrTypes, map[string]attr.Value{
			"name": types.StringValue(mk.DatabaseName), "owner": types.StringValue(mk.DatabaseOwner)})
		diags.Append(d...)
		diags.AddWarning("database_password is not imported",
			fmt.Sprintf("PostgreSQL keeps the password of %q only as a SCRAM verifier, so import leaves database_password null and apply leaves the owner's password as it is. "+
				"Set database_password_wo and database_password_wo_version to manage it from Terraform.", mk.DatabaseOwner))
	}
	return st, diags
}
