package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"gopkg.in/yaml.v3"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
)

var objectAsOptions = basetypes.ObjectAsOptions{UnhandledNullAsEmpty: true, UnhandledUnknownAsEmpty: true}

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

// ImportState takes "<name>@<address>,<address>,..." and rebuilds the
// resource from the nodes: the marker file and patroni.yml of each node,
// passwords included.
func (r *patroniClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, list, ok := strings.Cut(req.ID, "@")
	if !ok || name == "" || list == "" || !clusterNameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("Want <name>@<address>,<address>,... (for example orders@10.0.0.11,10.0.0.12,10.0.0.13), got %q.", req.ID))
		return
	}
	if r.c == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import.")
		return
	}
	sudo := r.c.sudo()
	var marker *pgcluster.Marker
	var nodes []attr.Value
	var pf patroniFile
	for _, addr := range strings.Split(list, ",") {
		addr = strings.TrimSpace(addr)
		out, err := r.c.pool.Run(ctx, addr, sudo+"cat /etc/erawan/"+name+"/erawan.json /etc/erawan/"+name+"/patroni.yml", nil)
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading cluster %q on %s failed", name, addr), err.Error())
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		var m pgcluster.Marker
		if err := dec.Decode(&m); err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading the marker of %q on %s failed", name, addr), err.Error())
			return
		}
		rest := string(out)[dec.InputOffset():]
		var p patroniFile
		if err := yaml.Unmarshal([]byte(rest), &p); err != nil || p.Name == "" {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading patroni.yml of %q on %s failed", name, addr), fmt.Sprint(err))
			return
		}
		if marker != nil && m.ID != marker.ID {
			resp.Diagnostics.AddError("Nodes belong to different clusters",
				fmt.Sprintf("%s holds cluster id %s, other nodes hold %s.", addr, m.ID, marker.ID))
			return
		}
		marker, pf = &m, p
		obj, _ := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{"name": types.StringValue(p.Name), "address": types.StringValue(addr)})
		nodes = append(nodes, obj)
	}
	st := clusterModel{
		ID: types.StringValue(marker.ID), Name: types.StringValue(name), PostgresVersion: types.Int64Value(int64(marker.PostgresVersion)),
		PostgresPort: types.Int64Value(int64(marker.PostgresPort)), PatroniPort: types.Int64Value(int64(marker.PatroniPort)),
		EtcdClientPort: types.Int64Value(int64(marker.EtcdClientPort)), EtcdPeerPort: types.Int64Value(int64(marker.EtcdPeerPort)),
		SynchronousMode: types.BoolValue(marker.SynchronousMode), DeletionProtection: types.BoolValue(true),
		Database: types.ObjectNull(databaseAttrTypes), Leader: types.StringNull(),
		Members:  types.ListNull(types.ObjectType{AttrTypes: memberAttrTypes}),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})},
	}
	st.Nodes, _ = types.ListValue(types.ObjectType{AttrTypes: nodeAttrTypes}, nodes)
	st.AllowedCIDRs = types.ListNull(types.StringType)
	if len(marker.AllowedCIDRs) > 0 {
		st.AllowedCIDRs, _ = types.ListValueFrom(ctx, types.StringType, marker.AllowedCIDRs)
	}
	st.Parameters = types.MapNull(types.StringType)
	if len(marker.Parameters) > 0 {
		st.Parameters, _ = types.MapValueFrom(ctx, types.StringType, marker.Parameters)
	}
	for _, p := range st.passwords() {
		*p.value = types.StringNull()
		*p.wo = types.StringNull()
		*p.version = types.Int64Null()
	}
	auth := pf.PostgreSQL.Authentication
	st.SuperuserPassword = types.StringValue(auth["superuser"].Password)
	st.ReplicationPassword = types.StringValue(auth["replication"].Password)
	st.RewindPassword = types.StringValue(auth["rewind"].Password)
	st.RestAPIPassword = types.StringValue(pf.RestAPI.Authentication.Password)
	if marker.DatabaseName != "" {
		st.Database, _ = types.ObjectValue(databaseAttrTypes, map[string]attr.Value{
			"name": types.StringValue(marker.DatabaseName), "owner": types.StringValue(marker.DatabaseOwner)})
		st.DatabasePassword = types.StringValue(marker.DatabasePassword)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, createProgress{Done: true}.bytes())...)
}
