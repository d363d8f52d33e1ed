package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// ImportState takes "<name>@<address>,<address>,..." and rebuilds the
// resource from what each node holds (see the engine's importer).
func (r *clusterResource[M, S, O, D, R]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, list, ok := strings.Cut(req.ID, "@")
	if !ok || list == "" || !r.engine.info().nameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("Want <name>@<address>,<address>,... (for example %s), got %q.", r.engine.info().importExample, req.ID))
		return
	}
	if r.c == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import.")
		return
	}
	imp := r.engine.importer(ctx, r.c, name)
	var id string
	var members []topology.Member
	for _, addr := range strings.Split(list, ",") {
		addr = strings.TrimSpace(addr)
		nodeID, member, err := imp.node(ctx, addr)
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading %s on %s failed", r.object(name), addr), err.Error())
			return
		}
		if id != "" && nodeID != id {
			resp.Diagnostics.AddError("Nodes belong to different clusters", fmt.Sprintf("%s holds cluster id %s, other nodes hold %s.", addr, nodeID, id))
			return
		}
		id = nodeID
		members = append(members, topology.Member{Name: member, Address: addr})
	}
	m, d := imp.model(ctx, id, members)
	if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(writeProgress(ctx, resp.Private, createProgress{Done: true})...)
}
