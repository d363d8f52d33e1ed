package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/haproxy"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/secrets"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

var (
	_ resource.ResourceWithConfigure   = &haproxyTenantResource{}
	_ resource.ResourceWithModifyPlan  = &haproxyTenantResource{}
	_ resource.ResourceWithImportState = &haproxyTenantResource{}
)

// NewHAProxyTenantResource returns the erawan_haproxy_tenant resource.
func NewHAProxyTenantResource() resource.Resource { return &haproxyTenantResource{} }

type haproxyTenantResource struct{ c *clients }

func (r *haproxyTenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_haproxy_tenant"
}

func (r *haproxyTenantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredClients(req.ProviderData, &resp.Diagnostics)
}

func (r *haproxyTenantResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	port := []validator.Int64{int64validator.Between(1, 65535)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One tenant's HAProxy listeners in front of a database cluster: a read-write listener that reaches only the primary, " +
			"and an optional read-only listener for healthy replicas. Many tenants share a proxy host; each is its own file " +
			"`/etc/haproxy/conf.d/50-erawan-<name>.cfg`, and a change to one tenant reloads HAProxy (never restarts it) and touches no other file.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "`<name>@<host>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{Required: true,
				Validators:          []validator.String{stringvalidator.RegexMatches(clusterNameRE, "must be 1-63 characters of a-z, 0-9, _ and -")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "Tenant name, unique per proxy host, `[a-z0-9_-]{1,63}`. Names the file and the `listen` sections. Changing it replaces the tenant."},
			"host": schema.StringAttribute{Required: true, Validators: []validator.String{addressValidator{names: true, portAttr: "the provider's ssh.port"}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "The HAProxy host, reached with the provider's SSH settings. HAProxy must be installed there."},
			"engine": schema.StringAttribute{Required: true,
				Validators: []validator.String{stringvalidator.OneOf(haproxy.EnginePostgreSQL, haproxy.EngineMySQL)},
				MarkdownDescription: "`postgresql`: health checks `OPTIONS /primary` and `OPTIONS /replica?lag=<max_replica_lag_bytes>` against Patroni's REST API. " +
					"`mysql`: `GET /primary` and `GET /replica` against the primary-check service of `erawan_mysql_cluster` (never `option mysql-check`)."},
			"read_write_port": schema.Int64Attribute{Required: true, Validators: port,
				MarkdownDescription: "Port of the read-write listener (the primary only)."},
			"read_only_port": schema.Int64Attribute{Optional: true, Validators: port,
				MarkdownDescription: "Port of the read-only listener (replicas within `max_replica_lag_bytes`, or ONLINE secondaries). Omit for none."},
			"bind_address": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("0.0.0.0"),
				MarkdownDescription: "Address the listeners bind to. Default `0.0.0.0`."},
			"backends": schema.ListAttribute{Required: true, ElementType: types.StringType,
				Validators: []validator.List{listvalidator.SizeAtLeast(1), uniqueHostsValidator{},
					listvalidator.ValueStringsAre(addressValidator{names: true, portAttr: "backend_port"})},
				MarkdownDescription: "Database node addresses (IPv4, IPv6 or DNS names, each host once), for example `[for n in erawan_patroni_cluster.main.nodes : n.address]`."},
			"backend_port": schema.Int64Attribute{Optional: true, Computed: true, Validators: port,
				MarkdownDescription: "Database port on the backends. Default by engine: `5432` (postgresql) or `3306` (mysql)."},
			"health_check_port": schema.Int64Attribute{Optional: true, Computed: true, Validators: port,
				MarkdownDescription: "Port of the health check on the backends. Default by engine: `8008` (Patroni REST API) or `9200` (MySQL primary check)."},
			"health_check_tls": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Check over TLS (`check-ssl`) without verifying the certificate (`verify none`). Default `false`. Prefer `health_check_ca_pem`, which verifies."},
			"health_check_ca_pem": schema.StringAttribute{Optional: true,
				Validators: []validator.String{caCertificateValidator{}},
				MarkdownDescription: "CA certificate (PEM) of the backends' health-check endpoint, for example `erawan_patroni_cluster.<name>.ca_certificate` (a Patroni REST API with TLS, the default). " +
					"Set, the checks run over TLS and verify the certificate against it (`check-ssl verify required ca-file ...`), so no one else can answer a check and steer traffic; " +
					"the certificate is written to `/etc/haproxy/conf.d/.erawan/<name>.ca.pem` (0644), and the rendered text records its SHA-256. Overrides `health_check_tls`."},
			"max_replica_lag_bytes": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1048576),
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
				MarkdownDescription: "The read-only listener leaves out replicas lagging more than this many bytes. Default `1048576` (1 MiB). PostgreSQL only."},
			"allowed_cidrs": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Validators:          []validator.List{listvalidator.ValueStringsAre(cidrValidator{})},
				MarkdownDescription: "Client allowlist (`tcp-request connection reject if !{ src ... }`). Default: every client."},
			"maxconn": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1000),
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
				MarkdownDescription: "Per-listener connection limit. Default `1000`."},
			"rendered_config": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The exact HAProxy text of this tenant, rendered by the provider, so the plan shows the config diff. After a hand edit on the host it holds the file as found."},
			"config_sha256": schema.StringAttribute{Computed: true,
				MarkdownDescription: "SHA-256 of `rendered_config` as found in the tenant's file on the host, without its owner line (empty when the file is missing). A difference from the planned text is drift."},
			"owner_id": schema.StringAttribute{Computed: true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "A random UUID made when this resource creates the tenant, written as the file's first line (`# erawan-owner: <id>`, not part of `rendered_config`). " +
					"A create, update or delete changes the file only while it holds this id, so a second Terraform state that declares a tenant of the same name on the same host " +
					"fails naming the owner id instead of overwriting it, and a destroy whose file another resource took over leaves it alone. `terraform import` reads it from the file. " +
					"A tenant written by an earlier release has none: the next apply writes one (an update in the plan)."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
				CreateDescription: "Default `10m`, counted from when this tenant's change starts on its proxy host (changes on one host run one at a time).", UpdateDescription: "Default `10m`, counted the same way.", DeleteDescription: "Default `10m`, counted the same way."}),
		},
	}
}

func engineDefaults(engine string) (backendPort, checkPort int64) {
	if engine == haproxy.EngineMySQL {
		return 3306, 9200
	}
	return 5432, 8008
}

// tenant converts a known model; ok is false while something is unknown.
func (m *tenantModel) tenant(ctx context.Context) (haproxy.Tenant, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m.Backends.IsUnknown() || m.AllowedCIDRs.IsUnknown() || m.Name.IsUnknown() || m.Engine.IsUnknown() ||
		m.ReadWritePort.IsUnknown() || m.ReadOnlyPort.IsUnknown() || m.BackendPort.IsUnknown() || m.HealthCheckPort.IsUnknown() || m.BindAddress.IsUnknown() || m.HealthCheckCAPEM.IsUnknown() {
		return haproxy.Tenant{}, false, nil
	}
	t := haproxy.Tenant{
		Name: m.Name.ValueString(), Engine: m.Engine.ValueString(), BindAddress: m.BindAddress.ValueString(),
		ReadWritePort: int(m.ReadWritePort.ValueInt64()), ReadOnlyPort: int(m.ReadOnlyPort.ValueInt64()),
		BackendPort: int(m.BackendPort.ValueInt64()), HealthCheckPort: int(m.HealthCheckPort.ValueInt64()),
		HealthCheckTLS: m.HealthCheckTLS.ValueBool(), HealthCheckCAPEM: m.HealthCheckCAPEM.ValueString(),
		MaxReplicaLagBytes: m.MaxReplicaLagBytes.ValueInt64(), MaxConn: int(m.MaxConn.ValueInt64()),
	}
	if t.Engine == haproxy.EngineMySQL {
		t.MaxReplicaLagBytes = 0
	}
	diags.Append(m.Backends.ElementsAs(ctx, &t.Backends, false)...)
	if !m.AllowedCIDRs.IsNull() {
		diags.Append(m.AllowedCIDRs.ElementsAs(ctx, &t.AllowedCIDRs, false)...)
	}
	return t, true, diags
}

func (r *haproxyTenantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Engine.IsUnknown() {
		bp, cp := engineDefaults(plan.Engine.ValueString())
		if plan.BackendPort.IsUnknown() {
			plan.BackendPort = types.Int64Value(bp)
		}
		if plan.HealthCheckPort.IsUnknown() {
			plan.HealthCheckPort = types.Int64Value(cp)
		}
	}
	if !plan.Name.IsUnknown() && !plan.Host.IsUnknown() {
		plan.ID = types.StringValue(plan.Name.ValueString() + "@" + plan.Host.ValueString())
	}
	if !req.State.Raw.IsNull() {
		var state tenantModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if state.OwnerID.IsNull() {
			plan.OwnerID = types.StringUnknown() // written by an earlier release: the update stamps the file
		}
	}
	if !plan.ReadOnlyPort.IsNull() && !plan.ReadOnlyPort.IsUnknown() && plan.ReadOnlyPort.Equal(plan.ReadWritePort) {
		resp.Diagnostics.AddAttributeError(path.Root("read_only_port"), "Ports clash",
			fmt.Sprintf("read_only_port and read_write_port are both %d; each listener needs its own port.", plan.ReadWritePort.ValueInt64()))
		return
	}
	t, known, d := plan.tenant(ctx)
	resp.Diagnostics.Append(d...)
	if known {
		text, err := haproxy.Render(t)
		if err != nil {
			resp.Diagnostics.AddError("Invalid HAProxy tenant", err.Error())
			return
		}
		plan.RenderedConfig = types.StringValue(text)
		plan.ConfigSHA256 = types.StringValue(haproxy.SHA256(text))
	} else {
		plan.RenderedConfig, plan.ConfigSHA256 = types.StringUnknown(), types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// run writes the file content (StatePresent) or removes the file
// (StateAbsent) of tenant m, acting only on a file that holds owner. Changes
// on one proxy host run one at a time: within this provider by a mutex, and
// across Terraform runs by the host's "haproxy" lock (lock_timeout), held for
// the whole change. The operation's timeout starts once both are held.
func (r *haproxyTenantResource) run(ctx context.Context, m *tenantModel, op, state, content, owner string, timeout time.Duration, diags *diag.Diagnostics) {
	if err := r.c.ansiblePreflight(ctx); err != nil {
		runFailure(diags, op, tenantObject(m), err)
		return
	}
	host := m.Host.ValueString()
	defer r.c.lockHost(host)()
	lk := r.c.lockNodes(ctx, haproxyLockKey, []string{host}, strings.ToLower(op), tenantHolderID(m, owner), tenantObject(m), false, diags)
	if lk == nil {
		return
	}
	defer unlock(ctx, lk, tenantObject(m), diags)
	if state == haproxy.StateAbsent && !r.ownsFile(ctx, m, owner, diags) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := m.Name.ValueString()
	rn := r.c.runner
	rn.OnEvent = ansibleLogger(ctx, "tenant", name)
	_, err := rn.Run(ctx, runner.Job{
		Playbook: haproxy.Playbook,
		Hosts:    []runner.Host{{Name: host, Address: host, Groups: []string{haproxy.Group}}},
		Vars: haproxy.PlaybookVars(haproxy.Tenant{Name: name, BindAddress: m.BindAddress.ValueString(),
			ReadWritePort: int(m.ReadWritePort.ValueInt64()), ReadOnlyPort: int(m.ReadOnlyPort.ValueInt64()),
			HealthCheckCAPEM: m.HealthCheckCAPEM.ValueString()}, state, content, owner),
	})
	if err != nil {
		runFailure(diags, op, tenantObject(m), err)
	}
}

// haproxyLockKey names the one lock of a proxy host that every tenant change takes.
const haproxyLockKey = "haproxy"

// tenantHolderID is how a tenant names itself in a lock's holder record.
func tenantHolderID(m *tenantModel, owner string) string {
	if owner == "" {
		return m.ID.ValueString()
	}
	return m.ID.ValueString() + " (owner_id " + owner + ")"
}

// ownsFile reports whether the tenant's file may be removed by the resource
// holding owner: the file holds that id (or, for owner "", has no owner
// line). A file of another owner is left alone with a warning. A missing or
// unreadable file counts as owned: the playbook then only checks that the
// ports are closed, and its own fence decides.
func (r *haproxyTenantResource) ownsFile(ctx context.Context, m *tenantModel, owner string, diags *diag.Diagnostics) bool {
	file, err := r.readFile(ctx, m.Host.ValueString(), m.Name.ValueString())
	if err != nil || file == "" {
		return true
	}
	if found, _ := haproxy.SplitOwner(file); found != owner {
		diags.AddWarning(fmt.Sprintf("%s is not this resource's", tenantObject(m)),
			fmt.Sprintf("%s holds owner_id %s, not %s, so destroy left it alone and only forgot this resource.",
				haproxy.File(haproxy.ConfDir, m.Name.ValueString()), orNone(found), orNone(owner)))
		return false
	}
	return true
}

// orNone shows an empty owner id as "none".
func orNone(id string) string {
	if id == "" {
		return "none"
	}
	return id
}

// tenantObject names a tenant in diagnostics: HAProxy tenant "orders" on 10.0.0.5.
func tenantObject(m *tenantModel) string {
	return fmt.Sprintf("HAProxy tenant %q on %s", m.Name.ValueString(), m.Host.ValueString())
}

func (r *haproxyTenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	timeout, d := plan.Timeouts.Create(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	// A new owner id, which no file holds yet: a file already there is
	// another resource's (or hand-written), and the run refuses it.
	plan.OwnerID = types.StringValue(secrets.UUID())
	r.write(ctx, &plan, plan.OwnerID.ValueString(), timeout, "Create", &resp.Diagnostics, &resp.State)
}

func (r *haproxyTenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, d := plan.Timeouts.Update(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	if plan.OwnerID.IsUnknown() || plan.OwnerID.IsNull() {
		// A tenant from a release before owner ids: its file gets one now.
		plan.OwnerID = types.StringValue(secrets.UUID())
	}
	r.write(ctx, &plan, state.OwnerID.ValueString(), timeout, "Update", &resp.Diagnostics, &resp.State)
}

// write puts the planned tenant file in place, stamped with plan's owner id,
// over a file that holds owner (see haproxy.Vars.TenantOwner), and on
// success records the plan as state.
func (r *haproxyTenantResource) write(ctx context.Context, plan *tenantModel, owner string, timeout time.Duration, op string, diags *diag.Diagnostics, state *tfsdk.State) {
	if diags.HasError() {
		return
	}
	content := haproxy.WithOwner(plan.OwnerID.ValueString(), plan.RenderedConfig.ValueString())
	if r.run(ctx, plan, op, haproxy.StatePresent, content, owner, timeout, diags); diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, plan)...)
}

// readFile fetches a tenant's file over SFTP; a missing file gives "", nil.
func (r *haproxyTenantResource) readFile(ctx context.Context, host, name string) (string, error) {
	return r.readPath(ctx, host, haproxy.File(haproxy.ConfDir, name))
}

// readPath reads a file of the proxy host over SFTP ("" when it is missing).
func (r *haproxyTenantResource) readPath(ctx context.Context, host, p string) (string, error) {
	sc, err := r.c.pool.SFTP(ctx, host)
	if err != nil {
		return "", err
	}
	defer sc.Close()
	f, err := sc.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b), err
}

func (r *haproxyTenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	file, err := r.readFile(rctx, state.Host.ValueString(), state.Name.ValueString())
	if err != nil && sshclient.IsHostKeyError(err) {
		resp.Diagnostics.AddError(fmt.Sprintf("%s: the host key could not be verified", tenantObject(&state)), err.Error())
		return
	}
	if err != nil {
		resp.Diagnostics.AddWarning(fmt.Sprintf("HAProxy host %s is unreachable", state.Host.ValueString()),
			fmt.Sprintf("Reading tenant %q: %v. The last known state is kept.", state.Name.ValueString(), err))
		return
	}
	owner, text := haproxy.SplitOwner(file)
	if file != "" && owner != state.OwnerID.ValueString() { // a null owner_id (earlier release) matches a file without one
		resp.Diagnostics.AddWarning(fmt.Sprintf("%s is not this resource's", tenantObject(&state)),
			fmt.Sprintf("%s holds owner_id %s, not this resource's %s: another Terraform state (or a hand edit) replaced it. Apply will refuse to change it; remove one of the two resources.",
				haproxy.File(haproxy.ConfDir, state.Name.ValueString()), orNone(owner), orNone(state.OwnerID.ValueString())))
	}
	if text == "" {
		state.RenderedConfig, state.ConfigSHA256 = types.StringValue(""), types.StringValue("")
	} else {
		state.RenderedConfig, state.ConfigSHA256 = types.StringValue(text), types.StringValue(haproxy.SHA256(text))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *haproxyTenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	r.run(ctx, &state, "Delete", haproxy.StateAbsent, "", state.OwnerID.ValueString(), timeout, &resp.Diagnostics)
}

// ImportState takes "<name>@<host>" and rebuilds the tenant from its file.
func (r *haproxyTenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, host, ok := strings.Cut(req.ID, "@")
	if !ok || !clusterNameRE.MatchString(name) || host == "" {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("Want <name>@<host>, for example orders@10.0.0.5; got %q.", req.ID))
		return
	}
	file, err := r.readFile(ctx, host, name)
	owner, text := haproxy.SplitOwner(file)
	if err != nil || file == "" {
		resp.Diagnostics.AddError(fmt.Sprintf("Reading tenant %q on %s failed", name, host), fmt.Sprintf("%s: %v", haproxy.File(haproxy.ConfDir, name), err))
		return
	}
	t, err := haproxy.Parse(text)
	if err != nil {
		resp.Diagnostics.AddError("Not an erawan tenant file", err.Error())
		return
	}
	m := tenantModel{
		ID: types.StringValue(name + "@" + host), Name: types.StringValue(t.Name), Host: types.StringValue(host), Engine: types.StringValue(t.Engine),
		ReadWritePort: types.Int64Value(int64(t.ReadWritePort)), ReadOnlyPort: types.Int64Null(), BindAddress: types.StringValue(t.BindAddress),
		BackendPort: types.Int64Value(int64(t.BackendPort)), HealthCheckPort: types.Int64Value(int64(t.HealthCheckPort)),
		HealthCheckTLS: types.BoolValue(t.HealthCheckTLS), MaxReplicaLagBytes: types.Int64Value(t.MaxReplicaLagBytes), MaxConn: types.Int64Value(int64(t.MaxConn)),
		RenderedConfig: types.StringValue(text), ConfigSHA256: types.StringValue(haproxy.SHA256(text)), AllowedCIDRs: types.ListNull(types.StringType),
		OwnerID: types.StringNull(), HealthCheckCAPEM: types.StringNull(),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})},
	}
	if t.Engine == haproxy.EngineMySQL {
		m.MaxReplicaLagBytes = types.Int64Value(1048576)
	}
	if t.ReadOnlyPort != 0 {
		m.ReadOnlyPort = types.Int64Value(int64(t.ReadOnlyPort))
	}
	if owner != "" {
		m.OwnerID = types.StringValue(owner)
	}
	if t.HealthCheckCASHA256 != "" {
		ca, err := r.readPath(ctx, host, haproxy.CAFile(haproxy.ConfDir, name))
		if err != nil || haproxy.SHA256(ca) != t.HealthCheckCASHA256 {
			resp.Diagnostics.AddError("Reading the health checks' CA failed",
				fmt.Sprintf("%s on %s is missing or does not match the SHA-256 the tenant file records (%v). Set health_check_ca_pem and apply.", haproxy.CAFile(haproxy.ConfDir, name), host, err))
			return
		}
		m.HealthCheckCAPEM = types.StringValue(ca)
	}
	m.Backends, _ = types.ListValueFrom(ctx, types.StringType, t.Backends)
	if len(t.AllowedCIDRs) > 0 {
		m.AllowedCIDRs, _ = types.ListValueFrom(ctx, types.StringType, t.AllowedCIDRs)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
