package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// restoreModel is the `restore` block of erawan_patroni_cluster.
type restoreModel struct {
	RepositoryHost types.String `tfsdk:"repository_host"`
	RepositoryPath types.String `tfsdk:"repository_path"`
	Stanza         types.String `tfsdk:"stanza"`
	TargetTime     types.String `tfsdk:"target_time"`
	BackupLabel    types.String `tfsdk:"backup_label"`
	ServerPort     types.Int64  `tfsdk:"server_port"`
}

var restoreAttrTypes = map[string]attr.Type{
	"repository_host": types.StringType, "repository_path": types.StringType, "stanza": types.StringType,
	"target_time": types.StringType, "backup_label": types.StringType, "server_port": types.Int64Type,
}

func restoreSchema() schema.Attribute {
	return schema.SingleNestedAttribute{Optional: true,
		MarkdownDescription: "Make the cluster from a backup instead of an empty database: at create, the first member is restored with pgBackRest from a stanza " +
			"(another cluster's backups, see `backup` and the `erawan_patroni_backups` data source), PostgreSQL recovers from that stanza's WAL archive up to `target_time` " +
			"(or to `backup_label`'s end, or to the newest archived WAL) and promotes to a new timeline, and the other members copy it as replicas. " +
			"Needs `tls` on: a pgBackRest TLS server on the repository host, of this cluster and for the create only, admits only this cluster's members' certificates, for that stanza alone, " +
			"and reads the repository as its owner; nothing in the repository is written, and the source cluster, if it still runs, is not touched. " +
			"Patroni then sets this cluster's own passwords for postgres, replicator and rewinder; other roles and the data are the source's as of the target. " +
			"The plan checks the target against the stanza's restorable window. It acts only at create: changing or removing it later is recorded and does nothing to the cluster.",
		Attributes: map[string]schema.Attribute{
			"repository_host": schema.StringAttribute{Required: true,
				Validators:          []validator.String{addressValidator{portAttr: "restore.server_port"}},
				MarkdownDescription: "IPv4 address of the host that holds the source repository, reached with the provider's SSH settings. It needs the Debian package `pgbackrest`."},
			"repository_path": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(pgbackrest.DefaultRepositoryPath),
				Validators:          []validator.String{repositoryPathValidator{}},
				MarkdownDescription: "The source repository's directory there (pgBackRest `repo1-path`). Default `" + pgbackrest.DefaultRepositoryPath + "`."},
			"stanza": schema.StringAttribute{Required: true,
				Validators:          []validator.String{stanzaValidator{}},
				MarkdownDescription: "The stanza to restore: the name of the cluster whose backups these are."},
			"target_time": schema.StringAttribute{Optional: true,
				Validators: []validator.String{rfc3339Validator{}},
				MarkdownDescription: "Point in time to recover to, RFC 3339 (`2026-11-22T10:00:00Z`); transactions committed after it are not in the restored cluster. " +
					"It must lie between the stop of the oldest backup and the newest archived WAL (`erawan_patroni_backups` gives the window). " +
					"Omitted: recover to `backup_label`'s end, or without it to the end of the archived WAL (the latest consistent point)."},
			"backup_label": schema.StringAttribute{Optional: true,
				Validators: []validator.String{backupLabelValidator{}},
				MarkdownDescription: "The backup to restore, by label (`20261122-100000F`, or a diff or incr's `20261122-100000F_20261123-010000D`). " +
					"Alone, recovery stops at the end of that backup; with `target_time`, it starts from this backup. Omitted: the newest backup that stopped before the target."},
			"server_port": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(pgbackrest.DefaultRestoreServerPort),
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
				MarkdownDescription: fmt.Sprintf("TCP port of the restore's pgBackRest TLS server on the repository host, for as long as the create runs. Default `%d`, "+
					"apart from the backups' default `%d`, which the source cluster's own repository server may hold there.", pgbackrest.DefaultRestoreServerPort, pgbackrest.DefaultServerPort)},
		}}
}

// stanzaValidator, rfc3339Validator and backupLabelValidator check the
// shape of a stanza name, a point in time and a backup label.
type (
	stanzaValidator      struct{}
	rfc3339Validator     struct{}
	backupLabelValidator struct{}
)

func (stanzaValidator) Description(context.Context) string {
	return "1-63 letters, digits, '_' or '-'"
}
func (v stanzaValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (stanzaValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := pgbackrest.InfoCommand(pgbackrest.DefaultRepositoryPath, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid stanza", fmt.Sprintf("%s: %v (a stanza is the name of the cluster backed up).", req.Path, err))
	}
}

func (rfc3339Validator) Description(context.Context) string {
	return "an RFC 3339 time, such as 2026-11-22T10:00:00Z"
}
func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time",
			fmt.Sprintf("%s %q: want an RFC 3339 time with its offset, such as 2026-11-22T10:00:00Z or 2026-11-22T17:00:00+07:00.", req.Path, req.ConfigValue.ValueString()))
	}
}

func (backupLabelValidator) Description(context.Context) string {
	return "a pgBackRest backup label, such as 20261122-100000F"
}
func (v backupLabelValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (backupLabelValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !pgbackrest.ValidLabel(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid backup label",
			fmt.Sprintf("%s %q: want a pgBackRest label such as 20261122-100000F (full) or 20261122-100000F_20261123-010000D (diff or incr), as erawan_patroni_backups lists them.", req.Path, req.ConfigValue.ValueString()))
	}
}

// readRestore is the `restore` block as the spec holds it; nil when it is
// null or not known yet.
func readRestore(ctx context.Context, o types.Object, diags *diag.Diagnostics) *pgcluster.Restore {
	r := knownObject[restoreModel](ctx, o, diags)
	if r == nil {
		return nil
	}
	out := &pgcluster.Restore{RepositoryHost: r.RepositoryHost.ValueString(), RepositoryPath: r.RepositoryPath.ValueString(), Stanza: r.Stanza.ValueString(),
		ServerPort: int(r.ServerPort.ValueInt64()), TargetTime: r.TargetTime.ValueString(), BackupLabel: r.BackupLabel.ValueString()}
	if out.RepositoryPath == "" {
		out.RepositoryPath = pgbackrest.DefaultRepositoryPath
	}
	if out.ServerPort == 0 {
		out.ServerPort = pgbackrest.DefaultRestoreServerPort
	}
	return out
}

// restoreValue is the `restore` block of a marker, for import.
func restoreValue(r *pgcluster.MarkerRestore) types.Object {
	if r == nil {
		return types.ObjectNull(restoreAttrTypes)
	}
	opt := func(s string) types.String {
		if s == "" {
			return types.StringNull()
		}
		return types.StringValue(s)
	}
	o, _ := types.ObjectValue(restoreAttrTypes, map[string]attr.Value{
		"repository_host": types.StringValue(r.RepositoryHost), "repository_path": types.StringValue(r.RepositoryPath), "stanza": types.StringValue(r.Stanza),
		"target_time": opt(r.TargetTime), "backup_label": opt(r.BackupLabel), "server_port": types.Int64Value(int64(r.ServerPort)),
	})
	return o
}

// restoreSources is the inventory host of the spec's restore source, in a
// run that restores (Restore.Run).
func restoreSources(s *pgcluster.Spec) []topology.Member {
	if s.Restore == nil || !s.Restore.Run {
		return nil
	}
	return []topology.Member{s.Restore.SourceMember()}
}

// restoreConfigValidator refuses, at plan time, a `restore` block that
// cannot work: without TLS (its transport), beside parameters that set
// recovery themselves, or with a member named like the restore server's
// certificate.
type restoreConfigValidator struct{}

func (restoreConfigValidator) Description(context.Context) string {
	return "restore needs TLS and the recovery parameters"
}
func (v restoreConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (restoreConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m patroniClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Restore.IsNull() || m.Restore.IsUnknown() {
		return
	}
	if t := knownObject[tlsModel](ctx, m.TLS, &resp.Diagnostics); t != nil && !t.Enabled.IsNull() && !t.Enabled.IsUnknown() && !t.Enabled.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("restore"), "A restore needs TLS",
			"restore reads the source repository through a pgBackRest TLS server that admits the members' certificates of the cluster CA, so it needs tls.enabled = true (the default).")
	}
	if !m.Parameters.IsNull() && !m.Parameters.IsUnknown() {
		for k := range m.Parameters.Elements() {
			if k == "restore_command" || strings.HasPrefix(k, "recovery_target") {
				resp.Diagnostics.AddAttributeError(path.Root("parameters").AtMapKey(k), "Parameter owned by restore",
					k+" is set by the restore block for the recovery at create; remove it from parameters.")
			}
		}
	}
	if r := knownObject[restoreModel](ctx, m.Restore, &resp.Diagnostics); r != nil && !r.Stanza.IsUnknown() && !m.Name.IsUnknown() && r.Stanza.ValueString() == m.Name.ValueString() {
		resp.Diagnostics.AddAttributeError(path.Root("restore").AtName("stanza"), "Restore under the source's name",
			fmt.Sprintf("restore.stanza %q is this cluster's own name. A cluster restored under its source's name would share its stanza (its backups would archive into the source's) "+
				"and its names on the hosts; give the restored cluster another name. The source's backups stay where they are.", r.Stanza.ValueString()))
	}
	if m.Nodes.IsUnknown() {
		return
	}
	nodes, d := membersOf(ctx, m.Nodes)
	if d.HasError() {
		return
	}
	for i, n := range nodes {
		if n.Name == pgbackrest.RestoreCommonName {
			resp.Diagnostics.AddAttributeError(path.Root("nodes").AtListIndex(i).AtName("name"), "Member name reserved with restore",
				fmt.Sprintf("nodes[%d].name %q is the common name of the restore server's certificate; name this member otherwise.", i, n.Name))
		}
	}
}

// checkRestorePlan warns that a restore changed after create does nothing.
func checkRestorePlan(plan, state *patroniClusterModel, diags *diag.Diagnostics) {
	if plan.Restore.IsUnknown() || plan.Restore.Equal(state.Restore) {
		return
	}
	diags.AddAttributeWarning(path.Root("restore"), "restore acts only at create",
		"This cluster exists, so the change of restore is only recorded in state: apply restores nothing and changes no node. "+
			"To make a cluster from a backup, create a new one (another name, or replace this one, which destroys its data).")
}

// restoreWindow is what a stanza can be restored to, read on its
// repository host: from Stanza.Earliest (just after its oldest valid
// backup stopped) to the time of its newest archived WAL (or of the newest
// backup's stop).
type restoreWindow struct {
	Stanza           pgbackrest.Stanza
	Earliest, Latest time.Time
}

// readRestoreWindow reads stanza in the repository at repo on host with
// pgBackRest's info (as the repository's owner, without any cluster's
// configuration). Errors: the host did not answer or the output is not
// pgBackRest's; a stanza missing or without a backup is in Stanza's status.
func readRestoreWindow(ctx context.Context, c *clients, host, repo, stanza string) (restoreWindow, error) {
	var w restoreWindow
	cmd, err := pgbackrest.InfoCommand(repo, stanza)
	if err != nil {
		return w, err
	}
	out, err := c.pool.Run(ctx, host, c.sudo()+"sh -s", []byte(cmd))
	if err != nil {
		return w, fmt.Errorf("pgbackrest info of stanza %s in %s on %s: %v\n%s", stanza, repo, host, err, lastChars(strings.TrimSpace(string(out)), 2000))
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		return w, fmt.Errorf("%s on %s: %v", repo, host, err)
	}
	st, ok := pgbackrest.Find(stanzas, stanza)
	if !ok {
		st = pgbackrest.Stanza{Name: stanza, StatusCode: pgbackrest.StatusMissingStanzaPath, StatusMessage: "not listed by pgbackrest info"}
	}
	w.Stanza = st
	w.Earliest, _ = st.Earliest()
	if newest, ok := st.Newest(); ok {
		w.Latest = newest.StoppedAt
		if cmd, err := pgbackrest.WALTimeCommand(repo, st); err == nil {
			out, err := c.pool.Run(ctx, host, c.sudo()+"sh -s", []byte(cmd))
			if at, perr := pgbackrest.ParseWALTime(out); err == nil && perr == nil && at.After(w.Latest) {
				w.Latest = at
			}
		}
	}
	return w, nil
}

// checkRestoreTarget checks a restore against its stanza's window: the
// stanza holds a valid backup, backup_label names one of them, and
// target_time lies between the oldest usable backup's stop and the newest
// archived WAL. Each problem is an error at its attribute.
func checkRestoreTarget(r *pgcluster.Restore, w restoreWindow, diags *diag.Diagnostics) {
	rp := path.Root("restore")
	where := fmt.Sprintf("stanza %s in %s on %s", r.Stanza, r.RepositoryPath, r.RepositoryHost)
	if w.Stanza.StatusCode != pgbackrest.StatusOK || w.Earliest.IsZero() {
		diags.AddAttributeError(rp.AtName("stanza"), "Nothing to restore",
			fmt.Sprintf("%s cannot be restored: pgBackRest says %q (status %d). Check restore.repository_host, restore.repository_path and restore.stanza (the source cluster's name).",
				where, w.Stanza.StatusMessage, w.Stanza.StatusCode))
		return
	}
	earliest := w.Earliest
	if r.BackupLabel != "" {
		var found *pgbackrest.Backup
		for i, b := range w.Stanza.Backups {
			if b.Label == r.BackupLabel && !b.Error {
				found = &w.Stanza.Backups[i]
			}
		}
		if found == nil {
			var labels []string
			for _, b := range w.Stanza.Backups {
				labels = append(labels, b.Label)
			}
			diags.AddAttributeError(rp.AtName("backup_label"), "No such backup",
				fmt.Sprintf("%s holds no valid backup %s; it holds %s.", where, r.BackupLabel, strings.Join(labels, ", ")))
			return
		}
		earliest = pgbackrest.EarliestAfter(*found)
	}
	if r.TargetTime == "" {
		return
	}
	t, err := time.Parse(time.RFC3339, r.TargetTime)
	if err != nil {
		return // the attribute's validator says so
	}
	switch {
	case t.Truncate(time.Second).Before(earliest):
		diags.AddAttributeError(rp.AtName("target_time"), "Target before the backups",
			fmt.Sprintf("restore.target_time %s is not after %s (the stop of %s), so no backup of %s can reach it. The earliest restorable time is %s.",
				r.TargetTime, earliest.Add(-time.Second).Format(time.RFC3339), map[bool]string{true: "backup " + r.BackupLabel, false: "the oldest backup"}[r.BackupLabel != ""], where, earliest.Format(time.RFC3339)))
	case t.After(w.Latest):
		diags.AddAttributeError(rp.AtName("target_time"), "Target after the archived WAL",
			fmt.Sprintf("restore.target_time %s is after the newest WAL archived in %s (%s), so recovery would end before it. The latest restorable time is %s for now; "+
				"omit target_time to recover to the end of the archive.", r.TargetTime, where, w.Latest.Format(time.RFC3339), w.Latest.Format(time.RFC3339)))
	}
}

// checkCreate checks a create's restore against its source: at plan time
// (apply false) a source host that does not answer is a warning; at apply,
// before any node is touched, an error.
func (patroniEngine) checkCreate(ctx context.Context, c *clients, plan *patroniClusterModel, apply bool, diags *diag.Diagnostics) {
	if c == nil || plan.Restore.IsNull() || plan.Restore.IsUnknown() {
		return
	}
	r := readRestore(ctx, plan.Restore, diags)
	if r == nil || diags.HasError() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	w, err := readRestoreWindow(rctx, c, r.RepositoryHost, r.RepositoryPath, r.Stanza)
	switch {
	case err != nil && apply:
		diags.AddAttributeError(path.Root("restore").AtName("repository_host"), "Cannot read the source repository", err.Error()+"\n\nNothing was changed on any node.")
		return
	case err != nil:
		diags.AddAttributeWarning(path.Root("restore").AtName("repository_host"), "Source repository not checked",
			err.Error()+"\n\nApply checks the restore target again before it touches any node.")
		return
	}
	checkRestoreTarget(r, w, diags)
}

// resumeCreate re-checks the restore of a resumed create that has not
// restored yet (its bootstrap step is still to come), and asks a
// certificate for the source host while the restore step is not done.
func (e patroniEngine) resumeCreate(ctx context.Context, c *clients, plan *patroniClusterModel, s *pgcluster.Spec, completed []string, diags *diag.Diagnostics) []topology.Member {
	if s.Restore == nil || slices.Contains(completed, pgcluster.StepBootstrap) {
		return nil
	}
	e.checkCreate(ctx, c, plan, true, diags)
	if slices.Contains(completed, pgcluster.StepRestore) {
		return nil
	}
	return restoreSources(s)
}

// prepareDelete adds the restore's source host to a destroy when it
// answers: the teardown removes a restore server a failed create left
// there (fenced by its marker); one that does not answer is a warning.
func (patroniEngine) prepareDelete(ctx context.Context, c *clients, s *pgcluster.Spec, diags *diag.Diagnostics) {
	if s.Restore == nil || c == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if out, err := c.pool.Run(rctx, s.Restore.RepositoryHost, "true", nil); err != nil {
		diags.AddWarning("Restore source not checked",
			fmt.Sprintf("The restore's source repository host %s did not answer (%v %s), so a restore server that a failed create of %s may have left there (%s.service) was not looked for. Nothing else of this cluster is on that host.",
				s.Restore.RepositoryHost, err, strings.TrimSpace(string(out)), s.Name, pgbackrest.RestoreUnit(s.Name)))
		return
	}
	s.Restore.Run = true
}

// fromScratch marks s as the spec of a run that builds the cluster from
// nothing (a create, a resumed create, the destroy of one that did not
// finish): its restore acts, and its source host joins the run.
func (patroniEngine) fromScratch(s *pgcluster.Spec) {
	if s.Restore != nil {
		s.Restore.Run = true
	}
}
