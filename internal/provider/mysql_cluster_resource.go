package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

var (
	_ resource.ResourceWithConfigure        = &mysqlClusterResource{}
	_ resource.ResourceWithModifyPlan       = &mysqlClusterResource{}
	_ resource.ResourceWithImportState      = &mysqlClusterResource{}
	_ resource.ResourceWithConfigValidators = &mysqlClusterResource{}
)

// NewMySQLClusterResource returns the erawan_mysql_cluster resource.
func NewMySQLClusterResource() resource.Resource { return &mysqlClusterResource{} }

type mysqlClusterResource struct{ c *clients }

type mysqlClusterModel struct {
	ID                   types.String   `tfsdk:"id"`
	Name                 types.String   `tfsdk:"name"`
	Nodes                types.List     `tfsdk:"nodes"`
	MySQLPort            types.Int64    `tfsdk:"mysql_port"`
	GroupPort            types.Int64    `tfsdk:"group_replication_port"`
	PrimaryCheckPort     types.Int64    `tfsdk:"primary_check_port"`
	Management           types.String   `tfsdk:"management"`
	ManagementMode       types.String   `tfsdk:"management_mode"`
	ClusterAdminUser     types.String   `tfsdk:"cluster_admin_user"`
	Router               types.Object   `tfsdk:"router"`
	RouterRWPort         types.Int64    `tfsdk:"router_rw_port"`
	RouterROPort         types.Int64    `tfsdk:"router_ro_port"`
	Database             types.Object   `tfsdk:"database"`
	DeletionProtection   types.Bool     `tfsdk:"deletion_protection"`
	Primary              types.String   `tfsdk:"primary"`
	GroupName            types.String   `tfsdk:"group_name"`
	Members              types.List     `tfsdk:"members"`
	AdminPassword        types.String   `tfsdk:"cluster_admin_password"`
	AdminPasswordWO      types.String   `tfsdk:"cluster_admin_password_wo"`
	AdminPasswordVersion types.Int64    `tfsdk:"cluster_admin_password_wo_version"`
	DatabasePassword     types.String   `tfsdk:"database_password"`
	RouterPassword       types.String   `tfsdk:"router_password"`
	Timeouts             timeouts.Value `tfsdk:"timeouts"`
}

type mysqlDatabaseModel struct {
	Name        types.String `tfsdk:"name"`
	User        types.String `tfsdk:"user"`
	SSLRequired types.Bool   `tfsdk:"ssl_required"`
}

func (r *mysqlClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mysql_cluster"
}

func (r *mysqlClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	c, ok := req.ProviderData.(*clients)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("got %T", req.ProviderData))
		return
	}
	r.c = c
}

func (m *mysqlClusterModel) nodes(ctx context.Context) ([]mysqlgr.Node, diag.Diagnostics) {
	var ns []nodeModel
	diags := m.Nodes.ElementsAs(ctx, &ns, false)
	out := make([]mysqlgr.Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, mysqlgr.Node{Name: n.Name.ValueString(), Address: n.Address.ValueString()})
	}
	return out, diags
}

func (m *mysqlClusterModel) routerEnabled() bool {
	if m.Router.IsNull() || m.Router.IsUnknown() {
		return false
	}
	en, _ := m.Router.Attributes()["enabled"].(types.Bool)
	return en.ValueBool()
}

// spec builds the playbook spec of a fully known model.
func (m *mysqlClusterModel) spec(ctx context.Context) (*mysqlgr.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	nodes, d := m.nodes(ctx)
	diags.Append(d...)
	s := &mysqlgr.Spec{
		Name: m.Name.ValueString(), ID: m.ID.ValueString(), GroupName: m.GroupName.ValueString(), Nodes: nodes,
		MySQLPort: int(m.MySQLPort.ValueInt64()), GroupPort: int(m.GroupPort.ValueInt64()), PrimaryCheckPort: int(m.PrimaryCheckPort.ValueInt64()),
		Management: m.ManagementMode.ValueString(), ClusterAdminUser: m.ClusterAdminUser.ValueString(),
		Router: m.routerEnabled(), RouterRWPort: 6446, RouterROPort: 6447,
		AdminPassword: m.AdminPassword.ValueString(), DatabasePassword: m.DatabasePassword.ValueString(), RouterPassword: m.RouterPassword.ValueString(),
	}
	if !m.Database.IsNull() && !m.Database.IsUnknown() {
		var db mysqlDatabaseModel
		diags.Append(m.Database.As(ctx, &db, objectAsOptions)...)
		s.Database = &mysqlgr.Database{Name: db.Name.ValueString(), User: db.User.ValueString(), SSLRequired: db.SSLRequired.ValueBool()}
	}
	return s, diags
}

// setObserved fills primary and members from an observation.
func (m *mysqlClusterModel) setObserved(obs *mysqlgr.Observation, nodes []mysqlgr.Node) diag.Diagnostics {
	var diags diag.Diagnostics
	status := map[string]mysqlgr.NodeStatus{}
	for _, s := range obs.Nodes {
		status[s.Name] = s
	}
	byAddr := map[string]string{}
	var members []attr.Value
	for _, n := range nodes {
		byAddr[n.Address] = n.Name
		v := map[string]attr.Value{"name": types.StringValue(n.Name), "address": types.StringValue(n.Address),
			"role": types.StringValue(""), "state": types.StringValue("MISSING"), "version": types.StringValue("")}
		st := status[n.Name]
		if st.Probe == nil && st.SSHError != nil {
			v["state"] = types.StringValue("unreachable")
		} else if st.Probe != nil {
			v["version"] = types.StringValue(st.Probe.Version)
		}
		if gm := obs.Member(n); gm != nil {
			v["role"], v["state"] = types.StringValue(gm.Role), types.StringValue(gm.State)
			if gm.Version != "" {
				v["version"] = types.StringValue(gm.Version)
			}
		}
		obj, d := types.ObjectValue(mysqlMemberAttrTypes, v)
		diags.Append(d...)
		members = append(members, obj)
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: mysqlMemberAttrTypes}, members)
	diags.Append(d...)
	m.Members = list
	m.Primary = types.StringNull()
	if p := obs.Primary(); p != "" {
		if name, ok := byAddr[p]; ok {
			m.Primary = types.StringValue(name)
		} else {
			m.Primary = types.StringValue(p)
		}
	}
	m.setRouterPorts()
	return diags
}

func (m *mysqlClusterModel) setRouterPorts() {
	if m.routerEnabled() {
		m.RouterRWPort, m.RouterROPort = types.Int64Value(6446), types.Int64Value(6447)
	} else {
		m.RouterRWPort, m.RouterROPort = types.Int64Null(), types.Int64Null()
	}
}

func (r *mysqlClusterResource) observe(ctx context.Context, name string, nodes []mysqlgr.Node) *mysqlgr.Observation {
	return mysqlgr.Observe(ctx, r.c.pool, name, r.c.sudo(), nodes, 10*time.Second)
}

func (r *mysqlClusterResource) runPlaybook(ctx context.Context, playbook string, spec *mysqlgr.Spec, ch *mysqlgr.Change, skip []string, extraSecrets []string) (runner.Result, error) {
	if err := r.c.ansiblePreflight(ctx); err != nil {
		return runner.Result{}, err
	}
	rn := r.c.runner
	rn.OnEvent = ansibleLogger(ctx, "cluster", spec.Name)
	secrets := append(spec.Secrets(), extraSecrets...)
	return rn.Run(ctx, runner.Job{Playbook: playbook, Hosts: spec.Hosts(ch), Vars: spec.Vars(ch), Secrets: secrets, SkipSteps: skip})
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (r *mysqlClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config mysqlClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 45*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	nodes, d := plan.nodes(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Resolve management = auto from what the nodes have.
	mode := plan.Management.ValueString()
	if mode == mysqlgr.ModeAuto {
		obs := r.observe(ctx, plan.Name.ValueString(), nodes)
		mode = mysqlgr.ModeAdminAPI
		for _, s := range obs.Nodes {
			if s.Probe == nil {
				resp.Diagnostics.AddError(fmt.Sprintf("Node %s (%s) could not be probed", s.Name, s.Address), fmt.Sprint(s.SSHError))
				return
			}
			if !s.Probe.MySQLSh {
				mode = mysqlgr.ModeGroupReplication
			}
		}
	}
	if plan.routerEnabled() && mode != mysqlgr.ModeAdminAPI {
		resp.Diagnostics.AddAttributeError(path.Root("router"), "MySQL Router needs the AdminAPI",
			"management = \"auto\" resolved to \"group_replication\" because mysqlsh is missing on at least one node, and Router cannot bootstrap without the InnoDB Cluster metadata. Install MySQL Shell on every node or disable router.")
		return
	}
	plan.ManagementMode = types.StringValue(mode)
	plan.ID = types.StringValue(newClusterID(plan.Name.ValueString()))
	plan.GroupName = types.StringValue(newUUID())
	gen := func() string {
		p, err := pgcluster.GeneratePassword(32)
		if err != nil {
			resp.Diagnostics.AddError("Generating a password failed", err.Error())
		}
		return p
	}
	if v := config.AdminPasswordWO; !v.IsNull() && !v.IsUnknown() {
		plan.AdminPassword = types.StringValue(v.ValueString())
	} else {
		plan.AdminPassword = types.StringValue(gen())
	}
	plan.DatabasePassword, plan.RouterPassword = types.StringNull(), types.StringNull()
	if !plan.Database.IsNull() {
		plan.DatabasePassword = types.StringValue(gen())
	}
	if plan.routerEnabled() {
		plan.RouterPassword = types.StringValue(gen())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	spec, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Primary = types.StringNull()
	plan.Members = types.ListNull(types.ObjectType{AttrTypes: mysqlMemberAttrTypes})
	plan.setRouterPorts()

	res, err := r.runPlaybook(ctx, "mysql_create.yml", spec, nil, nil, nil)
	progress := createProgress{Completed: res.Completed, Done: err == nil}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, progress.bytes())...)
	if err != nil {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		runFailure(&resp.Diagnostics, "Create", fmt.Sprintf("MySQL cluster %q", spec.Name), err)
		resp.Diagnostics.AddWarning("The cluster is partly built",
			fmt.Sprintf("Completed steps: %v. The state keeps the generated passwords and the group name. Run `terraform untaint <address>` and `terraform apply` to resume at the failed step.", res.Completed))
		return
	}
	resp.Diagnostics.Append(plan.setObserved(r.observe(ctx, spec.Name, spec.Nodes), spec.Nodes)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *mysqlClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state mysqlClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	nodes, d := state.nodes(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	obs := r.observe(ctx, state.Name.ValueString(), nodes)
	for _, s := range obs.Nodes {
		if s.Probe == nil {
			resp.Diagnostics.AddWarning(fmt.Sprintf("Node %s (%s) is unreachable", s.Name, s.Address),
				fmt.Sprintf("Reading MySQL cluster %q: %v. The last known state is kept for this node.", state.Name.ValueString(), s.SSHError))
		}
	}
	if obs.Reachable() == 0 {
		return
	}
	if obs.Gone() && progress.Done {
		resp.Diagnostics.AddWarning(fmt.Sprintf("MySQL cluster %q is gone", state.Name.ValueString()),
			"Every node answered and none holds the cluster any more (no marker, no group), so it was removed from state; the next apply creates it again.")
		resp.State.RemoveResource(ctx)
		return
	}
	drift := obs.Drift(nodes, state.GroupName.ValueString(), state.routerEnabled())
	if obs.CompleteOutage() {
		resp.Diagnostics.AddWarning(fmt.Sprintf("MySQL cluster %q: complete outage", state.Name.ValueString()),
			"No member is ONLINE, but the nodes hold this group's data. terraform apply will not bootstrap a new group over them. "+
				"Find the member with the most transactions (SELECT @@gtid_executed on each) and on it run: SET GLOBAL group_replication_bootstrap_group=ON; "+
				"START GROUP_REPLICATION; SET GLOBAL group_replication_bootstrap_group=OFF; (AdminAPI: dba.rebootClusterFromCompleteOutage()). Then apply to rejoin the others.")
	}
	if state.ManagementMode.ValueString() == mysqlgr.ModeAdminAPI && obs.Primary() != "" && len(drift) == 0 {
		// The InnoDB Cluster's own verdict (metadata included), through MySQL Shell on the primary.
		spec, d := state.spec(ctx)
		resp.Diagnostics.Append(d...)
		cmd, stdin := spec.AdminAPIStatusCommand(obs.Primary(), r.c.sudo())
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := r.c.pool.Run(sctx, obs.Primary(), cmd, stdin)
		cancel()
		if cs, perr := mysqlgr.StatusLine(string(out)); err == nil && perr == nil {
			drift = append(drift, cs.StatusDrift()...)
		} else {
			resp.Diagnostics.AddWarning(fmt.Sprintf("MySQL cluster %q: cluster.status() unavailable", state.Name.ValueString()),
				fmt.Sprintf("MySQL Shell on %s did not report the cluster's status (%v, %v); the group members were read from performance_schema.", obs.Primary(), err, perr))
		}
	}
	resp.Diagnostics.Append(state.setObserved(obs, nodes)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, drift)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *mysqlClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		return
	}
	var state mysqlClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if req.Plan.Raw.IsNull() {
		if state.DeletionProtection.ValueBool() && progress.Done {
			resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
				fmt.Sprintf("MySQL cluster %q has deletion_protection = true, so it cannot be destroyed. Set deletion_protection = false and apply first.", state.Name.ValueString()))
		}
		return
	}
	var plan, config mysqlClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if len(resp.RequiresReplace) > 0 {
		if state.DeletionProtection.ValueBool() && progress.Done {
			resp.Diagnostics.AddError("Deletion protection is on",
				fmt.Sprintf("This change replaces MySQL cluster %q (%v), which destroys it. Set deletion_protection = false and apply first if that is what you want.",
					state.Name.ValueString(), resp.RequiresReplace))
		}
		return
	}
	if m := plan.Management.ValueString(); m != mysqlgr.ModeAuto && !plan.Management.IsUnknown() && m != state.ManagementMode.ValueString() {
		resp.Diagnostics.AddAttributeError(path.Root("management"), "The management mode cannot change",
			fmt.Sprintf("MySQL cluster %q is managed with %s; it cannot switch to %s in place. Use management = %q or \"auto\".",
				state.Name.ValueString(), state.ManagementMode.ValueString(), m, state.ManagementMode.ValueString()))
		return
	}
	if plan.routerEnabled() && state.ManagementMode.ValueString() == mysqlgr.ModeGroupReplication {
		resp.Diagnostics.AddAttributeError(path.Root("router"), "MySQL Router needs the AdminAPI",
			"This cluster is managed with group_replication (no InnoDB Cluster metadata), so Router cannot be bootstrapped.")
		return
	}
	if refuseMemberMoves(ctx, state.Nodes, plan.Nodes, &resp.Diagnostics) {
		return
	}
	changed := false
	if !plan.AdminPasswordVersion.IsNull() && !plan.AdminPasswordVersion.Equal(state.AdminPasswordVersion) {
		if config.AdminPasswordWO.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_admin_password_wo"), "Missing write-only password",
				"cluster_admin_password_wo_version changed, so cluster_admin_password_wo must hold the new password.")
			return
		}
		plan.AdminPassword = types.StringUnknown()
		changed = true
	}
	if plan.Database.IsNull() && !plan.DatabasePassword.IsNull() {
		// The database and its user stay on the servers; the state forgets the password.
		plan.DatabasePassword = types.StringNull()
		changed = true
	}
	if !plan.Database.IsNull() && state.DatabasePassword.IsNull() {
		plan.DatabasePassword = types.StringUnknown()
		changed = true
	}
	if plan.routerEnabled() && state.RouterPassword.IsNull() {
		plan.RouterPassword = types.StringUnknown()
		changed = true
	}
	if !changed {
		// Any change the playbook acts on may move the primary or the members.
		ps, d1 := plan.spec(ctx)
		ss, d2 := state.spec(ctx)
		if d1.HasError() || d2.HasError() || !sameMySQLSpec(ps, ss) {
			changed = true
		}
	}
	var drift []string
	if !progress.Done {
		drift = append(drift, fmt.Sprintf("the create stopped after steps %v; apply resumes it", progress.Completed))
	}
	if nodes, d := plan.nodes(ctx); !d.HasError() && !plan.Nodes.IsUnknown() {
		stateNodes, _ := state.nodes(ctx)
		if slices.Equal(nodes, stateNodes) {
			drift = append(drift, readDrift(ctx, req.Private)...)
		} else {
			changed = true
		}
	}
	if len(drift) > 0 {
		resp.Diagnostics.AddWarning(fmt.Sprintf("MySQL cluster %q has drifted", state.Name.ValueString()),
			"terraform apply will repair:\n- "+strings.Join(drift, "\n- "))
		changed = true
	}
	if changed {
		plan.Members = types.ListUnknown(types.ObjectType{AttrTypes: mysqlMemberAttrTypes})
		plan.Primary = types.StringUnknown()
	} else {
		plan.Members, plan.Primary = state.Members, state.Primary
	}
	if plan.routerEnabled() != state.routerEnabled() {
		plan.RouterRWPort, plan.RouterROPort = types.Int64Unknown(), types.Int64Unknown()
	} else {
		plan.RouterRWPort, plan.RouterROPort = state.RouterRWPort, state.RouterROPort
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *mysqlClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config mysqlClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 45*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	plan.ID, plan.GroupName, plan.ManagementMode = state.ID, state.GroupName, state.ManagementMode
	rotateAdmin := false
	if plan.AdminPassword.IsUnknown() {
		if !config.AdminPasswordWO.IsNull() && !plan.AdminPasswordVersion.Equal(state.AdminPasswordVersion) {
			plan.AdminPassword = types.StringValue(config.AdminPasswordWO.ValueString())
			rotateAdmin = plan.AdminPassword.ValueString() != state.AdminPassword.ValueString()
		} else {
			plan.AdminPassword = state.AdminPassword
		}
	}
	for _, p := range []*types.String{&plan.DatabasePassword, &plan.RouterPassword} {
		if p.IsUnknown() {
			g, err := pgcluster.GeneratePassword(32)
			if err != nil {
				resp.Diagnostics.AddError("Generating a password failed", err.Error())
				return
			}
			*p = types.StringValue(g)
		}
	}
	if plan.Database.IsNull() {
		plan.DatabasePassword = types.StringNull()
	}
	newSpec, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	oldSpec, d := state.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if progress.Done && !rotateAdmin && len(readDrift(ctx, req.Private)) == 0 && sameMySQLSpec(oldSpec, newSpec) {
		plan.Members, plan.Primary = state.Members, state.Primary
		plan.setRouterPorts()
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	var res runner.Result
	var err error
	if !progress.Done {
		res, err = r.runPlaybook(ctx, "mysql_create.yml", newSpec, nil, progress.Completed, oldSpec.Secrets())
		progress.Completed = appendUnique(progress.Completed, res.Completed...)
		progress.Done = err == nil
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, progress.bytes())...)
	} else {
		ch := &mysqlgr.Change{RotateAdmin: rotateAdmin}
		oldByName, newByName := map[string]bool{}, map[string]bool{}
		for _, n := range oldSpec.Nodes {
			oldByName[n.Name] = true
		}
		for _, n := range newSpec.Nodes {
			newByName[n.Name] = true
			if !oldByName[n.Name] {
				ch.Added = append(ch.Added, n.Name)
			}
		}
		for _, n := range oldSpec.Nodes {
			if !newByName[n.Name] {
				ch.Removed = append(ch.Removed, n)
			}
		}
		res, err = r.runPlaybook(ctx, "mysql_update.yml", newSpec, ch, nil, oldSpec.Secrets())
	}
	if err != nil {
		keep := state
		if rotateAdmin && contains(res.Completed, "passwords") {
			keep.AdminPassword = plan.AdminPassword
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, &keep)...)
		runFailure(&resp.Diagnostics, "Update", fmt.Sprintf("MySQL cluster %q", newSpec.Name), err)
		return
	}
	resp.Diagnostics.Append(plan.setObserved(r.observe(ctx, newSpec.Name, newSpec.Nodes), newSpec.Nodes)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// sameMySQLSpec reports whether two specs would render the same playbook inputs.
func sameMySQLSpec(a, b *mysqlgr.Spec) bool {
	va, err1 := json.Marshal(a.Marker())
	vb, err2 := json.Marshal(b.Marker())
	return err1 == nil && err2 == nil && string(va) == string(vb)
}

func (r *mysqlClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state mysqlClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if state.DeletionProtection.ValueBool() && progress.Done {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
			fmt.Sprintf("MySQL cluster %q has deletion_protection = true. Set it to false and apply before destroying.", state.Name.ValueString()))
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 15*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spec, d := state.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.runPlaybook(ctx, "mysql_delete.yml", spec, nil, nil, nil); err != nil {
		runFailure(&resp.Diagnostics, "Delete", fmt.Sprintf("MySQL cluster %q", spec.Name), err)
	}
}

// ImportState takes "<name>@<address>,<address>,..." and rebuilds the
// resource from each node's marker (/etc/erawan/mysql-<name>/erawan.json).
func (r *mysqlClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, list, ok := strings.Cut(req.ID, "@")
	if !ok || list == "" || !mysqlClusterNameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("Want <name>@<address>,<address>,... (for example prodCluster@10.0.0.21,10.0.0.22,10.0.0.23), got %q.", req.ID))
		return
	}
	if r.c == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import.")
		return
	}
	var marker *mysqlgr.Marker
	var nodes []attr.Value
	for _, addr := range strings.Split(list, ",") {
		addr = strings.TrimSpace(addr)
		out, err := r.c.pool.Run(ctx, addr, r.c.sudo()+"cat /etc/erawan/mysql-"+name+"/erawan.json", nil)
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading MySQL cluster %q on %s failed", name, addr), err.Error())
			return
		}
		var m mysqlgr.Marker
		if err := json.Unmarshal(out, &m); err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Reading the marker of %q on %s failed", name, addr), err.Error())
			return
		}
		if marker != nil && m.ID != marker.ID {
			resp.Diagnostics.AddError("Nodes belong to different clusters", fmt.Sprintf("%s holds cluster id %s, other nodes hold %s.", addr, m.ID, marker.ID))
			return
		}
		marker = &m
		member := ""
		for _, n := range m.Members {
			if n.Address == addr {
				member = n.Name
			}
		}
		if member == "" {
			resp.Diagnostics.AddError("Node is not a member", fmt.Sprintf("The marker on %s does not list %s among the members %v.", addr, addr, m.Members))
			return
		}
		obj, _ := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{"name": types.StringValue(member), "address": types.StringValue(addr)})
		nodes = append(nodes, obj)
	}
	st := mysqlClusterModel{
		ID: types.StringValue(marker.ID), Name: types.StringValue(name), GroupName: types.StringValue(marker.GroupName),
		MySQLPort: types.Int64Value(int64(marker.MySQLPort)), GroupPort: types.Int64Value(int64(marker.GroupPort)),
		PrimaryCheckPort: types.Int64Value(int64(marker.PrimaryCheckPort)),
		Management:       types.StringValue(mysqlgr.ModeAuto), ManagementMode: types.StringValue(marker.Management),
		ClusterAdminUser: types.StringValue(marker.ClusterAdminUser), AdminPassword: types.StringValue(marker.ClusterAdminPassword),
		AdminPasswordWO: types.StringNull(), AdminPasswordVersion: types.Int64Null(),
		Router:             types.ObjectValueMust(mysqlRouterAttrTypes, map[string]attr.Value{"enabled": types.BoolValue(marker.Router)}),
		Database:           types.ObjectNull(mysqlDatabaseAttrTypes),
		DatabasePassword:   types.StringNull(),
		RouterPassword:     types.StringNull(),
		DeletionProtection: types.BoolValue(true),
		Primary:            types.StringNull(),
		Members:            types.ListNull(types.ObjectType{AttrTypes: mysqlMemberAttrTypes}),
		Timeouts:           timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})},
	}
	st.setRouterPorts()
	if marker.RouterPassword != "" {
		st.RouterPassword = types.StringValue(marker.RouterPassword)
	}
	st.Nodes, _ = types.ListValue(types.ObjectType{AttrTypes: nodeAttrTypes}, nodes)
	if marker.Database != nil {
		st.Database = types.ObjectValueMust(mysqlDatabaseAttrTypes, map[string]attr.Value{
			"name": types.StringValue(marker.Database.Name), "user": types.StringValue(marker.Database.User), "ssl_required": types.BoolValue(marker.Database.SSLRequired)})
		st.DatabasePassword = types.StringValue(marker.DatabasePassword)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, createProgress{Done: true}.bytes())...)
}
