package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
)

var (
	// mysqlClusterNameRE is the InnoDB Cluster name (MySQL Shell's rule) and
	// the base of every file and unit name.
	mysqlClusterNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{3,40}$`)
	// mysqlUserRE is a plain MySQL account name.
	mysqlUserRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	// mysqlDatabaseRE is a plain MySQL schema name.
	mysqlDatabaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

var mysqlMemberAttrTypes = map[string]attr.Type{
	"name": types.StringType, "address": types.StringType, "role": types.StringType, "state": types.StringType, "version": types.StringType,
}

var mysqlDatabaseAttrTypes = map[string]attr.Type{"name": types.StringType, "user": types.StringType, "ssl_required": types.BoolType}

var mysqlRouterAttrTypes = map[string]attr.Type{"enabled": types.BoolType}

// clusterPortAttr is a port attribute of a cluster resource with its default;
// replace says whether a change replaces the cluster or applies in place.
func clusterPortAttr(def int64, what string, replace bool) schema.Int64Attribute {
	a := schema.Int64Attribute{
		Optional: true, Computed: true, Default: int64default.StaticInt64(def),
		Validators:          []validator.Int64{int64validator.Between(1, 65535)},
		MarkdownDescription: what + " Default `" + strconv.FormatInt(def, 10) + "`.",
	}
	if replace {
		a.PlanModifiers = []planmodifier.Int64{int64planmodifier.RequiresReplace()}
		a.MarkdownDescription += " Changing it replaces the cluster."
	} else {
		a.MarkdownDescription += " Changed in place."
	}
	return a
}

func (r *mysqlClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A MySQL InnoDB Cluster: single-primary Group Replication on the nodes' existing MySQL servers (8.0.27 or later), " +
			"with a primary-check HTTP service on every member for HAProxy. Create, update and delete run the provider's embedded Ansible playbooks over SSH; " +
			"reads query `performance_schema.replication_group_members` on every node directly, so `terraform plan` shows drift and `terraform apply` repairs it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Unique id of this cluster (`<name>-<random>`), also written to each node's marker file `/etc/erawan/mysql-<name>/erawan.json`."},
			"name": schema.StringAttribute{Required: true,
				Validators:    []validator.String{stringvalidator.RegexMatches(mysqlClusterNameRE, "must be 3-40 characters of A-Z, a-z, 0-9, _ and -")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "Cluster name (the InnoDB Cluster name with the AdminAPI). Names this cluster's files and units: `/etc/erawan/mysql-<name>/`, " +
					"`/etc/mysql/mysql.conf.d/zz-erawan-<name>.cnf`, `erawan-mysql-check-<name>.service`. `[A-Za-z0-9_-]{3,40}`. Changing it replaces the cluster."},
			"nodes": schema.ListNestedAttribute{Required: true,
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.SizeAtMost(9), uniqueNodesValidator{
					twoNodes: "A two-member group loses its majority when either member fails, so it cannot elect a new primary. Use 1 node, or 3 or more (an odd number)."}},
				MarkdownDescription: "The members, 1 to 9 (Group Replication's limit). The first bootstraps the group. Members are matched by `name`, a stable identity " +
					"from which the member's `server_id` is derived, never by position: adding or removing one changes the cluster in place, one at a time. " +
					"Each node must run a MySQL server that root reaches over its Unix socket.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true,
						Validators:          []validator.String{stringvalidator.RegexMatches(memberNameRE, "must be 1-63 characters of a-z, 0-9, _ and -, not starting with -")},
						MarkdownDescription: "Member name, `[a-z0-9_-]{1,63}`."},
					"address": schema.StringAttribute{Required: true,
						Validators: []validator.String{addressValidator{portAttr: "mysql_port and group_replication_port"}},
						MarkdownDescription: "The node's IPv4 address: the provider reaches the node there over SSH; also the member's `report_host`, Group Replication address, " +
							"admin account host and allowlist entry, which match IP addresses, so a host name, a port or an IPv6 address is refused at plan time."},
				}},
			},
			"mysql_port":             clusterPortAttr(3306, "MySQL client port of every member.", true),
			"group_replication_port": clusterPortAttr(33061, "Group Replication communication port (`group_replication_local_address`).", true),
			"primary_check_port":     clusterPortAttr(9200, "Port of the primary-check HTTP service (`GET /primary`, `GET /replica`) that `erawan_haproxy_tenant` with `engine = \"mysql\"` checks.", false),
			"management": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(mysqlgr.ModeAuto),
				Validators: []validator.String{stringvalidator.OneOf(mysqlgr.ModeAuto, mysqlgr.ModeAdminAPI, mysqlgr.ModeGroupReplication)},
				MarkdownDescription: "How the group is managed. `adminapi`: MySQL Shell's AdminAPI (a full InnoDB Cluster with metadata; needs `mysqlsh` on every node). " +
					"`group_replication`: the same single-primary group built with SQL alone. `auto` (the default) picks `adminapi` when `mysqlsh` is on every node at create, " +
					"else `group_replication`. The mode is chosen once: changing this to the other explicit mode is refused at plan time; `auto` or the mode in use is accepted."},
			"management_mode": schema.StringAttribute{Computed: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "What `management` resolved to at create: `adminapi` or `group_replication`."},
			"cluster_admin_user": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("clusteradmin"),
				Validators:    []validator.String{stringvalidator.RegexMatches(mysqlUserRE, "must be a plain MySQL user name: [A-Za-z_][A-Za-z0-9_]{0,31}"), stringvalidator.NoneOf("root", "erawan_check")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "Cluster admin account, created once per member address (`'<user>'@'<address>'`, never `'%'`) and used for clone and distributed recovery. " +
					"Default `clusteradmin`. Changing it replaces the cluster."},
			"router": schema.SingleNestedAttribute{Optional: true, Computed: true,
				Default: objectdefault.StaticValue(types.ObjectValueMust(mysqlRouterAttrTypes, map[string]attr.Value{"enabled": types.BoolValue(false)})),
				MarkdownDescription: "MySQL Router on every member, bootstrapped with `--conf-use-sockets` and a dedicated account, run as `erawan-mysqlrouter-<name>.service`. " +
					"Needs `management_mode = \"adminapi\"` (Router reads the InnoDB Cluster metadata that only MySQL Shell writes).",
				Attributes: map[string]schema.Attribute{
					"enabled": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
						MarkdownDescription: "Bootstrap MySQL Router. Default `false`."},
				}},
			"router_rw_port": schema.Int64Attribute{Computed: true,
				MarkdownDescription: "MySQL Router's read-write port (6446) when `router.enabled`, else null."},
			"router_ro_port": schema.Int64Attribute{Computed: true,
				MarkdownDescription: "MySQL Router's read-only port (6447) when `router.enabled`, else null."},
			"database": schema.SingleNestedAttribute{Optional: true,
				MarkdownDescription: "Optional application database and its user (`'<user>'@'%'`), created on the primary. The user's password is `database_password`.",
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true,
						Validators:          []validator.String{stringvalidator.RegexMatches(mysqlDatabaseRE, "must be a plain schema name: [A-Za-z_][A-Za-z0-9_]{0,63}"), stringvalidator.NoneOf("mysql", "sys", "performance_schema", "information_schema", "mysql_innodb_cluster_metadata")},
						MarkdownDescription: "Database name."},
					"user": schema.StringAttribute{Required: true,
						Validators: []validator.String{stringvalidator.RegexMatches(mysqlUserRE, "must be a plain MySQL user name: [A-Za-z_][A-Za-z0-9_]{0,31}"),
							stringvalidator.NoneOf("root", "erawan_check", "mysql.sys", "mysql.session", "mysql.infoschema", "debian-sys-maint")},
						MarkdownDescription: "User name; it gets all privileges on the database. Not the cluster admin or a system account."},
					"ssl_required": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
						MarkdownDescription: "`REQUIRE SSL` on the user: it can connect over TLS only. Default `true`."},
				}},
			"deletion_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "While `true` (the default), destroying or replacing the cluster is refused, at plan time. Set it to `false` and apply before destroying."},
			"primary": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Member name of the current primary, from `performance_schema.replication_group_members`; null when no member is ONLINE."},
			"group_name": schema.StringAttribute{Computed: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The group's UUID (`group_replication_group_name`), generated at create."},
			"members": schema.ListNestedAttribute{Computed: true,
				MarkdownDescription: "Members as the group reports them (`performance_schema.replication_group_members`), in `nodes` order. A member that is not ONLINE, " +
					"missing from the group, or whose primary-check service is down is drift: the plan shows `members` changing and `terraform apply` repairs it.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "Member name."},
					"address": schema.StringAttribute{Computed: true, MarkdownDescription: "Node address."},
					"role":    schema.StringAttribute{Computed: true, MarkdownDescription: "`PRIMARY` or `SECONDARY`; empty when the member is not in the group."},
					"state":   schema.StringAttribute{Computed: true, MarkdownDescription: "`ONLINE`, `RECOVERING`, `OFFLINE`, `ERROR` or `UNREACHABLE` (Group Replication's MEMBER_STATE); `MISSING` when the node's server is not in the group, `unreachable` when SSH failed."},
					"version": schema.StringAttribute{Computed: true, MarkdownDescription: "MySQL server version of the member (MEMBER_VERSION)."},
				}},
			},
			"cluster_admin_password": schema.StringAttribute{Computed: true, Sensitive: true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Password of the cluster admin account. Generated once at create (32 characters from crypto/rand) and kept in state. " +
					"While `cluster_admin_password_wo` is set, this is null: the write-only value never reaches state, and each apply takes it from the configuration " +
					"(keep it there). A salted Argon2id hash of the applied value is kept in private state, so a plan warns when the value changes without a new version. " +
					"In `adminapi` mode Read then reports the group from performance_schema only (MySQL Shell's cluster.status() needs the password)."},
			"cluster_admin_password_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				Validators:          []validator.String{stringvalidator.LengthBetween(12, 32), noControlCharsValidator{}},
				MarkdownDescription: "Write-only (Terraform 1.11+): your own cluster admin password, used at create and whenever `cluster_admin_password_wo_version` changes. 12 to 32 characters (Group Replication's recovery channel takes at most 32), no newline or NUL."},
			"cluster_admin_password_wo_version": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Change this number to rotate `cluster_admin_password` in place (ALTER USER on the primary, then the recovery channel's credentials on every member) to the value of `cluster_admin_password_wo`."},
			"database_password": schema.StringAttribute{Computed: true, Sensitive: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Password of the `database` user. Generated once (32 characters from crypto/rand) and kept in state; null without `database`."},
			"router_password": schema.StringAttribute{Computed: true, Sensitive: true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Password of MySQL Router's account. Generated once when `router.enabled`; null otherwise."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
				CreateDescription: "Default `45m`.", UpdateDescription: "Default `45m`.", DeleteDescription: "Default `15m`."}),
		},
	}
	for k, a := range tlsSchema(tlsDoc{
		channels: "the server's client connections (`ssl_ca`, `ssl_cert`, `ssl_key`), group communication (`group_replication_ssl_mode = VERIFY_IDENTITY`: " +
			"members check each other's certificate and address) and distributed recovery and clone (the donor verified against the CA)",
		plaintext: "the servers keep their own self-signed certificates, group communication is encrypted (`REQUIRED`) but no member verifies another, " +
			"so anyone who can reach the group port and the allowlist could pose as a member, and clients cannot verify the server.",
		clients: "`--ssl-ca` with `--ssl-mode=VERIFY_IDENTITY` for the mysql client (the `database` user with `ssl_required`)",
		change: "Turning it on for an existing cluster moves it to TLS in place (`group_replication` mode; two rolling restarts of Group Replication, see the Security model section); " +
			"turning it off is refused at plan time.",
	}) {
		resp.Schema.Attributes[k] = a
	}
}

// ConfigValidators refuses Router with the SQL-only mode and ports that
// collide, at plan time.
func (r *mysqlClusterResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{mysqlConfigValidator{}, tlsConfigValidator{}}
}

type mysqlConfigValidator struct{}

func (mysqlConfigValidator) Description(context.Context) string {
	return "router needs management = adminapi or auto; ports must differ"
}
func (v mysqlConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (mysqlConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var mode types.String
	var router types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("management"), &mode)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("router"), &router)...)
	if !router.IsNull() && !router.IsUnknown() {
		if en, ok := router.Attributes()["enabled"].(types.Bool); ok && en.ValueBool() && mode.ValueString() == mysqlgr.ModeGroupReplication {
			resp.Diagnostics.AddAttributeError(path.Root("router"), "MySQL Router needs the AdminAPI",
				"router.enabled = true needs management = \"adminapi\" (or \"auto\" resolving to it): Router bootstraps from the InnoDB Cluster metadata "+
					"that only MySQL Shell writes, and management = \"group_replication\" builds the group without it.")
		}
	}
	var admin types.String
	var db types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("cluster_admin_user"), &admin)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("database"), &db)...)
	if !db.IsNull() && !db.IsUnknown() {
		adminUser := "clusteradmin"
		if !admin.IsNull() && !admin.IsUnknown() {
			adminUser = admin.ValueString()
		}
		if u, ok := db.Attributes()["user"].(types.String); ok && !u.IsUnknown() && u.ValueString() == adminUser && !admin.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root("database").AtName("user"), "The database user is the cluster admin",
				fmt.Sprintf("database.user %q is the cluster admin user; the application needs an account of its own.", adminUser))
		}
	}
	if !router.IsNull() && !router.IsUnknown() {
		if en, ok := router.Attributes()["enabled"].(types.Bool); ok && en.ValueBool() {
			checkRouterAccounts(ctx, req, resp)
		}
	}
	checkPortsDistinct(ctx, req, resp, []string{"mysql_port", "group_replication_port", "primary_check_port"},
		map[string]int64{"mysql_port": 3306, "group_replication_port": 33061, "primary_check_port": 9200})
}

// routerAccountPrefix starts the MySQL account MySQL Router bootstraps on
// each member (erawan_router_<member name>); MySQL user names hold at most
// 32 characters.
const routerAccountPrefix = "erawan_router_"

// checkRouterAccounts refuses member names whose Router account name would
// pass MySQL's 32-character limit.
func checkRouterAccounts(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var nodes types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("nodes"), &nodes)...)
	if nodes.IsNull() || nodes.IsUnknown() {
		return
	}
	for i, e := range nodes.Elements() {
		obj, ok := e.(types.Object)
		if !ok || obj.IsNull() || obj.IsUnknown() {
			continue
		}
		if n, ok := obj.Attributes()["name"].(types.String); ok && !n.IsUnknown() && len(routerAccountPrefix)+len(n.ValueString()) > 32 {
			resp.Diagnostics.AddAttributeError(path.Root("nodes").AtListIndex(i).AtName("name"), "Member name too long for MySQL Router",
				fmt.Sprintf("Attribute nodes[%d].name: with router.enabled, member %q gets the MySQL account %s%s, longer than MySQL's 32-character user names. Use a member name of at most %d characters.",
					i, n.ValueString(), routerAccountPrefix, n.ValueString(), 32-len(routerAccountPrefix)))
		}
	}
}
