package provider

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
)

// NewPatroniClusterDataSource returns the erawan_patroni_cluster data source.
func NewPatroniClusterDataSource() datasource.DataSource { return &patroniClusterDataSource{} }

type patroniClusterDataSource struct{ c *clients }

var healthMemberTypes = map[string]attr.Type{
	"name": types.StringType, "host": types.StringType, "role": types.StringType, "state": types.StringType,
	"timeline": types.Int64Type, "lag_bytes": types.Int64Type,
}

func (d *patroniClusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_patroni_cluster"
}

func (d *patroniClusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = configuredClients(req.ProviderData, &resp.Diagnostics)
}

// ConfigValidators refuses ca_certificate_pem together with
// insecure_skip_verify.
func (d *patroniClusterDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.Conflicting(path.MatchRoot("ca_certificate_pem"), path.MatchRoot("insecure_skip_verify")),
	}
}

func (d *patroniClusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads the leader and replication health of any Patroni cluster (created by this provider or not) " +
			"from Patroni's `GET /cluster`, over the provider's SSH connections: the REST port is reached by port forwarding " +
			"through each node, so it need not be open to the Terraform host.",
		Attributes: map[string]schema.Attribute{
			"addresses": schema.ListAttribute{Required: true, ElementType: types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
				MarkdownDescription: "Node addresses. Each is reached over SSH and asked at `<address>:<patroni_port>`; the first that answers is used."},
			"patroni_port": schema.Int64Attribute{Optional: true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
				MarkdownDescription: "Patroni REST API port. Default `8008`."},
			"max_lag_bytes": schema.Int64Attribute{Optional: true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
				MarkdownDescription: "Largest replica lag, in bytes, that still counts as `healthy`. Default `1048576` (1 MiB)."},
			"ca_certificate_pem": schema.StringAttribute{Optional: true,
				MarkdownDescription: "CA certificate (PEM) that signed the REST API's certificate, for example `erawan_patroni_cluster.<name>.ca_certificate`. " +
					"Set, the API is read over HTTPS and its certificate must verify against this CA for the node's address. " +
					"Omitted, the API is read over plain HTTP unless `insecure_skip_verify` is set."},
			"insecure_skip_verify": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Default `false`. `true` reads the API over HTTPS without verifying its certificate, so anyone on the path could answer in the node's place; " +
					"the data source then warns. Prefer `ca_certificate_pem`. Conflicts with it."},
			"scope":    schema.StringAttribute{Computed: true, MarkdownDescription: "Patroni scope (cluster name)."},
			"leader":   schema.StringAttribute{Computed: true, MarkdownDescription: "Member name of the leader; null when there is none."},
			"timeline": schema.Int64Attribute{Computed: true, MarkdownDescription: "The leader's timeline."},
			"members": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "Members from `GET /cluster`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":      schema.StringAttribute{Computed: true, MarkdownDescription: "Member name."},
					"host":      schema.StringAttribute{Computed: true, MarkdownDescription: "Host Patroni advertises for PostgreSQL."},
					"role":      schema.StringAttribute{Computed: true, MarkdownDescription: "Normalised role: `leader` (also for Patroni's `master`/`primary`), `standby_leader`, `sync_standby` or `replica`."},
					"state":     schema.StringAttribute{Computed: true, MarkdownDescription: "Patroni state, for example `running` or `streaming`."},
					"timeline":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Timeline; null when unknown."},
					"lag_bytes": schema.Int64Attribute{Computed: true, MarkdownDescription: "Replication lag in bytes; null when Patroni says `unknown`."},
				}}},
			"streaming_replicas": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of non-leader members that are streaming (Patroni ≥ 3.0.4 reports `streaming`; 3.0.2 reports `running`)."},
			"healthy":            schema.BoolAttribute{Computed: true, MarkdownDescription: "True when there is exactly one leader and every other member streams with a known lag of at most `max_lag_bytes`."},
			"problems":           schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Why `healthy` is false, one sentence each; empty when healthy."},
		},
	}
}

func (d *patroniClusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m healthModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var addrs []string
	resp.Diagnostics.Append(m.Addresses.ElementsAs(ctx, &addrs, false)...)
	port := int64(8008)
	if !m.PatroniPort.IsNull() {
		port = m.PatroniPort.ValueInt64()
	}
	maxLag := int64(1 << 20)
	if !m.MaxLagBytes.IsNull() {
		maxLag = m.MaxLagBytes.ValueInt64()
	}
	scheme, tlsCfg := "http", (*tls.Config)(nil)
	switch {
	case m.CACertificatePEM.ValueString() != "":
		cfg, err := pki.ClientTLS(m.CACertificatePEM.ValueString(), "", "")
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ca_certificate_pem"), "Unusable CA certificate", err.Error())
			return
		}
		scheme, tlsCfg = "https", cfg
	case m.InsecureSkipVerify.ValueBool():
		scheme, tlsCfg = "https", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // the user asked for it, and is warned
		resp.Diagnostics.AddAttributeWarning(path.Root("insecure_skip_verify"), "REST API certificate not verified",
			"insecure_skip_verify = true: the Patroni REST API is read over HTTPS without checking its certificate, so whoever can intercept the connection could answer for the node. Set ca_certificate_pem instead.")
	}
	var view *patroni.Cluster
	var errs []string
	for _, a := range addrs {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c := &patroni.Client{HTTP: d.c.pool.HTTPSClient(a, 10*time.Second, tlsCfg), BaseURL: scheme + "://" + net.JoinHostPort(a, strconv.FormatInt(port, 10))}
		v, err := c.Cluster(hctx)
		cancel()
		if err == nil {
			view = v
			break
		}
		errs = append(errs, fmt.Sprintf("%s: %v", a, err))
	}
	if view == nil {
		hint := ""
		if scheme == "http" {
			hint = "\n\nIf the REST API serves HTTPS (erawan_patroni_cluster with TLS on, the default), set ca_certificate_pem to the cluster's ca_certificate."
		}
		resp.Diagnostics.AddError("No Patroni member answered", strings.Join(errs, "\n")+hint)
		return
	}
	h := view.Health(maxLag)
	m.Scope = types.StringValue(view.Scope)
	m.Leader, m.Timeline = types.StringNull(), types.Int64Null()
	if l := view.Leader(); l != nil {
		m.Leader = types.StringValue(l.Name)
		if l.Timeline > 0 {
			m.Timeline = types.Int64Value(l.Timeline)
		}
	}
	var members []attr.Value
	for _, pm := range view.Members {
		v := map[string]attr.Value{"name": types.StringValue(pm.Name), "host": types.StringValue(pm.Host),
			"role": types.StringValue(pm.Role), "state": types.StringValue(pm.State), "timeline": types.Int64Null(), "lag_bytes": types.Int64Null()}
		if pm.Timeline > 0 {
			v["timeline"] = types.Int64Value(pm.Timeline)
		}
		if pm.LagBytes != nil {
			v["lag_bytes"] = types.Int64Value(*pm.LagBytes)
		}
		obj, dd := types.ObjectValue(healthMemberTypes, v)
		resp.Diagnostics.Append(dd...)
		members = append(members, obj)
	}
	var dd diag.Diagnostics
	m.Members, dd = types.ListValue(types.ObjectType{AttrTypes: healthMemberTypes}, members)
	resp.Diagnostics.Append(dd...)
	m.StreamingReplicas = types.Int64Value(int64(h.Streaming))
	m.Healthy = types.BoolValue(len(h.Problems) == 0)
	m.Problems, _ = types.ListValueFrom(ctx, types.StringType, h.Problems)
	if m.PatroniPort.IsNull() {
		m.PatroniPort = types.Int64Null()
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
