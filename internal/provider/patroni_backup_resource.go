package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

var (
	_ resource.ResourceWithConfigure   = &patroniBackupResource{}
	_ resource.ResourceWithImportState = &patroniBackupResource{}
)

// NewPatroniBackupResource returns the erawan_patroni_backup resource: one
// on-demand pgBackRest backup of a cluster with `backup`, like
// CloudNativePG's Backup object.
func NewPatroniBackupResource() resource.Resource { return &patroniBackupResource{} }

type patroniBackupResource struct{ c *clients }

type patroniBackupModel struct {
	ID                  types.String   `tfsdk:"id"`
	ClusterID           types.String   `tfsdk:"cluster_id"`
	Nodes               types.List     `tfsdk:"nodes"`
	RepositoryHost      types.String   `tfsdk:"repository_host"`
	RepositoryPath      types.String   `tfsdk:"repository_path"`
	Type                types.String   `tfsdk:"type"`
	ExpireOnDestroy     types.Bool     `tfsdk:"expire_on_destroy"`
	Label               types.String   `tfsdk:"label"`
	StartedAt           types.String   `tfsdk:"started_at"`
	StoppedAt           types.String   `tfsdk:"stopped_at"`
	SizeBytes           types.Int64    `tfsdk:"size_bytes"`
	RepositorySizeBytes types.Int64    `tfsdk:"repository_size_bytes"`
	WALStart            types.String   `tfsdk:"wal_start"`
	WALStop             types.String   `tfsdk:"wal_stop"`
	Expired             types.Bool     `tfsdk:"expired"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

// clusterIDRE is a cluster resource's id: its name and 12 hex digits
// (secrets.ClusterID).
var clusterIDRE = regexp.MustCompile(`^([a-z0-9_-]{1,63})-[0-9a-f]{12}$`)

// clusterOf is the cluster name in a cluster id: the stanza.
func clusterOf(id string) string {
	if m := clusterIDRE.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return ""
}

// stanzaLocks serialises the backups this provider takes of one stanza:
// pgBackRest runs one backup of a stanza at a time and fails the second.
var stanzaLocks sync.Map // repository host + "/" + stanza -> *sync.Mutex

func lockStanza(host, stanza string) func() {
	m, _ := stanzaLocks.LoadOrStore(host+"/"+stanza, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (r *patroniBackupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_patroni_backup"
}

func (r *patroniBackupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	r.c = configuredClients(req.ProviderData, &resp.Diagnostics)
}

func (r *patroniBackupResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One on-demand pgBackRest backup of an `erawan_patroni_cluster` with `backup`, like CloudNativePG's `Backup` object. " +
			"Create runs `pgbackrest backup` of the cluster's stanza on its repository host, as the cluster's scheduled backups do (from a replica when one is up), and records what pgBackRest reports. " +
			"This provider takes the backups of one stanza one at a time, and waits (within the create timeout) while another process, such as a scheduled backup, holds the stanza's lock. " +
			"A full backup counts toward the cluster's `retention_full` like any other: the oldest full backup beyond it expires, with the backups built on it. " +
			"The backup is the repository's: when retention expires it, Read keeps it in state with `expired = true`, " +
			"and the plan does **not** take it again (a new backup needs a new resource, or `terraform apply -replace`). " +
			"Destroy forgets it and leaves it to retention, unless `expire_on_destroy = true`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "`<cluster_id>/<label>`."},
			"cluster_id": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Validators:          []validator.String{stringvalidator.RegexMatches(clusterIDRE, "must be an erawan_patroni_cluster id (<name>-<12 hex digits>)")},
				MarkdownDescription: "The `id` of the `erawan_patroni_cluster` to back up. Its name is the stanza; the repository host's marker of its backups must hold this id."},
			"nodes": schema.ListNestedAttribute{Optional: true,
				Validators: []validator.List{listvalidator.SizeAtLeast(1)},
				MarkdownDescription: "The cluster's `nodes`, to reach it: create first checks, on the first that answers, that the cluster's marker holds `cluster_id`. " +
					"Omitted: only the repository host's marker is checked. A later change (a member added) is recorded and takes no new backup.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":    schema.StringAttribute{Required: true, MarkdownDescription: "Member name."},
					"address": schema.StringAttribute{Required: true, Validators: []validator.String{addressValidator{}}, MarkdownDescription: "The node's IPv4 address."},
				}}},
			"repository_host": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Validators:          []validator.String{addressValidator{}},
				MarkdownDescription: "The cluster's `backup.repository_host`, reached with the provider's SSH settings."},
			"repository_path": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(pgbackrest.DefaultRepositoryPath), PlanModifiers: replace,
				Validators:          []validator.String{repositoryPathValidator{}},
				MarkdownDescription: "The cluster's `backup.repository_path`. Default `" + pgbackrest.DefaultRepositoryPath + "`. Read finds the backup there also after the cluster is gone."},
			"type": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("full"), PlanModifiers: replace,
				Validators:          []validator.String{stringvalidator.OneOf(pgbackrest.BackupTypes...)},
				MarkdownDescription: "`full`, `diff` (the changes since the last full backup) or `incr` (since the last backup). Default `full`."},
			"expire_on_destroy": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Expire the backup when the resource is destroyed (`pgbackrest expire --set`, from the repository path alone, so also after the cluster is gone). " +
					"Default `false`: destroy forgets it and retention expires it in time. " +
					"A backup that other backups build on (a diff or incr on top of it) is not expired, with a warning: pgBackRest would expire them too. " +
					"pgBackRest refuses to expire the newest full backup unless an older full one exists. A stanza whose marker on the repository host holds another cluster's id is left alone."},
			"label":      schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The backup's label, such as `20261122-100000F`, from pgBackRest."},
			"started_at": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "When the backup started (RFC 3339, UTC, second precision), from `pgbackrest info`."},
			"stopped_at": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "When it stopped (RFC 3339): a restore from it reaches any time from the following second."},
			"size_bytes": schema.Int64Attribute{Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				MarkdownDescription: "Size of the database it holds, in bytes (`info.size`)."},
			"repository_size_bytes": schema.Int64Attribute{Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				MarkdownDescription: "What it adds to the repository, compressed, in bytes (`info.repository.delta`)."},
			"wal_start": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The first WAL segment a restore of it needs."},
			"wal_stop":  schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The last WAL segment a restore of it needs to be consistent."},
			"expired": schema.BoolAttribute{Computed: true, PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "True once the repository no longer holds the backup (retention, or an expire by hand). It is not taken again."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

// target is where a backup resource's stanza is: the repository host, the
// cluster (the stanza) and the repository path.
func (m *patroniBackupModel) target() (host, cluster, repo string) {
	repo = m.RepositoryPath.ValueString()
	if repo == "" {
		repo = pgbackrest.DefaultRepositoryPath
	}
	return m.RepositoryHost.ValueString(), clusterOf(m.ClusterID.ValueString()), repo
}

// run runs a shell command as root on host, with at most the last 2000
// bytes of its output in an error.
func (r *patroniBackupResource) run(ctx context.Context, host, cmd string) ([]byte, error) {
	out, err := r.c.pool.Run(ctx, host, r.c.sudo()+"sh -s", []byte(cmd))
	if err != nil {
		return out, fmt.Errorf("%v\n%s", err, lastChars(strings.TrimSpace(string(out)), 2000))
	}
	return out, nil
}

// stanza reads the stanza of cluster from the repository at repo on host.
func (r *patroniBackupResource) stanza(ctx context.Context, host, cluster, repo string) (pgbackrest.Stanza, error) {
	cmd, err := pgbackrest.InfoCommand(repo, cluster)
	if err != nil {
		return pgbackrest.Stanza{}, err
	}
	out, err := r.run(ctx, host, cmd)
	if err != nil {
		return pgbackrest.Stanza{}, fmt.Errorf("pgbackrest info of stanza %s on %s: %w", cluster, host, err)
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		return pgbackrest.Stanza{}, err
	}
	st, ok := pgbackrest.Find(stanzas, cluster)
	if !ok {
		return st, fmt.Errorf("the repository on %s lists no stanza %s", host, cluster)
	}
	return st, nil
}

// checkOwner fails unless the marker of cluster's backups on host, and on
// the first of nodes that answers, holds id.
func (r *patroniBackupResource) checkOwner(ctx context.Context, host, cluster, id string, nodes []topology.Member) error {
	cmd, err := pgbackrest.MarkerCommand(cluster)
	if err != nil {
		return err
	}
	out, err := r.run(ctx, host, cmd)
	if err != nil {
		return fmt.Errorf("%s holds no backups of cluster %s (%s/erawan.json: %w); is its backup.repository_host another host?", host, cluster, pgbackrest.RepositoryDir(cluster), err)
	}
	if got, err := pgbackrest.MarkerID(out); err != nil || got != id {
		return fmt.Errorf("the backups of cluster %s on %s belong to cluster id %q, not %s (%v): another cluster of that name", cluster, host, got, id, err)
	}
	var tried []string
	for _, n := range nodes {
		out, err := r.run(ctx, n.Address, "cat /etc/erawan/"+cluster+"/erawan.json")
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%s): %v", n.Name, n.Address, strings.SplitN(err.Error(), "\n", 2)[0]))
			continue
		}
		if got, err := pgbackrest.MarkerID(out); err != nil || got != id {
			return fmt.Errorf("node %s (%s) holds cluster id %q, not %s (%v)", n.Name, n.Address, got, id, err)
		}
		return nil
	}
	if len(nodes) > 0 {
		return fmt.Errorf("no node of cluster %s answered: %s", cluster, strings.Join(tried, "; "))
	}
	return nil
}

// setBackup records backup b in m.
func (m *patroniBackupModel) setBackup(b pgbackrest.Backup) {
	m.Label = types.StringValue(b.Label)
	m.StartedAt, m.StoppedAt = types.StringValue(b.StartedAt.Format(time.RFC3339)), types.StringValue(b.StoppedAt.Format(time.RFC3339))
	m.SizeBytes, m.RepositorySizeBytes = types.Int64Value(b.SizeBytes), types.Int64Value(b.RepositoryDeltaBytes)
	m.WALStart, m.WALStop = types.StringValue(b.WALStart), types.StringValue(b.WALStop)
	m.Expired = types.BoolValue(false)
	m.ID = types.StringValue(m.ClusterID.ValueString() + "/" + b.Label)
}

func (r *patroniBackupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m patroniBackupModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Create(ctx, time.Hour)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, cluster, repo := m.target()
	var nodes []topology.Member
	if !m.Nodes.IsNull() {
		var diags diag.Diagnostics
		nodes, diags = membersOf(ctx, m.Nodes)
		if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
			return
		}
	}
	if err := r.checkOwner(ctx, host, cluster, m.ClusterID.ValueString(), nodes); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Not this cluster's backups", err.Error()+"\n\nNo backup was taken.")
		return
	}
	unlock := lockStanza(host, cluster)
	defer unlock()
	before, err := r.stanza(ctx, host, cluster, repo)
	if err == nil && before.StatusCode != pgbackrest.StatusOK && before.StatusCode != pgbackrest.StatusNoBackup {
		err = fmt.Errorf("stanza %s in %s on %s: pgBackRest says %q (status %d); is repository_path the cluster's backup.repository_path?", cluster, repo, host, before.StatusMessage, before.StatusCode)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the stanza", err.Error()+"\n\nNo backup was taken.")
		return
	}
	cmd, err := pgbackrest.BackupCommand(cluster, m.Type.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("type"), "Unusable backup type", err.Error())
		return
	}
	start := time.Now()
	out, err := r.run(ctx, host, cmd)
	for err != nil && pgbackrest.LockBusy([]byte(err.Error())) && ctx.Err() == nil {
		// Another backup of the stanza (a scheduled one) holds its lock.
		tflog.Info(ctx, "stanza busy, waiting", map[string]any{"stanza": cluster})
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		out, err = r.run(ctx, host, cmd)
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("The %s backup of stanza %s failed", m.Type.ValueString(), cluster),
			fmt.Sprintf("pgbackrest backup on the repository host %s: %v", host, err))
		return
	}
	label := pgbackrest.NewLabel(out)
	after, err := r.stanza(ctx, host, cluster, repo)
	made, found := after.Backup(label)
	if err != nil || !found {
		resp.Diagnostics.AddError("The new backup is not listed",
			fmt.Sprintf("pgbackrest backup of stanza %s on %s reported label %q, but pgbackrest info of %s does not list it (%v). The backup may exist; import it by its label.", cluster, host, label, repo, err))
		return
	}
	if made.Type != m.Type.ValueString() {
		resp.Diagnostics.AddWarning("pgBackRest took another type of backup",
			fmt.Sprintf("A %s backup was asked of stanza %s, and pgBackRest took a %s one (%s): it does so when no backup for a %s to build on is usable.", m.Type.ValueString(), cluster, made.Type, made.Label, m.Type.ValueString()))
	}
	m.setBackup(made)
	tflog.Info(ctx, "backup taken", map[string]any{"stanza": cluster, "label": made.Label, "type": made.Type, "seconds": time.Since(start).Seconds()})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read keeps what pgBackRest reports of the backup; a backup the
// repository no longer holds stays in state with expired = true (and is
// not taken again). A repository host that does not answer is a warning.
func (r *patroniBackupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m patroniBackupModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	host, cluster, repo := m.target()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := r.stanza(rctx, host, cluster, repo)
	if err != nil {
		resp.Diagnostics.AddWarning("Backup not checked", fmt.Sprintf("Backup %s of stanza %s: %v\n\nThe state keeps what it had.", m.Label.ValueString(), cluster, err))
		return
	}
	b, ok := st.Backup(m.Label.ValueString())
	switch {
	case ok:
		m.setBackup(b)
	case st.StatusCode == pgbackrest.StatusOK || st.StatusCode == pgbackrest.StatusNoBackup:
		m.Expired = types.BoolValue(true)
	default:
		resp.Diagnostics.AddWarning("Backup not checked", fmt.Sprintf("Stanza %s in %s on %s: pgBackRest says %q (status %d). The state keeps what it had.",
			cluster, repo, host, st.StatusMessage, st.StatusCode))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update records expire_on_destroy, nodes and timeouts: nothing on any
// host.
func (r *patroniBackupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state patroniBackupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.ExpireOnDestroy, state.Nodes, state.Timeouts = plan.ExpireOnDestroy, plan.Nodes, plan.Timeouts
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete forgets the backup, or with expire_on_destroy expires it unless
// other backups build on it.
func (r *patroniBackupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m patroniBackupModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &m)...); resp.Diagnostics.HasError() || !m.ExpireOnDestroy.ValueBool() {
		return
	}
	timeout, d := m.Timeouts.Delete(ctx, 15*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, cluster, repo := m.target()
	label := m.Label.ValueString()
	unlock := lockStanza(host, cluster)
	defer unlock()
	// The stanza's marker on the repository host must hold this cluster's
	// id, or be gone with the cluster's backups configuration; a stanza of
	// another cluster of this name is left alone.
	if cmd, err := pgbackrest.MarkerCommand(cluster); err == nil {
		if out, err := r.run(ctx, host, cmd); err == nil {
			if got, err := pgbackrest.MarkerID(out); err != nil || got != m.ClusterID.ValueString() {
				resp.Diagnostics.AddWarning("Backup forgotten, not expired",
					fmt.Sprintf("The backups of stanza %s on %s now belong to cluster id %q, not %s, so backup %s was not expired.", cluster, host, got, m.ClusterID.ValueString(), label))
				return
			}
		}
	}
	st, err := r.stanza(ctx, host, cluster, repo)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the stanza", err.Error()+"\n\nThe backup was not expired; apply again once the repository host answers, or set expire_on_destroy = false to forget it.")
		return
	}
	if _, ok := st.Backup(label); !ok {
		return // expired already
	}
	if deps := st.Dependents(label); len(deps) > 0 {
		resp.Diagnostics.AddWarning("Backup kept",
			fmt.Sprintf("Backup %s of stanza %s is not expired: %s build on it, and pgBackRest would expire them with it. Retention expires it with them.", label, cluster, strings.Join(deps, ", ")))
		return
	}
	cmd, err := pgbackrest.ExpireCommand(repo, cluster, label)
	if err == nil {
		_, err = r.run(ctx, host, cmd)
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Expiring backup %s failed", label),
			fmt.Sprintf("pgbackrest expire --set=%s of stanza %s on %s: %v\n\nSet expire_on_destroy = false to forget the backup without expiring it.", label, cluster, host, err))
	}
}

// ImportState takes `<cluster_id>/<label>@<repository_host>`.
func (r *patroniBackupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	idLabel, host, ok := strings.Cut(req.ID, "@")
	id, label, ok2 := strings.Cut(idLabel, "/")
	if !ok || !ok2 || clusterOf(id) == "" || !pgbackrest.ValidLabel(label) || addressProblem(host, false, "") != "" {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%q: want <cluster_id>/<label>@<repository_host>, such as orders-0f6f3b9e1c2d/20261122-100000F@10.0.0.5.", req.ID))
		return
	}
	m := patroniBackupModel{ClusterID: types.StringValue(id), RepositoryHost: types.StringValue(host), RepositoryPath: types.StringValue(pgbackrest.DefaultRepositoryPath),
		Nodes: types.ListNull(types.ObjectType{AttrTypes: nodeAttrTypes}), Type: types.StringValue("full"),
		ExpireOnDestroy: types.BoolValue(false), Label: types.StringValue(label)}
	st, err := r.stanza(ctx, host, clusterOf(id), pgbackrest.DefaultRepositoryPath)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the stanza", err.Error())
		return
	}
	b, found := st.Backup(label)
	if !found {
		resp.Diagnostics.AddError("No such backup", fmt.Sprintf("Stanza %s on %s holds no backup %s.", clusterOf(id), host, label))
		return
	}
	m.setBackup(b)
	m.Type = types.StringValue(b.Type)
	m.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "delete": types.StringType})}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
