package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/secrets"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// mysqlClusterResource is erawan_mysql_cluster: the shared cluster
// lifecycle with the Group Replication engine.
type mysqlClusterResource struct {
	clusterResource[mysqlClusterModel, *mysqlgr.Spec, *mysqlgr.Observation, mysqlgr.Drift, mysqlRotation]
}

// mysqlEngine is what erawan_mysql_cluster adds to clusterResource.
type mysqlEngine struct{}

// mysqlRotation is true when an update rotates the cluster admin password.
type mysqlRotation bool

func (r mysqlRotation) rotates() bool { return bool(r) }

func (mysqlEngine) info() engineInfo {
	return engineInfo{kind: "MySQL", keeps: "the generated passwords and the group name", gone: " (no marker, no group)",
		typeSuffix: "_mysql_cluster", create: mysqlgr.PlaybookCreate, update: mysqlgr.PlaybookUpdate, del: mysqlgr.PlaybookDelete,
		opTimeout: 45 * time.Minute, nameRE: mysqlClusterNameRE, importExample: "prodCluster@10.0.0.21,10.0.0.22,10.0.0.23",
		tlsMove: "restarts Group Replication on every member twice, one member at a time and the primary last each time: first with the new certificates " +
			"(still REQUIRED), then with VERIFY_IDENTITY, since no member can verify the others until all present a certificate of the CA. " +
			"Writes pause for two primary changes (about a second each through HAProxy in the lab); every member must be ONLINE.",
		renewal: "one member at a time: ALTER INSTANCE RELOAD TLS for client connections, then Group Replication stopped and started on that member " +
			"(group communication reads its certificate only then). The primary goes last, after handing its role to an ONLINE secondary, so writes pause for one primary change."}
}

func (mysqlEngine) base(m *mysqlClusterModel) *clusterBase    { return &m.clusterBase }
func (mysqlEngine) members(s *mysqlgr.Spec) []topology.Member { return s.Nodes }

func (mysqlEngine) certSubjects(s *mysqlgr.Spec) []topology.Member { return s.Nodes }

func (m *mysqlClusterModel) routerEnabled() bool {
	if m.Router.IsNull() || m.Router.IsUnknown() {
		return false
	}
	en, _ := m.Router.Attributes()["enabled"].(types.Bool)
	return en.ValueBool()
}

func (m *mysqlClusterModel) setRouterPorts() {
	if m.routerEnabled() {
		m.RouterRWPort, m.RouterROPort = types.Int64Value(6446), types.Int64Value(6447)
	} else {
		m.RouterRWPort, m.RouterROPort = types.Int64Null(), types.Int64Null()
	}
}

// prepareCreate resolves management = auto from what the nodes have, and
// generates the group name and the passwords.
func (e mysqlEngine) prepareCreate(ctx context.Context, c *clients, plan, config *mysqlClusterModel, diags *diag.Diagnostics) {
	nodes, d := plan.members(ctx)
	if diags.Append(d...); diags.HasError() {
		return
	}
	mode := plan.Management.ValueString()
	if mode == mysqlgr.ModeAuto {
		obs := mysqlgr.Observe(ctx, c.pool, plan.Name.ValueString(), c.sudo(), nodes, 10*time.Second)
		mode = mysqlgr.ModeAdminAPI
		for _, s := range obs.Nodes {
			if s.Probe == nil {
				diags.AddError(fmt.Sprintf("Node %s (%s) could not be probed", s.Name, s.Address), fmt.Sprint(s.SSHError))
				return
			}
			if !s.Probe.MySQLSh {
				mode = mysqlgr.ModeGroupReplication
			}
		}
	}
	if plan.routerEnabled() && mode != mysqlgr.ModeAdminAPI {
		diags.AddAttributeError(path.Root("router"), "MySQL Router needs the AdminAPI",
			"management = \"auto\" resolved to \"group_replication\" because mysqlsh is missing on at least one node, and Router cannot bootstrap without the InnoDB Cluster metadata. Install MySQL Shell on every node or disable router.")
		return
	}
	plan.ManagementMode = types.StringValue(mode)
	plan.GroupName = types.StringValue(secrets.UUID())
	if v := config.AdminPasswordWO; !v.IsNull() && !v.IsUnknown() {
		plan.AdminPassword = types.StringValue(v.ValueString())
	} else {
		plan.AdminPassword = generated(diags)
	}
	plan.DatabasePassword, plan.RouterPassword = types.StringNull(), types.StringNull()
	if !plan.Database.IsNull() {
		plan.DatabasePassword = generated(diags)
	}
	if plan.routerEnabled() {
		plan.RouterPassword = generated(diags)
	}
	plan.Primary = types.StringNull()
	plan.Members = types.ListNull(types.ObjectType{AttrTypes: mysqlMemberAttrTypes})
	plan.setRouterPorts()
}

// generated returns a new 32-character password, or adds an error.
func generated(diags *diag.Diagnostics) types.String {
	p, err := secrets.GeneratePassword(32)
	if err != nil {
		diags.AddError("Generating a password failed", err.Error())
	}
	return types.StringValue(p)
}

// spec builds the playbook spec of a fully known model.
func (mysqlEngine) spec(ctx context.Context, m *mysqlClusterModel) (*mysqlgr.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	nodes, d := m.members(ctx)
	diags.Append(d...)
	s := &mysqlgr.Spec{
		Name: m.Name.ValueString(), ID: m.ID.ValueString(), GroupName: m.GroupName.ValueString(), Nodes: nodes,
		MySQLPort: int(m.MySQLPort.ValueInt64()), GroupPort: int(m.GroupPort.ValueInt64()), PrimaryCheckPort: int(m.PrimaryCheckPort.ValueInt64()),
		Management: m.ManagementMode.ValueString(), ClusterAdminUser: m.ClusterAdminUser.ValueString(),
		Router: m.routerEnabled(), RouterRWPort: 6446, RouterROPort: 6447,
		AdminPassword: m.AdminPassword.ValueString(), DatabasePassword: m.DatabasePassword.ValueString(), RouterPassword: m.RouterPassword.ValueString(),
	}
	if db := knownObject[mysqlDatabaseModel](ctx, m.Database, &diags); db != nil {
		s.Database = &mysqlgr.Database{Name: db.Name.ValueString(), User: db.User.ValueString(), SSLRequired: db.SSLRequired.ValueBool()}
	}
	// TLS runs once the cluster has a CA (made at create); a cluster that
	// has none keeps the servers' own certificates.
	if readTLS(ctx, m.TLS, &diags).On && !m.CACertificate.IsNull() && !m.CACertificate.IsUnknown() {
		s.TLS = &mysqlgr.TLS{CAPEM: m.CACertificate.ValueString()}
	}
	return s, diags
}

// job gives the MySQL playbooks their variables; an update (ch set) also
// passes the removed members and whether the admin password rotates.
func (mysqlEngine) job(old, s *mysqlgr.Spec, ch *topology.Change, rot mysqlRotation) (runner.Job, error) {
	var removed []topology.Member
	if ch != nil {
		// A gone member's accounts are dropped too; its host is in no
		// inventory group, and Group Replication's majority expels it.
		removed = append(slices.Clone(ch.Removed), ch.Gone...)
	}
	v := s.Vars(removed, bool(rot))
	// An update that gives a cluster without TLS its CA moves it to TLS.
	v.TLSMove = ch != nil && old != nil && old.TLS == nil && s.TLS != nil
	return runner.Job{Vars: v, Secrets: s.Secrets()}, nil
}

func (mysqlEngine) tls(m *mysqlClusterModel) *tlsAttrs {
	return &tlsAttrs{TLS: &m.TLS, CACertificate: &m.CACertificate, ExpireAt: &m.CertificatesExpireAt}
}

func (mysqlEngine) withCerts(s *mysqlgr.Spec, certs map[string]string) {
	if s.TLS != nil {
		s.TLS.Certs = certs
	}
}

// certExpiry is when each answering member's certificate expires: the one
// its server presents to clients (Ssl_server_not_after) when the server
// uses the cluster's node.crt, else the file's own (a server that does not
// use the file yet, or is down).
func (mysqlEngine) certExpiry(o *mysqlgr.Observation) map[string]time.Time {
	out := map[string]time.Time{}
	for _, n := range o.Nodes {
		p := n.Probe
		if p == nil {
			continue
		}
		if !p.ServedExpiry.IsZero() && p.UsesNodeCert {
			out[n.Name] = p.ServedExpiry
		} else if at, err := pki.Expiry(p.CertPEM); p.CertFile && err == nil {
			out[n.Name] = at
		}
	}
	return out
}

// nodeCerts is each answering member's node.crt; "" (missing, so apply
// issues a new one) when the file is absent or node.key does not belong
// to it.
func (mysqlEngine) nodeCerts(o *mysqlgr.Observation) map[string]string {
	out := map[string]string{}
	for _, n := range o.Nodes {
		if n.Probe != nil {
			out[n.Name] = n.Probe.CertPEM
			if n.Probe.KeyMismatch {
				out[n.Name] = ""
			}
		}
	}
	return out
}

func (mysqlEngine) observe(ctx context.Context, c *clients, s *mysqlgr.Spec, _ tlsPrivate) *mysqlgr.Observation {
	return mysqlgr.Observe(ctx, c.pool, s.Name, c.sudo(), s.Nodes, 10*time.Second)
}

func (mysqlEngine) setObserved(_ context.Context, m *mysqlClusterModel, s *mysqlgr.Spec, obs *mysqlgr.Observation) diag.Diagnostics {
	return m.setObserved(obs, s.Nodes)
}

// refresh sets what Read observed and returns the drift; a complete outage
// gets the operator's recovery steps, and an AdminAPI cluster adds MySQL
// Shell's cluster.status() verdict.
func (mysqlEngine) refresh(ctx context.Context, c *clients, m *mysqlClusterModel, s *mysqlgr.Spec, obs *mysqlgr.Observation, _ bool, diags *diag.Diagnostics) mysqlgr.Drift {
	drift := obs.Drift(s.Nodes, s.GroupName, s.Router)
	if obs.CompleteOutage() {
		diags.AddWarning(fmt.Sprintf("MySQL cluster %q: complete outage", s.Name),
			"No member is ONLINE, but the nodes hold this group's data. terraform apply will not bootstrap a new group over them. "+
				"Find the member with the most transactions (SELECT @@gtid_executed on each) and on it run: SET GLOBAL group_replication_bootstrap_group=ON; "+
				"START GROUP_REPLICATION; SET GLOBAL group_replication_bootstrap_group=OFF; (AdminAPI: dba.rebootClusterFromCompleteOutage()). Then apply to rejoin the others.")
	}
	if s.Management == mysqlgr.ModeAdminAPI && obs.Primary() != "" && drift.Empty() {
		cmd, stdin := s.AdminAPIStatusCommand(obs.Primary(), c.sudo())
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := c.pool.Run(sctx, obs.Primary(), cmd, stdin)
		cancel()
		if cs, perr := mysqlgr.StatusLine(string(out)); err == nil && perr == nil {
			drift.AdminAPI = cs.StatusDrift()
		} else {
			diags.AddWarning(fmt.Sprintf("MySQL cluster %q: cluster.status() unavailable", s.Name),
				fmt.Sprintf("MySQL Shell on %s did not report the cluster's status (%v, %v); the group members were read from performance_schema.", obs.Primary(), err, perr))
		}
	}
	diags.Append(m.setObserved(obs, s.Nodes)...)
	return drift
}

// checkPlan refuses a change of management mode and Router without the AdminAPI.
// checkCreate: a MySQL create has no check against the hosts beyond its
// preflight step.
func (mysqlEngine) checkCreate(context.Context, *clients, *mysqlClusterModel, bool, *diag.Diagnostics) {
}

// fromScratch: a MySQL create has nothing that acts only then.
func (mysqlEngine) fromScratch(*mysqlgr.Spec) {}

// prepareDelete: a MySQL destroy reaches only the members.
func (mysqlEngine) prepareDelete(context.Context, *clients, *mysqlgr.Spec, *diag.Diagnostics) {}

// resumeCreate: nothing to check or certify beyond the tls step.
func (mysqlEngine) resumeCreate(context.Context, *clients, *mysqlClusterModel, *mysqlgr.Spec, []string, *diag.Diagnostics) []topology.Member {
	return nil
}

func (mysqlEngine) checkPlan(plan, state *mysqlClusterModel, diags *diag.Diagnostics) {
	if m := plan.Management.ValueString(); m != mysqlgr.ModeAuto && !plan.Management.IsUnknown() && m != state.ManagementMode.ValueString() {
		diags.AddAttributeError(path.Root("management"), "The management mode cannot change",
			fmt.Sprintf("MySQL cluster %q is managed with %s; it cannot switch to %s in place. Use management = %q or \"auto\".",
				state.Name.ValueString(), state.ManagementMode.ValueString(), m, state.ManagementMode.ValueString()))
		return
	}
	if state.ManagementMode.ValueString() == mysqlgr.ModeAdminAPI && state.CACertificate.IsNull() && !plan.TLS.IsUnknown() &&
		readTLS(context.Background(), plan.TLS, diags).On {
		diags.AddAttributeError(path.Root("tls"), "Moving an AdminAPI cluster to TLS in place is not built yet",
			fmt.Sprintf("MySQL cluster %q is managed with MySQL Shell's AdminAPI, which keeps its own Group Replication settings; the in-place move to TLS is built for "+
				"group_replication mode only. Set tls = { enabled = false } to keep it as it is for now.", state.Name.ValueString()))
		return
	}
	if plan.routerEnabled() && state.ManagementMode.ValueString() == mysqlgr.ModeGroupReplication {
		diags.AddAttributeError(path.Root("router"), "MySQL Router needs the AdminAPI",
			"This cluster is managed with group_replication (no InnoDB Cluster metadata), so Router cannot be bootstrapped.")
	}
}

func (mysqlEngine) writeOnly(m *mysqlClusterModel) []woSecret {
	return []woSecret{{attr: "cluster_admin_password", value: &m.AdminPassword, wo: &m.AdminPasswordWO, version: &m.AdminPasswordVersion}}
}

func (mysqlEngine) planSecrets(plan, state, config *mysqlClusterModel, diags *diag.Diagnostics) bool {
	changed := false
	if !plan.AdminPasswordVersion.IsNull() && !plan.AdminPasswordVersion.Equal(state.AdminPasswordVersion) {
		if config.AdminPasswordWO.IsNull() {
			diags.AddAttributeError(path.Root("cluster_admin_password_wo"), "Missing write-only password",
				"cluster_admin_password_wo_version changed, so cluster_admin_password_wo must hold the new password.")
			return false
		}
		plan.AdminPassword = types.StringUnknown()
		changed = true
	}
	if plan.Database.IsNull() && !plan.DatabasePassword.IsNull() {
		// The database and its user stay on the servers; the state forgets the password.
		plan.DatabasePassword = types.StringNull()
		changed = true
	}
	// A database added now gets a generated password; one already there
	// without a password in state (imported) keeps the user's own.
	changed = planGenerated(&plan.DatabasePassword, !plan.Database.IsNull() && state.Database.IsNull()) || changed
	return planGenerated(&plan.RouterPassword, plan.routerEnabled() && state.RouterPassword.IsNull()) || changed
}

func (mysqlEngine) planObserved(plan, state *mysqlClusterModel, changed bool) {
	plan.Primary = state.Primary
	if changed {
		plan.Primary = types.StringUnknown()
	}
	if plan.routerEnabled() != state.routerEnabled() {
		plan.RouterRWPort, plan.RouterROPort = types.Int64Unknown(), types.Int64Unknown()
	} else {
		plan.RouterRWPort, plan.RouterROPort = state.RouterRWPort, state.RouterROPort
	}
}

func (mysqlEngine) resolveSecrets(plan, state, config *mysqlClusterModel, diags *diag.Diagnostics) mysqlRotation {
	plan.GroupName, plan.ManagementMode = state.GroupName, state.ManagementMode
	rotate := false
	if plan.AdminPassword.IsUnknown() {
		if !config.AdminPasswordWO.IsNull() && !plan.AdminPasswordVersion.Equal(state.AdminPasswordVersion) {
			plan.AdminPassword = types.StringValue(config.AdminPasswordWO.ValueString())
			rotate = plan.AdminPassword.ValueString() != state.AdminPassword.ValueString()
		} else {
			plan.AdminPassword = state.AdminPassword
		}
	}
	for _, p := range []*types.String{&plan.DatabasePassword, &plan.RouterPassword} {
		if p.IsUnknown() {
			*p = generated(diags)
		}
	}
	if plan.Database.IsNull() {
		plan.DatabasePassword = types.StringNull()
	}
	return mysqlRotation(rotate)
}

// keepOnFailure keeps a rotated admin password once the passwords step
// completed: the servers hold it.
func (mysqlEngine) keepOnFailure(keep, plan *mysqlClusterModel, completed []string, _ bool, rot mysqlRotation) {
	if rot.rotates() && slices.Contains(completed, mysqlgr.StepPasswords) {
		keep.AdminPassword = plan.AdminPassword
	}
}

// setObserved fills primary, members and the Router ports from an observation.
func (m *mysqlClusterModel) setObserved(obs *mysqlgr.Observation, nodes []topology.Member) diag.Diagnostics {
	var diags diag.Diagnostics
	status := topology.ByName(obs.Nodes)
	byAddr := map[string]string{}
	var members []attr.Value
	for _, n := range nodes {
		byAddr[n.Address] = n.Name
		obj, d := types.ObjectValue(mysqlMemberAttrTypes, mysqlMemberValue(n, status[n.Name], obs.Member(n)))
		diags.Append(d...)
		members = append(members, obj)
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: mysqlMemberAttrTypes}, members)
	diags.Append(d...)
	m.Members = list
	m.Primary = types.StringNull()
	if p := obs.Primary(); p != "" {
		if name, ok := byAddr[p]; ok {
			m.Primary = types.StringValue(name)
		} else {
			m.Primary = types.StringValue(p)
		}
	}
	m.setRouterPorts()
	return diags
}

// mysqlMemberValue is one element of `members`: the node's probe and its
// row of performance_schema.replication_group_members (gm, nil when absent).
func mysqlMemberValue(n topology.Member, st mysqlgr.NodeStatus, gm *mysqlgr.GroupMember) map[string]attr.Value {
	v := map[string]attr.Value{"name": types.StringValue(n.Name), "address": types.StringValue(n.Address),
		"role": types.StringValue(""), "state": types.StringValue("MISSING"), "version": types.StringValue("")}
	if st.Probe == nil && st.SSHError != nil {
		v["state"] = types.StringValue("unreachable")
	} else if st.Probe != nil {
		v["version"] = types.StringValue(st.Probe.Version)
	}
	if gm != nil {
		v["role"], v["state"] = types.StringValue(gm.Role), types.StringValue(gm.State)
		if gm.Version != "" {
			v["version"] = types.StringValue(gm.Version)
		}
	}
	return v
}
