package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// Defaults of the `backup` block.
const defaultRetentionFull = 2

// backupModel is the `backup` block of erawan_patroni_cluster.
type backupModel struct {
	RepositoryHost types.String `tfsdk:"repository_host"`
	RepositoryPath types.String `tfsdk:"repository_path"`
	RetentionFull  types.Int64  `tfsdk:"retention_full"`
	ServerPort     types.Int64  `tfsdk:"server_port"`
	Schedule       types.Object `tfsdk:"schedule"`
}

// backupScheduleModel maps each backup type to an OnCalendar expression.
type backupScheduleModel struct {
	Full         types.String `tfsdk:"full"`
	Differential types.String `tfsdk:"differential"`
	Incremental  types.String `tfsdk:"incremental"`
}

var backupScheduleAttrTypes = map[string]attr.Type{"full": types.StringType, "differential": types.StringType, "incremental": types.StringType}

var backupAttrTypes = map[string]attr.Type{
	"repository_host": types.StringType, "repository_path": types.StringType, "retention_full": types.Int64Type,
	"server_port": types.Int64Type, "schedule": types.ObjectType{AttrTypes: backupScheduleAttrTypes},
}

// scheduleValidator checks the shape of an OnCalendar expression at plan
// time (systemd-analyze calendar on the repository host checks the rest).
type scheduleValidator struct{}

func (scheduleValidator) Description(context.Context) string {
	return "a systemd OnCalendar expression"
}
func (v scheduleValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (scheduleValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !pgbackrest.ValidSchedule(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Not a calendar expression",
			fmt.Sprintf("%s %q: want a systemd OnCalendar expression such as \"Sun *-*-* 01:00:00\" or \"daily\" (letters, digits, spaces and * : . , / ~ + - only).", req.Path, req.ConfigValue.ValueString()))
	}
}

func backupSchema() schema.Attribute {
	schedule := func(kind, pgType string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Validators: []validator.String{scheduleValidator{}},
			MarkdownDescription: "When to take a " + kind + " backup (pgBackRest `--type=" + pgType + "`): a systemd `OnCalendar` expression in the repository host's time zone, " +
				"such as `Sun *-*-* 01:00:00`. A systemd timer `erawan-pgbackrest-repository.<name>-" + pgType + ".timer` on the repository host runs it (`Persistent=true`: a run missed while the host was down happens when it is back). Omitted: no timer of this type."}
	}
	return schema.SingleNestedAttribute{Optional: true,
		MarkdownDescription: "Backups and WAL archiving with pgBackRest, into a repository on a host apart from the members. The stanza is the cluster's `name`. " +
			"Needs `tls` on: each member and the repository host run a pgBackRest TLS server of this cluster, and each side admits only the other's certificate from the cluster CA " +
			"(no password and no SSH key between hosts). Create configures it, turns on WAL archiving (`archive_mode`, `archive_command`) in Patroni's dynamic configuration, " +
			"creates the stanza, checks that WAL reaches the repository and takes the first full backup (from a replica when there is one). Adding it to an existing cluster does the same in place, " +
			"with one rolling restart for `archive_mode`. Removing it turns archiving off (again one rolling restart), stops and removes this cluster's pgBackRest servers and timers, and keeps the repository. " +
			"Changing `repository_host`, `repository_path` or `server_port` is refused at plan time for now. Destroying the cluster keeps the repository too: it is your data.",
		Attributes: map[string]schema.Attribute{
			"repository_host": schema.StringAttribute{Required: true,
				Validators: []validator.String{addressValidator{portAttr: "backup.server_port"}},
				MarkdownDescription: "IPv4 address of the repository host, reached with the provider's SSH settings. Not a member of this cluster (backups on a member's own host are lost with it). " +
					"It needs the Debian package `pgbackrest`; the provider makes the `pgbackrest` account that owns the repository."},
			"repository_path": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(pgbackrest.DefaultRepositoryPath),
				Validators: []validator.String{repositoryPathValidator{}},
				MarkdownDescription: "The repository's directory on the repository host (pgBackRest `repo1-path`). Default `" + pgbackrest.DefaultRepositoryPath + "`. " +
					"Owned by `pgbackrest`, mode 0750 (pgBackRest writes its files 0640). An empty directory is taken over; one that another account owns and that holds files is refused."},
			"retention_full": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultRetentionFull),
				Validators:          []validator.Int64{int64validator.Between(1, 9999)},
				MarkdownDescription: "How many full backups the repository keeps (pgBackRest `repo1-retention-full`); older ones expire, with their WAL, after each backup. Default `2`."},
			"server_port": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(pgbackrest.DefaultServerPort),
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
				MarkdownDescription: "TCP port of this cluster's pgBackRest TLS servers, on every member and on the repository host. Default `8432`. " +
					"Clusters that share a repository host (or members) need different ports; a port another service holds fails the apply with that service named."},
			"schedule": schema.SingleNestedAttribute{Optional: true,
				MarkdownDescription: "Scheduled backups, as systemd timers on the repository host. Omitted: only the first full backup and the ones you take.",
				Attributes: map[string]schema.Attribute{
					"full": schedule("full", "full"), "differential": schedule("differential", "diff"), "incremental": schedule("incremental", "incr"),
				}},
		}}
}

// repositoryPathValidator refuses a repository path pgBackRest's
// configuration and the playbooks cannot carry.
type repositoryPathValidator struct{}

func (repositoryPathValidator) Description(context.Context) string {
	return "a clean absolute path other than /, without spaces or quotes"
}
func (v repositoryPathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (repositoryPathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := pgbackrest.CheckRepositoryPath(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid repository path", err.Error())
	}
}

// readBackup is the `backup` block as the spec holds it; nil when it is
// null or not known yet.
func readBackup(ctx context.Context, o types.Object, diags *diag.Diagnostics) *pgcluster.Backup {
	b := knownObject[backupModel](ctx, o, diags)
	if b == nil {
		return nil
	}
	out := &pgcluster.Backup{RepositoryHost: b.RepositoryHost.ValueString(), RepositoryPath: b.RepositoryPath.ValueString(),
		RetentionFull: int(b.RetentionFull.ValueInt64()), ServerPort: int(b.ServerPort.ValueInt64()), Schedule: map[string]string{}}
	if out.RepositoryPath == "" {
		out.RepositoryPath = pgbackrest.DefaultRepositoryPath
	}
	if out.RetentionFull == 0 {
		out.RetentionFull = defaultRetentionFull
	}
	if out.ServerPort == 0 {
		out.ServerPort = pgbackrest.DefaultServerPort
	}
	if s := knownObject[backupScheduleModel](ctx, b.Schedule, diags); s != nil {
		for t, v := range map[string]types.String{"full": s.Full, "diff": s.Differential, "incr": s.Incremental} {
			if !v.IsNull() && !v.IsUnknown() {
				out.Schedule[t] = v.ValueString()
			}
		}
	}
	return out
}

// backupValue is the `backup` block of a marker's backups, for import.
func backupValue(b *pgcluster.MarkerBackup) types.Object {
	if b == nil {
		return types.ObjectNull(backupAttrTypes)
	}
	sched := map[string]attr.Value{"full": types.StringNull(), "differential": types.StringNull(), "incremental": types.StringNull()}
	for t, k := range map[string]string{"full": "full", "diff": "differential", "incr": "incremental"} {
		if v, ok := b.Schedule[t]; ok {
			sched[k] = types.StringValue(v)
		}
	}
	schedule := types.ObjectNull(backupScheduleAttrTypes)
	if len(b.Schedule) > 0 {
		schedule, _ = types.ObjectValue(backupScheduleAttrTypes, sched)
	}
	o, _ := types.ObjectValue(backupAttrTypes, map[string]attr.Value{
		"repository_host": types.StringValue(b.RepositoryHost), "repository_path": types.StringValue(b.RepositoryPath),
		"retention_full": types.Int64Value(int64(b.RetentionFull)), "server_port": types.Int64Value(int64(b.ServerPort)), "schedule": schedule,
	})
	return o
}

// backupConfigValidator refuses, at plan time, a `backup` block that cannot
// work: without TLS (its transport), on a member's own host, beside
// parameters that set archiving themselves, or with a member named like the
// repository host's certificate. Its port is checked with the cluster's
// (patroniPortsValidator).
type backupConfigValidator struct{}

func (backupConfigValidator) Description(context.Context) string {
	return "backup needs TLS, a repository host apart from the members and the archiving parameters"
}
func (v backupConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (backupConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m patroniClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Backup.IsNull() || m.Backup.IsUnknown() {
		return
	}
	bp := path.Root("backup")
	if t := knownObject[tlsModel](ctx, m.TLS, &resp.Diagnostics); t != nil && !t.Enabled.IsNull() && !t.Enabled.IsUnknown() && !t.Enabled.ValueBool() {
		resp.Diagnostics.AddAttributeError(bp, "Backups need TLS",
			"backup runs pgBackRest between the members and the repository host over TLS with certificates of the cluster CA, so it needs tls.enabled = true (the default).")
	}
	if !m.Parameters.IsNull() && !m.Parameters.IsUnknown() {
		for _, k := range []string{"archive_mode", "archive_command", "restore_command"} {
			if _, ok := m.Parameters.Elements()[k]; ok {
				resp.Diagnostics.AddAttributeError(path.Root("parameters").AtMapKey(k), "Parameter owned by backup",
					k+" is set by the backup block (WAL archiving to the pgBackRest repository); remove it from parameters.")
			}
		}
	}
	b := knownObject[backupModel](ctx, m.Backup, &resp.Diagnostics)
	if b == nil {
		return
	}
	if m.Nodes.IsUnknown() || b.RepositoryHost.IsUnknown() {
		return
	}
	nodes, d := membersOf(ctx, m.Nodes)
	if d.HasError() {
		return
	}
	for i, n := range nodes {
		if n.Address == b.RepositoryHost.ValueString() {
			resp.Diagnostics.AddAttributeError(bp.AtName("repository_host"), "The repository host is a member",
				fmt.Sprintf("backup.repository_host %s is member %s: backups on a member's own host are lost with it. Choose a host apart from the members.", n.Address, n.Name))
		}
		if n.Name == pgbackrest.RepositoryCommonName {
			resp.Diagnostics.AddAttributeError(path.Root("nodes").AtListIndex(i).AtName("name"), "Member name reserved with backups",
				fmt.Sprintf("nodes[%d].name %q is the common name of the repository host's certificate, which the members' pgBackRest servers admit; name this member otherwise.", i, n.Name))
		}
	}
}

// checkBackupPlan refuses the backup changes an update cannot make yet
// (moving the repository: host, path or port), and warns that removing
// backups stops archiving.
func checkBackupPlan(ctx context.Context, plan, state *patroniClusterModel, diags *diag.Diagnostics) {
	if state.CACertificate.IsNull() && !plan.Backup.IsNull() {
		diags.AddAttributeError(path.Root("backup"), "Move to TLS first, then add backups",
			"This cluster runs without TLS, and backups run over TLS with certificates of the cluster CA. Apply tls.enabled = true first, then add the backup block in the next apply.")
		return
	}
	if state.Backup.IsNull() || plan.Backup.IsUnknown() {
		return
	}
	old := readBackup(ctx, state.Backup, diags)
	if plan.Backup.IsNull() {
		diags.AddAttributeWarning(path.Root("backup"), "Backups will stop",
			fmt.Sprintf("Apply turns WAL archiving off (archive_mode needs a restart of every member, replicas first), stops this cluster's pgBackRest servers and timers, "+
				"and removes their configuration. The repository on %s:%s and its backups stay; the cluster cannot be restored past this point from it.", old.RepositoryHost, old.RepositoryPath))
		return
	}
	nw := readBackup(ctx, plan.Backup, diags)
	if nw == nil || old == nil {
		return
	}
	for _, c := range []struct {
		attr     string
		from, to any
	}{{"repository_host", old.RepositoryHost, nw.RepositoryHost}, {"repository_path", old.RepositoryPath, nw.RepositoryPath}, {"server_port", old.ServerPort, nw.ServerPort}} {
		if c.from != c.to {
			diags.AddAttributeError(path.Root("backup").AtName(c.attr), "Moving the repository is not built yet",
				fmt.Sprintf("backup.%s changes from %v to %v. Moving a cluster's backups to another repository in place is not built yet: the stanza's backups and WAL would stay behind.", c.attr, c.from, c.to))
		}
	}
}

// repositoryHosts is the inventory host of the spec's repository host, if
// it has backups.
func repositoryHosts(s *pgcluster.Spec) []topology.Member {
	if s.Backup == nil {
		return nil
	}
	return []topology.Member{s.Backup.RepositoryMember()}
}

// backupDrift probes the repository host of s's backups (its pgBackRest
// server and scheduled backups' timers active, the stanza ok with a valid
// backup; a failed last scheduled run is a warning) and each member that
// answered in obs (its pgBackRest server active, WAL archiving not
// failing). An unreachable repository host is a warning, not drift.
func backupDrift(ctx context.Context, c *clients, s *pgcluster.Spec, obs *pgcluster.Observation, diags *diag.Diagnostics) []string {
	members := memberBackupDrift(ctx, c, s, obs, diags)
	var scheduled []string
	for _, t := range []string{"full", "diff", "incr"} {
		if _, ok := s.Backup.Schedule[t]; ok {
			scheduled = append(scheduled, t)
		}
	}
	host := s.Backup.RepositoryHost
	cmd, err := pgbackrest.ProbeCommand(s.Name, s.Backup.RepositoryPath, scheduled)
	if err != nil {
		diags.AddWarning("Backups not checked", err.Error())
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.pool.Run(pctx, host, c.sudo()+"sh -s", []byte(cmd))
	if err != nil {
		diags.AddWarning(fmt.Sprintf("Repository host %s not checked", host),
			fmt.Sprintf("The backups of %s on %s could not be read: %v. The plan goes on; the repository host's pgBackRest server, timers and stanza were not checked.", s.Name, host, err))
		return nil
	}
	findings, failed, err := pgbackrest.ProbeFindings(out, s.Name, host, scheduled)
	if err != nil {
		diags.AddWarning(fmt.Sprintf("Repository host %s not checked", host), err.Error())
		return nil
	}
	if len(failed) > 0 {
		diags.AddWarning(fmt.Sprintf("Scheduled backups of %s failed", s.Name), strings.Join(failed, "\n")+
			"\n\nThe timers stay as they are and run again on schedule; a plan does not repair a failed run.")
	}
	return append(findings, members...)
}

// memberBackupDrift runs pgbackrest.MemberProbeCommand on each member of
// s that answered in obs, in parallel; a member whose probe fails is a
// warning.
func memberBackupDrift(ctx context.Context, c *clients, s *pgcluster.Spec, obs *pgcluster.Observation, diags *diag.Diagnostics) []string {
	cmd, err := pgbackrest.MemberProbeCommand(s.Name, fmt.Sprintf("/usr/lib/postgresql/%d/bin", s.PostgresVersion), s.PostgresPort)
	if err != nil {
		diags.AddWarning("Members' backups not checked", err.Error())
		return nil
	}
	reached := map[string]bool{}
	for _, st := range obs.Statuses() {
		reached[st.Name] = st.Reached()
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	findings := make([][]string, len(s.Nodes))
	problems := make([]string, len(s.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.Nodes {
		if !reached[n.Name] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.pool.Run(pctx, n.Address, c.sudo()+"sh -s", []byte(cmd))
			if err == nil {
				findings[i], err = pgbackrest.MemberFindings(out, s.Name, n.Name, n.Address)
			}
			if err != nil {
				problems[i] = fmt.Sprintf("%s (%s): %v", n.Name, n.Address, err)
			}
		}()
	}
	wg.Wait()
	var out []string
	for i := range s.Nodes {
		out = append(out, findings[i]...)
		if problems[i] != "" {
			diags.AddWarning(fmt.Sprintf("Backups of member %s not checked", s.Nodes[i].Name), problems[i])
		}
	}
	return out
}
