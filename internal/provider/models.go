package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

var objectAsOptions = basetypes.ObjectAsOptions{UnhandledNullAsEmpty: true, UnhandledUnknownAsEmpty: true}

var timeoutsNull = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{
	"create": types.StringType, "update": types.StringType, "delete": types.StringType})}

// knownObject decodes a known object attribute into a T; nil when it is
// null or unknown.
func knownObject[T any](ctx context.Context, o types.Object, diags *diag.Diagnostics) *T {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	var v T
	diags.Append(o.As(ctx, &v, objectAsOptions)...)
	return &v
}

// clusterBase holds the attributes every cluster resource has; each
// engine's model embeds it.
type clusterBase struct {
	ID                 types.String   `tfsdk:"id"`
	Name               types.String   `tfsdk:"name"`
	Nodes              types.List     `tfsdk:"nodes"`
	DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
	Members            types.List     `tfsdk:"members"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// nodeModel is one element of `nodes`.
type nodeModel struct {
	Name    types.String `tfsdk:"name"`
	Address types.String `tfsdk:"address"`
}

// members converts `nodes`.
func (b *clusterBase) members(ctx context.Context) ([]topology.Member, diag.Diagnostics) {
	return membersOf(ctx, b.Nodes)
}

func membersOf(ctx context.Context, l types.List) ([]topology.Member, diag.Diagnostics) {
	var ns []nodeModel
	diags := l.ElementsAs(ctx, &ns, false)
	out := make([]topology.Member, 0, len(ns))
	for _, n := range ns {
		out = append(out, topology.Member{Name: n.Name.ValueString(), Address: n.Address.ValueString()})
	}
	return out, diags
}

// nodesValue renders members as a `nodes` list.
func nodesValue(members []topology.Member) types.List {
	vs := make([]attr.Value, 0, len(members))
	for _, m := range members {
		vs = append(vs, types.ObjectValueMust(nodeAttrTypes, map[string]attr.Value{
			"name": types.StringValue(m.Name), "address": types.StringValue(m.Address)}))
	}
	return types.ListValueMust(types.ObjectType{AttrTypes: nodeAttrTypes}, vs)
}

// patroniClusterModel is erawan_patroni_cluster.
type patroniClusterModel struct {
	clusterBase
	PostgresVersion types.Int64  `tfsdk:"postgres_version"`
	PostgresPort    types.Int64  `tfsdk:"postgres_port"`
	PatroniPort     types.Int64  `tfsdk:"patroni_port"`
	EtcdClientPort  types.Int64  `tfsdk:"etcd_client_port"`
	EtcdPeerPort    types.Int64  `tfsdk:"etcd_peer_port"`
	AllowedCIDRs    types.List   `tfsdk:"allowed_cidrs"`
	Parameters      types.Map    `tfsdk:"parameters"`
	SynchronousMode types.Bool   `tfsdk:"synchronous_mode"`
	Database        types.Object `tfsdk:"database"`
	Backup          types.Object `tfsdk:"backup"`
	Restore         types.Object `tfsdk:"restore"`
	Leader          types.String `tfsdk:"leader"`

	TLS                  types.Object `tfsdk:"tls"`
	RequireTLS           types.Bool   `tfsdk:"require_tls"`
	CACertificate        types.String `tfsdk:"ca_certificate"`
	CertificatesExpireAt types.String `tfsdk:"certificates_expire_at"`

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

// patroniPassword gives uniform access to one generated password and its
// write-only input.
type patroniPassword struct {
	attr    string
	role    string // the PostgreSQL role it belongs to; "" when it is not a role's password
	value   *types.String
	wo      *types.String
	version *types.Int64
}

func (m *patroniClusterModel) passwords() []patroniPassword {
	return []patroniPassword{
		{"superuser_password", "postgres", &m.SuperuserPassword, &m.SuperuserPasswordWO, &m.SuperuserPasswordWOVersion},
		{"replication_password", "replicator", &m.ReplicationPassword, &m.ReplicationPasswordWO, &m.ReplicationPasswordWOVersion},
		{"rewind_password", "rewinder", &m.RewindPassword, &m.RewindPasswordWO, &m.RewindPasswordWOVersion},
		{"restapi_password", "", &m.RestAPIPassword, &m.RestAPIPasswordWO, &m.RestAPIPasswordWOVersion},
		{"database_password", "", &m.DatabasePassword, &m.DatabasePasswordWO, &m.DatabasePasswordWOVersion},
	}
}

// patroniDatabaseModel is erawan_patroni_cluster's `database`.
type patroniDatabaseModel struct {
	Name  types.String `tfsdk:"name"`
	Owner types.String `tfsdk:"owner"`
}

// mysqlClusterModel is erawan_mysql_cluster.
type mysqlClusterModel struct {
	clusterBase
	MySQLPort            types.Int64  `tfsdk:"mysql_port"`
	GroupPort            types.Int64  `tfsdk:"group_replication_port"`
	PrimaryCheckPort     types.Int64  `tfsdk:"primary_check_port"`
	Management           types.String `tfsdk:"management"`
	ManagementMode       types.String `tfsdk:"management_mode"`
	ClusterAdminUser     types.String `tfsdk:"cluster_admin_user"`
	Router               types.Object `tfsdk:"router"`
	RouterRWPort         types.Int64  `tfsdk:"router_rw_port"`
	RouterROPort         types.Int64  `tfsdk:"router_ro_port"`
	Database             types.Object `tfsdk:"database"`
	Primary              types.String `tfsdk:"primary"`
	GroupName            types.String `tfsdk:"group_name"`
	AdminPassword        types.String `tfsdk:"cluster_admin_password"`
	AdminPasswordWO      types.String `tfsdk:"cluster_admin_password_wo"`
	AdminPasswordVersion types.Int64  `tfsdk:"cluster_admin_password_wo_version"`
	DatabasePassword     types.String `tfsdk:"database_password"`
	RouterPassword       types.String `tfsdk:"router_password"`
	TLS                  types.Object `tfsdk:"tls"`
	CACertificate        types.String `tfsdk:"ca_certificate"`
	CertificatesExpireAt types.String `tfsdk:"certificates_expire_at"`
}

// mysqlDatabaseModel is erawan_mysql_cluster's `database`.
type mysqlDatabaseModel struct {
	Name        types.String `tfsdk:"name"`
	User        types.String `tfsdk:"user"`
	SSLRequired types.Bool   `tfsdk:"ssl_required"`
}

// tenantModel is erawan_haproxy_tenant.
type tenantModel struct {
	ID                 types.String   `tfsdk:"id"`
	Name               types.String   `tfsdk:"name"`
	Host               types.String   `tfsdk:"host"`
	Engine             types.String   `tfsdk:"engine"`
	ReadWritePort      types.Int64    `tfsdk:"read_write_port"`
	ReadOnlyPort       types.Int64    `tfsdk:"read_only_port"`
	BindAddress        types.String   `tfsdk:"bind_address"`
	Backends           types.List     `tfsdk:"backends"`
	BackendPort        types.Int64    `tfsdk:"backend_port"`
	HealthCheckPort    types.Int64    `tfsdk:"health_check_port"`
	HealthCheckTLS     types.Bool     `tfsdk:"health_check_tls"`
	HealthCheckCAPEM   types.String   `tfsdk:"health_check_ca_pem"`
	MaxReplicaLagBytes types.Int64    `tfsdk:"max_replica_lag_bytes"`
	AllowedCIDRs       types.List     `tfsdk:"allowed_cidrs"`
	MaxConn            types.Int64    `tfsdk:"maxconn"`
	RenderedConfig     types.String   `tfsdk:"rendered_config"`
	ConfigSHA256       types.String   `tfsdk:"config_sha256"`
	OwnerID            types.String   `tfsdk:"owner_id"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// healthModel is the erawan_patroni_cluster data source.
type healthModel struct {
	Addresses          types.List   `tfsdk:"addresses"`
	PatroniPort        types.Int64  `tfsdk:"patroni_port"`
	MaxLagBytes        types.Int64  `tfsdk:"max_lag_bytes"`
	CACertificatePEM   types.String `tfsdk:"ca_certificate_pem"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
	Scope              types.String `tfsdk:"scope"`
	Leader             types.String `tfsdk:"leader"`
	Timeline           types.Int64  `tfsdk:"timeline"`
	Members            types.List   `tfsdk:"members"`
	StreamingReplicas  types.Int64  `tfsdk:"streaming_replicas"`
	Healthy            types.Bool   `tfsdk:"healthy"`
	Problems           types.List   `tfsdk:"problems"`
}
