package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
)

// NewPatroniBackupsDataSource returns the erawan_patroni_backups data source.
func NewPatroniBackupsDataSource() datasource.DataSource { return &patroniBackupsDataSource{} }

type patroniBackupsDataSource struct{ c *clients }

type backupsModel struct {
	RepositoryHost      types.String `tfsdk:"repository_host"`
	RepositoryPath      types.String `tfsdk:"repository_path"`
	Stanza              types.String `tfsdk:"stanza"`
	Status              types.String `tfsdk:"status"`
	Backups             types.List   `tfsdk:"backups"`
	EarliestRestoreTime types.String `tfsdk:"earliest_restore_time"`
	LatestRestoreTime   types.String `tfsdk:"latest_restore_time"`
}

var backupListAttrTypes = map[string]attr.Type{
	"label": types.StringType, "type": types.StringType, "started_at": types.StringType, "stopped_at": types.StringType,
	"size_bytes": types.Int64Type, "repository_size_bytes": types.Int64Type, "reference": types.ListType{ElemType: types.StringType},
}

func (d *patroniBackupsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_patroni_backups"
}

func (d *patroniBackupsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = configuredClients(req.ProviderData, &resp.Diagnostics)
}

func (d *patroniBackupsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the backups of a stanza in a pgBackRest repository, and the window a restore can reach: what `erawan_patroni_cluster`'s `backup` block keeps. " +
			"It runs `pgbackrest info --output=json` on the repository host over the provider's SSH connection, as the `pgbackrest` account and with the repository path alone " +
			"(no cluster's configuration), so it also reads the backups of a cluster that was destroyed.",
		Attributes: map[string]schema.Attribute{
			"repository_host": schema.StringAttribute{Required: true, Validators: []validator.String{addressValidator{}},
				MarkdownDescription: "IPv4 address of the repository host (the cluster's `backup.repository_host`), reached with the provider's SSH settings."},
			"repository_path": schema.StringAttribute{Optional: true, Validators: []validator.String{repositoryPathValidator{}},
				MarkdownDescription: "The repository's directory on that host (`backup.repository_path`). Default `" + pgbackrest.DefaultRepositoryPath + "`."},
			"stanza": schema.StringAttribute{Required: true,
				Validators:          []validator.String{stringvalidator.RegexMatches(clusterNameRE, "must be 1-63 characters of a-z, 0-9, _ and -")},
				MarkdownDescription: "The stanza: the `name` of the cluster whose backups these are. A stanza the repository does not hold is an error."},
			"status": schema.StringAttribute{Computed: true,
				MarkdownDescription: "pgBackRest's status of the stanza, such as `ok` or `no valid backups` (a warning then)."},
			"backups": schema.ListNestedAttribute{Computed: true,
				MarkdownDescription: "The backups, oldest first, as `pgbackrest info` lists them (backups with checksum errors left out).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"label":      schema.StringAttribute{Computed: true, MarkdownDescription: "The backup's label, such as `20261122-010000F`; a restore's `backup_label`."},
					"type":       schema.StringAttribute{Computed: true, MarkdownDescription: "`full`, `diff` or `incr`."},
					"started_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When the backup started (RFC 3339, UTC, seconds)."},
					"stopped_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When the backup stopped (RFC 3339, UTC, seconds); a restore of it alone reaches this point."},
					"size_bytes": schema.Int64Attribute{Computed: true, MarkdownDescription: "Size of the database the backup holds, in bytes."},
					"repository_size_bytes": schema.Int64Attribute{Computed: true,
						MarkdownDescription: "What a restore of it reads from the repository, compressed, with the backups it builds on, in bytes."},
					"reference": schema.ListAttribute{Computed: true, ElementType: types.StringType,
						MarkdownDescription: "Labels of the backups a `diff` or `incr` builds on; empty for a `full` one."},
				}}},
			"earliest_restore_time": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The earliest point in time a restore can reach (RFC 3339): the whole second after the oldest valid backup stopped (a backup is consistent only from its stop, and pgBackRest restores for a time target only a backup that stopped before it); null without a backup."},
			"latest_restore_time": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The latest point in time a restore can reach: when the newest archived WAL segment reached the repository (its file's modification time on the repository host, RFC 3339); " +
					"null without a backup. Commits after it are in WAL not archived yet."},
		},
	}
}

func (d *patroniBackupsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m backupsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	host, stanza, repo := m.RepositoryHost.ValueString(), m.Stanza.ValueString(), pgbackrest.DefaultRepositoryPath
	if !m.RepositoryPath.IsNull() {
		repo = m.RepositoryPath.ValueString()
	}
	cmd, err := pgbackrest.InfoCommand(repo, stanza)
	if err != nil {
		resp.Diagnostics.AddError("Unusable repository or stanza", err.Error())
		return
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := d.c.pool.Run(rctx, host, d.c.sudo()+"sh -s", []byte(cmd))
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("repository_host"), "Cannot read the repository",
			fmt.Sprintf("pgbackrest info of stanza %s in %s on %s: %v\n%s", stanza, repo, host, err, lastChars(strings.TrimSpace(string(out)), 2000)))
		return
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		resp.Diagnostics.AddError("Unreadable pgbackrest info", fmt.Sprintf("%s on %s: %v", repo, host, err))
		return
	}
	st, ok := pgbackrest.Find(stanzas, stanza)
	if !ok {
		st = pgbackrest.Stanza{StatusCode: pgbackrest.StatusMissingStanzaPath, StatusMessage: "not listed by pgbackrest info"}
	}
	switch st.StatusCode {
	case pgbackrest.StatusOK:
	case pgbackrest.StatusNoBackup:
		resp.Diagnostics.AddWarning("No backups yet", fmt.Sprintf("Stanza %s in %s on %s has no valid backup: nothing can be restored from it yet.", stanza, repo, host))
	default:
		resp.Diagnostics.AddAttributeError(path.Root("stanza"), "No such stanza",
			fmt.Sprintf("The repository %s on %s holds no usable stanza %s: pgBackRest says %q (status %d).", repo, host, stanza, st.StatusMessage, st.StatusCode))
		return
	}
	var list []attr.Value
	for _, b := range st.Backups {
		if b.Error {
			continue
		}
		refs := make([]attr.Value, 0, len(b.Reference))
		for _, r := range b.Reference {
			refs = append(refs, types.StringValue(r))
		}
		list = append(list, types.ObjectValueMust(backupListAttrTypes, map[string]attr.Value{
			"label": types.StringValue(b.Label), "type": types.StringValue(b.Type),
			"started_at": types.StringValue(b.StartedAt.Format(time.RFC3339)), "stopped_at": types.StringValue(b.StoppedAt.Format(time.RFC3339)),
			"size_bytes": types.Int64Value(b.SizeBytes), "repository_size_bytes": types.Int64Value(b.RepositorySizeBytes),
			"reference": types.ListValueMust(types.StringType, refs),
		}))
	}
	m.Status = types.StringValue(st.StatusMessage)
	m.Backups = types.ListValueMust(types.ObjectType{AttrTypes: backupListAttrTypes}, list)
	m.EarliestRestoreTime, m.LatestRestoreTime = types.StringNull(), types.StringNull()
	if first, ok := st.Earliest(); ok {
		m.EarliestRestoreTime = types.StringValue(first.Format(time.RFC3339))
		newest, _ := st.Newest()
		latest := newest.StoppedAt
		if cmd, err := pgbackrest.WALTimeCommand(repo, st); err == nil {
			out, err := d.c.pool.Run(rctx, host, d.c.sudo()+"sh -s", []byte(cmd))
			if at, perr := pgbackrest.ParseWALTime(out); err == nil && perr == nil && at.After(latest) {
				latest = at
			} else if err != nil || perr != nil {
				resp.Diagnostics.AddWarning("Newest archived WAL not found",
					fmt.Sprintf("The time of WAL segment %s of stanza %s on %s could not be read (%v %v); latest_restore_time is the newest backup's stop instead.", st.WALMax, stanza, host, err, perr))
			}
		}
		m.LatestRestoreTime = types.StringValue(latest.Format(time.RFC3339))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// lastChars is the end of s, at most n bytes of it.
func lastChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
