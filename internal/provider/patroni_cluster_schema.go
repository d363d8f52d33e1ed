package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Names of the generated passwords, their attributes and the roles they belong to.
var passwordKinds = []struct {
	attr, role, desc string
}{
	{"superuser_password", "postgres", "PostgreSQL superuser `postgres`"},
	{"replication_password", "replicator", "replication role `replicator`"},
	{"rewind_password", "rewinder", "pg_rewind role `rewinder`"},
	{"restapi_password", "", "Patroni REST API user `erawan` (basic auth on unsafe methods)"},
	{"database_password", "", "owner of the application `database`"},
}

var nodeAttrTypes = map[string]attr.Type{"name": types.StringType, "address": types.StringType}

var patroniMemberAttrTypes = map[string]attr.Type{
	"name": types.StringType, "address": types.StringType, "role": types.StringType, "state": types.StringType,
	"timeline": types.Int64Type, "lag_bytes": types.Int64Type, "etcd_state": types.StringType,
}

var patroniDatabaseAttrTypes = map[string]attr.Type{"name": types.StringType, "owner": types.StringType}

func (r *patroniClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "Unique id of this cluster (`<name>-<random>`), also written to each node's marker file `/etc/erawan/<name>/erawan.json`."},
		"name": schema.StringAttribute{Required: true,
			Validators: []validator.String{stringvalidator.RegexMatches(clusterNameRE,
				"must be 1-63 characters of a-z, 0-9, _ and -"), notPrefixValidator{prefix: mysqlPathPrefix,
				why: "/etc/erawan/mysql-<name>/ is where erawan_mysql_cluster keeps its files, so a Patroni cluster named so could share a directory and a marker with a MySQL cluster"}},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			MarkdownDescription: "Patroni scope. Names every file, unit and directory of the cluster: `/etc/erawan/<name>/`, " +
				"`/var/lib/erawan/<name>/`, `erawan-patroni-<name>.service`, `erawan-etcd-<name>.service`. `[a-z0-9_-]{1,63}`, not starting with `mysql-` (erawan_mysql_cluster's prefix, so the two engines never share a path). Changing it replaces the cluster."},
		"postgres_version": schema.Int64Attribute{Required: true,
			Validators:          []validator.Int64{int64validator.Between(14, 18)},
			PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			MarkdownDescription: "PostgreSQL major version, 14-18. `/usr/lib/postgresql/<version>/bin` must exist on every node. Changing it replaces the cluster."},
		"nodes": schema.ListNestedAttribute{Required: true,
			Validators: []validator.List{listvalidator.SizeAtLeast(1), uniqueNodesValidator{}},
			MarkdownDescription: "The members. The first is the bootstrap leader. Members are matched by `name` (a stable Patroni and etcd member name), " +
				"not by position: adding or removing one changes the cluster in place, one node at a time. Use 1 node, or 3 or more.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{Required: true,
					Validators:          []validator.String{stringvalidator.RegexMatches(memberNameRE, "must be 1-63 characters of a-z, 0-9, _ and -, not starting with -")},
					MarkdownDescription: "Member name, `[a-z0-9_][a-z0-9_-]{0,62}` (a leading `-` would read as an option to etcdctl and patronictl)."},
				"address": schema.StringAttribute{Required: true,
					Validators: []validator.String{addressValidator{portAttr: "postgres_port, patroni_port and the etcd ports"}},
					MarkdownDescription: "The node's IPv4 address: the provider reaches the node there over SSH, and members reach each other there. " +
						"It also goes into pg_hba, so a host name (which pg_hba matches only through reverse DNS), a port or an IPv6 address is refused at plan time."},
			}},
		},
		"postgres_port":    clusterPortAttr(5432, "PostgreSQL port.", true),
		"patroni_port":     clusterPortAttr(8008, "Patroni REST API port.", true),
		"etcd_client_port": clusterPortAttr(2379, "etcd client port (bound to the node address and 127.0.0.1).", true),
		"etcd_peer_port":   clusterPortAttr(2380, "etcd peer port.", true),
		"allowed_cidrs": schema.ListAttribute{Optional: true, ElementType: types.StringType,
			Validators:          []validator.List{listvalidator.ValueStringsAre(cidrValidator{})},
			MarkdownDescription: "Networks allowed to connect to PostgreSQL (pg_hba `host all all <cidr> scram-sha-256`). Replication is only allowed between members. Default: none besides the members and 127.0.0.1. Changed in place."},
		"parameters": schema.MapAttribute{Optional: true, ElementType: types.StringType,
			Validators: []validator.Map{parameterNamesValidator{}, ownedParametersValidator{}},
			MarkdownDescription: "PostgreSQL parameters, as strings (`max_connections = \"200\"`), applied through Patroni `PATCH /config`. " +
				"Members whose `pending_restart` is set are restarted one at a time, replicas first. Out-of-band changes of these keys show as drift. " +
				"Parameters the provider and Patroni own (" + ownedParameterList() + ") are refused at plan time; `wal_level` may only be `replica` or `logical`."},
		"synchronous_mode": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Patroni `synchronous_mode`. Default `false`. Changed in place through `PATCH /config`."},
		"database": schema.SingleNestedAttribute{Optional: true,
			MarkdownDescription: "Optional application database and its owner, created on the leader. The owner's password is `database_password`.",
			Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{Required: true,
					Validators: []validator.String{stringvalidator.RegexMatches(sqlIdentRE, "must be a lower-case identifier: [a-z_][a-z0-9_]{0,62}"),
						stringvalidator.NoneOf("postgres", "template0", "template1")},
					MarkdownDescription: "Database name; not `postgres`, `template0` or `template1`, which every cluster has."},
				"owner": schema.StringAttribute{Required: true,
					Validators: []validator.String{
						stringvalidator.RegexMatches(sqlIdentRE, "must be a lower-case identifier: [a-z_][a-z0-9_]{0,62}"),
						stringvalidator.RegexMatches(notPgPrefixRE, "must not start with pg_ (PostgreSQL reserves those role names)"),
						stringvalidator.NoneOf("postgres", "replicator", "rewinder"),
						stringvalidator.NoneOf(reservedRoleNames...),
					},
					MarkdownDescription: "Owner role, created with LOGIN. Not one of the cluster's own roles (`postgres`, `replicator`, `rewinder`), not `pg_*`, and not a name PostgreSQL reserves (`public`, `none`, `current_user`, `current_role`, `session_user`, `user`, `all`)."},
			}},
		"backup":  backupSchema(),
		"restore": restoreSchema(),
		"deletion_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			MarkdownDescription: "While `true` (the default), destroying or replacing the cluster is refused, at plan time. Set it to `false` and apply before destroying."},
		"leader": schema.StringAttribute{Computed: true,
			MarkdownDescription: "Member name of the current leader, from Patroni `GET /cluster`."},
		"members": schema.ListNestedAttribute{Computed: true,
			MarkdownDescription: "Members as Patroni reports them (`GET /cluster`), in `nodes` order. A member that is stopped, missing, not streaming, or whose etcd is down is drift: the plan shows `members` changing and `terraform apply` repairs it.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name":       schema.StringAttribute{Computed: true, MarkdownDescription: "Member name."},
				"address":    schema.StringAttribute{Computed: true, MarkdownDescription: "Node address."},
				"role":       schema.StringAttribute{Computed: true, MarkdownDescription: "`leader`, `sync_standby`, `replica` or `standby_leader` (Patroni 3.x `master` and 4.x `primary` are reported as `leader`); empty when Patroni does not list the member."},
				"state":      schema.StringAttribute{Computed: true, MarkdownDescription: "Patroni state: `running`, `streaming`, `stopped`, …; `unreachable` when the node could not be reached over SSH."},
				"timeline":   schema.Int64Attribute{Computed: true, MarkdownDescription: "PostgreSQL timeline; null when unknown."},
				"lag_bytes":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Replication lag in bytes, from Patroni `GET /cluster`; 0 for the leader, null when Patroni says unknown."},
				"etcd_state": schema.StringAttribute{Computed: true, MarkdownDescription: "`healthy`, `unhealthy` or `unknown`, from etcd `GET /health` on the node."},
			}},
		},
		"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
			CreateDescription: "Default `30m`.", UpdateDescription: "Default `30m`.", DeleteDescription: "Default `15m`."}),
	}
	for k, a := range tlsSchema(tlsDoc{
		channels: "etcd client and peer traffic (with client certificates), Patroni's REST API (HTTPS), and PostgreSQL (`ssl = on`, `hostssl`, replication with `sslmode=verify-full`)",
		plaintext: "every channel runs in plaintext, so anyone who can reach the etcd client port can rewrite the cluster's configuration " +
			"(and so run code as `postgres` on every member), and passwords cross the network in the clear.",
		clients: "`sslrootcert` for PostgreSQL, `health_check_ca_pem` of `erawan_haproxy_tenant`, `ca_certificate_pem` of the data source",
		change: "Turning it on for an existing cluster moves it to TLS in place (rolling restarts of etcd and Patroni and reloads of PostgreSQL, no PostgreSQL restart; see the Security model section); " +
			"turning it off is refused at plan time.",
	}) {
		attrs[k] = a
	}
	attrs["require_tls"] = schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
		MarkdownDescription: "With TLS on, whether every TCP connection to PostgreSQL must use TLS: `true` (the default) leaves no plain `host` line in pg_hba, only `hostssl`. " +
			"`false` keeps `host` lines for `allowed_cidrs` and 127.0.0.1, so clients may connect without TLS. Replication between members uses TLS either way. Changed in place."}
	for _, k := range passwordKinds {
		attrs[k.attr] = schema.StringAttribute{Computed: true, Sensitive: true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "Password of the " + k.desc + ". Generated once at create (32 characters from crypto/rand) and kept in state; " +
				"never regenerated by a later plan, update or resume. While `" + k.attr + "_wo` is set, this is null: the write-only value never reaches state, " +
				"and each apply takes it from the configuration (keep it there). A salted Argon2id hash of the applied value is kept in private state, " +
				"so a plan warns when the value changes without a new `" + k.attr + "_wo_version`."}
		attrs[k.attr+"_wo"] = schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
			Validators:          []validator.String{stringvalidator.LengthAtLeast(12), noControlCharsValidator{}},
			MarkdownDescription: "Write-only (Terraform 1.11+): your own password for the " + k.desc + ", used at create and whenever `" + k.attr + "_wo_version` changes. At least 12 characters, no newline or NUL."}
		attrs[k.attr+"_wo_version"] = schema.Int64Attribute{Optional: true,
			MarkdownDescription: "Change this number to rotate `" + k.attr + "` in place to the value of `" + k.attr + "_wo`."}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A PostgreSQL cluster managed by Patroni, with an etcd (v3 API) member on every node. " +
			"Create, update and delete run the provider's embedded Ansible playbooks over SSH; reads ask Patroni's REST API on each node directly, " +
			"so `terraform plan` shows drift and `terraform apply` repairs it.",
		Attributes: attrs,
	}
}
