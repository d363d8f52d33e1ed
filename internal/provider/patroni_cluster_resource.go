package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

var (
	_ resource.ResourceWithConfigure   = &patroniClusterResource{}
	_ resource.ResourceWithModifyPlan  = &patroniClusterResource{}
	_ resource.ResourceWithImportState = &patroniClusterResource{}
)

// NewPatroniClusterResource returns the erawan_patroni_cluster resource.
func NewPatroniClusterResource() resource.Resource { return &patroniClusterResource{} }

type patroniClusterResource struct{ c *clients }

type clusterModel struct {
	ID                 types.String   `tfsdk:"id"`
	Name               types.String   `tfsdk:"name"`
	PostgresVersion    types.Int64    `tfsdk:"postgres_version"`
	Nodes              types.List     `tfsdk:"nodes"`
	PostgresPort       types.Int64    `tfsdk:"postgres_port"`
	PatroniPort        types.Int64    `tfsdk:"patroni_port"`
	EtcdClientPort     types.Int64    `tfsdk:"etcd_client_port"`
	EtcdPeerPort       types.Int64    `tfsdk:"etcd_peer_port"`
	AllowedCIDRs       types.List     `tfsdk:"allowed_cidrs"`
	Parameters         types.Map      `tfsdk:"parameters"`
	SynchronousMode    types.Bool     `tfsdk:"synchronous_mode"`
	Database           types.Object   `tfsdk:"database"`
	DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
	Leader             types.String   `tfsdk:"leader"`
	Members            types.List     `tfsdk:"members"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`

	SuperuserPassword          types.String `tfsdk:"superuser_password"`
	SuperuserPasswordWO        types.String `tfsdk:"superuser_password_wo"`
	SuperuserPasswordWOVersion types.Int64  `tfsdk:"superuser_password_wo_version"`

	ReplicationPassword          types.String `tfsdk:"replication_password"`
	ReplicationPasswordWO        types.String `tfsdk:"replication_password_wo"`
	ReplicationPasswordWOVersion types.Int64  `tfsdk:"replication_password_wo_version"`

	RewindPassword          types.String `tfsdk:"rewind_password"`
	RewindPasswordWO        types.String `tfsdk:"rewind_password_wo"`
	RewindPasswordWOVersion types.Int64  `tfsdk:"rewind_password_wo_version"`

	RestAPIPassword          types.String `tfsdk:"restapi_password"`
	RestAPIPasswordWO        types.String `tfsdk:"restapi_password_wo"`
	RestAPIPasswordWOVersion types.Int64  `tfsdk:"restapi_password_wo_version"`

	DatabasePassword          types.String `tfsdk:"database_password"`
	DatabasePasswordWO        types.String `tfsdk:"database_password_wo"`
	DatabasePasswordWOVersion types.Int64  `tfsdk:"database_password_wo_version"`
}

// pw gives uniform access to one generated password and its write-only input.
type pw struct {
	attr    string
	role    string
	value   *types.String
	wo      *types.String
	version *types.Int64
}

func (m *clusterModel) passwords() []pw {
	return []pw{
		{"superuser_password", "postgres", &m.SuperuserPassword, &m.SuperuserPasswordWO, &m.SuperuserPasswordWOVersion},
		{"replication_password", "replicator", &m.ReplicationPassword, &m.ReplicationPasswordWO, &m.ReplicationPasswordWOVersion},
		{"rewind_password", "rewinder", &m.RewindPassword, &m.RewindPasswordWO, &m.RewindPasswordWOVersion},
		{"restapi_password", "", &m.RestAPIPassword, &m.RestAPIPasswordWO, &m.RestAPIPasswordWOVersion},
		{"database_password", "", &m.DatabasePassword, &m.DatabasePasswordWO, &m.DatabasePasswordWOVersion},
	}
}

type nodeModel struct {
	Name    types.String `tfsdk:"name"`
	Address types.String `tfsdk:"address"`
}

type databaseModel struct {
	Name  types.String `tfsdk:"name"`
	Owner types.String `tfsdk:"owner"`
}

// createProgress is kept in private state: which create steps completed.
type createProgress struct {
	Completed []string `json:"completed"`
	Done      bool     `json:"done"`
}

const (
	progressKey = "create_progress"
	// driftKey holds the drift that the last Read saw, as a JSON list of
	// sentences; ModifyPlan turns it into a planned repair.
	driftKey = "drift"
)

func readDrift(ctx context.Context, p privateGetter) []string {
	b, _ := p.GetKey(ctx, driftKey)
	var out []string
	_ = json.Unmarshal(b, &out)
	return out
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func writeDrift(ctx context.Context, p privateSetter, drift []string) diag.Diagnostics {
	if drift == nil {
		drift = []string{}
	}
	b, _ := json.Marshal(drift)
	return p.SetKey(ctx, driftKey, b)
}

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

func readProgress(ctx context.Context, p privateGetter) createProgress {
	b, _ := p.GetKey(ctx, progressKey)
	if len(b) == 0 {
		return createProgress{Done: true} // imported or older state: treat as complete
	}
	var cp createProgress
	if json.Unmarshal(b, &cp) != nil {
		return createProgress{Done: true}
	}
	return cp
}

func (cp createProgress) bytes() []byte {
	b, _ := json.Marshal(cp)
	return b
}

func (r *patroniClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_patroni_cluster"
}

func (r *patroniClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
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

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func (m *clusterModel) nodes(ctx context.Context) ([]pgcluster.Node, diag.Diagnostics) {
	var ns []nodeModel
	diags := m.Nodes.ElementsAs(ctx, &ns, false)
	out := make([]pgcluster.Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, pgcluster.Node{Name: n.Name.ValueString(), Address: n.Address.ValueString()})
	}
	return out, diags
}

// spec builds the playbook spec of a fully known model.
func (m *clusterModel) spec(ctx context.Context) (*pgcluster.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	nodes, d := m.nodes(ctx)
	diags.Append(d...)
	s := &pgcluster.Spec{
		Name: m.Name.ValueString(), ID: m.ID.ValueString(), PostgresVersion: int(m.PostgresVersion.ValueInt64()),
		Nodes: nodes, PostgresPort: int(m.PostgresPort.ValueInt64()), PatroniPort: int(m.PatroniPort.ValueInt64()),
		EtcdClientPort: int(m.EtcdClientPort.ValueInt64()), EtcdPeerPort: int(m.EtcdPeerPort.ValueInt64()),
		SynchronousMode: m.SynchronousMode.ValueBool(), Parameters: map[string]string{},
		Passwords: pgcluster.Passwords{
			Superuser: m.SuperuserPassword.ValueString(), Replication: m.ReplicationPassword.ValueString(),
			Rewind: m.RewindPassword.ValueString(), RestAPI: m.RestAPIPassword.ValueString(),
		},
	}
	if !m.AllowedCIDRs.IsNull() {
		diags.Append(m.AllowedCIDRs.ElementsAs(ctx, &s.AllowedCIDRs, false)...)
	}
	if !m.Parameters.IsNull() {
		diags.Append(m.Parameters.ElementsAs(ctx, &s.Parameters, false)...)
	}
	if !m.Database.IsNull() && !m.Database.IsUnknown() {
		var db databaseModel
		diags.Append(m.Database.As(ctx, &db, objectAsOptions)...)
		s.Database = &pgcluster.Database{Name: db.Name.ValueString(), Owner: db.Owner.ValueString(), Password: m.DatabasePassword.ValueString()}
	}
	return s, diags
}

// setObserved fills leader, members, and the live parameters and
// synchronous_mode from an observation. Parameters are refreshed only for
// the keys the configuration manages, so drift in them shows in the plan.
func (m *clusterModel) setObserved(ctx context.Context, obs *pgcluster.Observation, nodes []pgcluster.Node, refreshConfig bool) diag.Diagnostics {
	var diags diag.Diagnostics
	status := map[string]pgcluster.NodeStatus{}
	for _, s := range obs.Nodes {
		status[s.Name] = s
	}
	var members []attr.Value
	seen := map[string]bool{}
	addMember := func(name, address string, pm *patroni.Member) {
		st := status[name]
		v := map[string]attr.Value{
			"name": types.StringValue(name), "address": types.StringValue(address),
			"role": types.StringValue(""), "state": types.StringValue("stopped"),
			"timeline": types.Int64Null(), "lag_bytes": types.Int64Null(), "etcd_state": types.StringValue(st.Etcd),
		}
		if st.Etcd == "" {
			v["etcd_state"] = types.StringValue(pgcluster.EtcdUnknown)
		}
		if pm != nil {
			v["role"] = types.StringValue(pm.Role)
			v["state"] = types.StringValue(pm.State)
			if pm.Timeline > 0 {
				v["timeline"] = types.Int64Value(pm.Timeline)
			}
			if pm.LagBytes != nil {
				v["lag_bytes"] = types.Int64Value(*pm.LagBytes)
			}
		} else if st.SSHError != nil {
			v["state"] = types.StringValue("unreachable")
		}
		obj, d := types.ObjectValue(memberAttrTypes, v)
		diags.Append(d...)
		members = append(members, obj)
		seen[name] = true
	}
	var view *patroni.Cluster
	if obs.Cluster != nil {
		view = obs.Cluster
	}
	for _, n := range nodes {
		var pm *patroni.Member
		if view != nil {
			pm = view.Member(n.Name)
		}
		addMember(n.Name, n.Address, pm)
	}
	if view != nil {
		for i := range view.Members {
			if pm := &view.Members[i]; !seen[pm.Name] {
				addMember(pm.Name, pm.Host, pm)
			}
		}
		if l := view.Leader(); l != nil {
			m.Leader = types.StringValue(l.Name)
		} else {
			m.Leader = types.StringNull()
		}
	} else if m.Leader.IsUnknown() {
		m.Leader = types.StringNull()
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: memberAttrTypes}, members)
	diags.Append(d...)
	m.Members = list
	if refreshConfig && obs.Parameters != nil && !m.Parameters.IsNull() {
		var want map[string]string
		diags.Append(m.Parameters.ElementsAs(ctx, &want, false)...)
		live := map[string]attr.Value{}
		for k := range want {
			if v, ok := obs.Parameters[k]; ok {
				live[k] = types.StringValue(v)
			}
		}
		mv, d := types.MapValue(types.StringType, live)
		diags.Append(d...)
		m.Parameters = mv
	}
	if refreshConfig && obs.SyncMode != nil {
		m.SynchronousMode = types.BoolValue(*obs.SyncMode)
	}
	return diags
}

func newClusterID(name string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

func (r *patroniClusterResource) runPlaybook(ctx context.Context, playbook string, spec *pgcluster.Spec, ch *pgcluster.Change, skip []string, extraSecrets []string) (runner.Result, error) {
	if err := r.c.ansiblePreflight(ctx); err != nil {
		return runner.Result{}, err
	}
	vars, err := spec.Vars(ch)
	if err != nil {
		return runner.Result{}, err
	}
	rn := r.c.runner
	rn.OnEvent = ansibleLogger(ctx, "cluster", spec.Name)
	secrets := append(spec.Secrets(), extraSecrets...)
	if ch != nil {
		for _, v := range ch.RotateVerifiers {
			secrets = append(secrets, v)
		}
	}
	return rn.Run(ctx, runner.Job{Playbook: playbook, Hosts: spec.Hosts(ch), Vars: vars, Secrets: secrets, SkipSteps: skip})
}

func (r *patroniClusterResource) observe(ctx context.Context, spec *pgcluster.Spec, nodes []pgcluster.Node) *pgcluster.Observation {
	return pgcluster.Observe(ctx, r.c.pool, spec.Name, nodes, spec.PatroniPort, spec.EtcdClientPort, 10*time.Second)
}

func (r *patroniClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	plan.ID = types.StringValue(newClusterID(plan.Name.ValueString()))
	cfgPw := config.passwords()
	for i, p := range plan.passwords() {
		if p.attr == "database_password" && plan.Database.IsNull() {
			*p.value = types.StringNull()
			continue
		}
		if v := cfgPw[i].wo; !v.IsNull() && !v.IsUnknown() {
			*p.value = types.StringValue(v.ValueString())
			continue
		}
		gen, err := pgcluster.GeneratePassword(32)
		if err != nil {
			resp.Diagnostics.AddError("Generating a password failed", err.Error())
			return
		}
		*p.value = types.StringValue(gen)
	}
	spec, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Leader = types.StringNull()
	plan.Members = types.ListNull(types.ObjectType{AttrTypes: memberAttrTypes})

	res, err := r.runPlaybook(ctx, "patroni_create.yml", spec, nil, nil, nil)
	progress := createProgress{Completed: res.Completed, Done: err == nil}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, progress.bytes())...)
	if err != nil {
		// Keep the generated passwords and the completed steps: the resource
		// is tainted; `terraform untaint` + apply resumes at the failed step.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		runFailure(&resp.Diagnostics, "Create", fmt.Sprintf("Patroni cluster %q", spec.Name), err)
		resp.Diagnostics.AddWarning("The cluster is partly built",
			fmt.Sprintf("Completed steps: %v. The state keeps the generated passwords. Run `terraform untaint <address>` and `terraform apply` to resume at the failed step, or plain `terraform apply` to replace the cluster.", res.Completed))
		return
	}
	resp.Diagnostics.Append(plan.setObserved(ctx, r.observe(ctx, spec, spec.Nodes), spec.Nodes, false)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *patroniClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, d := state.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	obs := r.observe(ctx, spec, spec.Nodes)
	for _, s := range obs.Nodes {
		if s.SSHError != nil {
			resp.Diagnostics.AddWarning(fmt.Sprintf("Node %s (%s) is unreachable", s.Name, s.Address),
				fmt.Sprintf("Reading cluster %q: %v. The last known state is kept for this node.", spec.Name, s.SSHError))
		}
	}
	if obs.Reachable() == 0 {
		return
	}
	if obs.Gone() && progress.Done {
		resp.Diagnostics.AddWarning(fmt.Sprintf("Patroni cluster %q is gone", spec.Name),
			"Every node answered and none holds the cluster any more, so it was removed from state; the next apply creates it again.")
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(state.setObserved(ctx, obs, spec.Nodes, progress.Done)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, obs.Drift(spec.Nodes))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *patroniClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		return // create
	}
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if req.Plan.Raw.IsNull() {
		if state.DeletionProtection.ValueBool() && progress.Done {
			resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
				fmt.Sprintf("Patroni cluster %q has deletion_protection = true, so it cannot be destroyed. Set deletion_protection = false and apply first.", state.Name.ValueString()))
		}
		return
	}
	var plan, config clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if len(resp.RequiresReplace) > 0 && state.DeletionProtection.ValueBool() && progress.Done {
		resp.Diagnostics.AddError("Deletion protection is on",
			fmt.Sprintf("This change replaces Patroni cluster %q (%v), which destroys it and its data. Set deletion_protection = false and apply first if that is what you want.",
				state.Name.ValueString(), resp.RequiresReplace))
		return
	}
	if len(resp.RequiresReplace) > 0 {
		return
	}
	// A member keeps its address: the same name at another address is a new member.
	if refuseMemberMoves(ctx, state.Nodes, plan.Nodes, &resp.Diagnostics) {
		return
	}
	changed := false
	cfgPw := config.passwords()
	statePw := state.passwords()
	for i, p := range plan.passwords() {
		if p.version.Equal(*statePw[i].version) || p.version.IsNull() {
			continue
		}
		if cfgPw[i].wo.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root(p.attr+"_wo"), "Missing write-only password",
				fmt.Sprintf("%s_wo_version changed, so %s_wo must hold the new password.", p.attr, p.attr))
			continue
		}
		*p.value = types.StringUnknown()
		changed = true
	}
	if !plan.Database.IsNull() && state.DatabasePassword.IsNull() {
		plan.DatabasePassword = types.StringUnknown()
		changed = true
	}
	var drift []string
	if !progress.Done {
		drift = append(drift, fmt.Sprintf("the create stopped after steps %v; apply resumes it", progress.Completed))
	}
	if nodes, d := plan.nodes(ctx); !d.HasError() && !plan.Nodes.IsUnknown() {
		stateNodes, _ := state.nodes(ctx)
		if slices.Equal(nodes, stateNodes) {
			drift = append(drift, readDrift(ctx, req.Private)...)
		}
	}
	if len(drift) > 0 {
		resp.Diagnostics.AddWarning(fmt.Sprintf("Patroni cluster %q has drifted", state.Name.ValueString()),
			"terraform apply will repair:\n- "+strings.Join(drift, "\n- "))
		changed = true
	}
	if changed {
		plan.Members = types.ListUnknown(types.ObjectType{AttrTypes: memberAttrTypes})
		plan.Leader = types.StringUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	}
}

func (r *patroniClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	plan.ID = state.ID
	rotate := map[string]string{}
	cfgPw, statePw := config.passwords(), state.passwords()
	for i, p := range plan.passwords() {
		switch {
		case p.value.IsUnknown() && !cfgPw[i].wo.IsNull() && !p.version.Equal(*statePw[i].version):
			*p.value = types.StringValue(cfgPw[i].wo.ValueString())
			if p.role != "" {
				v, err := pgcluster.ScramVerifier(p.value.ValueString())
				if err != nil {
					resp.Diagnostics.AddError("Hashing a password failed", err.Error())
					return
				}
				rotate[p.role] = v
			}
		case p.value.IsUnknown() && p.attr == "database_password":
			gen, err := pgcluster.GeneratePassword(32)
			if err != nil {
				resp.Diagnostics.AddError("Generating a password failed", err.Error())
				return
			}
			*p.value = types.StringValue(gen)
		case p.value.IsUnknown():
			*p.value = *statePw[i].value
		}
	}
	newSpec, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	oldSpec, d := state.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if progress.Done && len(rotate) == 0 && len(readDrift(ctx, req.Private)) == 0 && sameSpec(oldSpec, newSpec) {
		// Only Terraform-side settings changed (deletion_protection, timeouts,
		// wo_version without a new value): nothing to do on the nodes.
		plan.Members, plan.Leader = state.Members, state.Leader
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	var res runner.Result
	var err error
	if !progress.Done {
		res, err = r.runPlaybook(ctx, "patroni_create.yml", newSpec, nil, progress.Completed, oldSpec.Secrets())
		progress.Completed = appendUnique(progress.Completed, res.Completed...)
		progress.Done = err == nil
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, progressKey, progress.bytes())...)
	} else {
		ch := changeBetween(oldSpec, newSpec)
		ch.RotateVerifiers = rotate
		res, err = r.runPlaybook(ctx, "patroni_update.yml", newSpec, ch, nil, oldSpec.Secrets())
	}
	if err != nil {
		// Passwords that were already changed on the nodes must stay in state.
		keep := state
		if progress.Done || contains(res.Completed, "passwords") {
			for i, p := range keep.passwords() {
				*p.value = *plan.passwords()[i].value
			}
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, &keep)...)
		runFailure(&resp.Diagnostics, "Update", fmt.Sprintf("Patroni cluster %q", newSpec.Name), err)
		return
	}
	resp.Diagnostics.Append(plan.setObserved(ctx, r.observe(ctx, newSpec, newSpec.Nodes), newSpec.Nodes, false)...)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// sameSpec reports whether two specs would render the same playbook inputs.
func sameSpec(a, b *pgcluster.Spec) bool {
	va, err1 := json.Marshal(a.Marker())
	vb, err2 := json.Marshal(b.Marker())
	return err1 == nil && err2 == nil && string(va) == string(vb) && slices.Equal(a.Nodes, b.Nodes) && a.Passwords == b.Passwords
}

// changeBetween computes member and configuration changes between two specs.
func changeBetween(old, new *pgcluster.Spec) *pgcluster.Change {
	ch := &pgcluster.Change{}
	oldByName := map[string]bool{}
	for _, n := range old.Nodes {
		oldByName[n.Name] = true
	}
	newByName := map[string]bool{}
	for _, n := range new.Nodes {
		newByName[n.Name] = true
		if !oldByName[n.Name] {
			ch.Added = append(ch.Added, n.Name)
		}
	}
	for _, n := range old.Nodes {
		if !newByName[n.Name] {
			ch.Removed = append(ch.Removed, n)
		}
	}
	ch.ParametersPatch, ch.ParametersChanged = pgcluster.DiffConfig(old, new)
	return ch
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		if !contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

func (r *patroniClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private)
	if state.DeletionProtection.ValueBool() && progress.Done {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
			fmt.Sprintf("Patroni cluster %q has deletion_protection = true. Set it to false and apply before destroying.", state.Name.ValueString()))
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
	if _, err := r.runPlaybook(ctx, "patroni_delete.yml", spec, nil, nil, nil); err != nil {
		runFailure(&resp.Diagnostics, "Delete", fmt.Sprintf("Patroni cluster %q", spec.Name), err)
	}
}
