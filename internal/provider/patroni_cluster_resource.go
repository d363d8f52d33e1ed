package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/secrets"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// patroniClusterResource is erawan_patroni_cluster: the shared cluster
// lifecycle with the Patroni engine.
type patroniClusterResource struct {
	clusterResource[patroniClusterModel, *pgcluster.Spec, *pgcluster.Observation, pgcluster.Drift, patroniRotation]
}

// ConfigValidators refuses colliding ports and a tls block that does not hold together.
func (r *patroniClusterResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{patroniPortsValidator{}, tlsConfigValidator{}, backupConfigValidator{}, restoreConfigValidator{}}
}

// patroniEngine is what erawan_patroni_cluster adds to clusterResource.
type patroniEngine struct{}

// patroniRotation maps PostgreSQL roles to the SCRAM verifiers of their new
// passwords.
type patroniRotation map[string]string

func (r patroniRotation) rotates() bool { return len(r) > 0 }

func (patroniEngine) info() engineInfo {
	return engineInfo{kind: "Patroni", keeps: "the generated passwords", typeSuffix: "_patroni_cluster",
		create: pgcluster.PlaybookCreate, update: pgcluster.PlaybookUpdate, del: pgcluster.PlaybookDelete,
		legacySteps: pgcluster.LegacySteps, opTimeout: 30 * time.Minute, nameRE: clusterNameRE,
		importExample: "orders@10.0.0.11,10.0.0.12,10.0.0.13",
		renewal:       "one node at a time, and reloads Patroni and PostgreSQL (no restart; etcd reads its certificate on every new connection).",
		tlsMove: "moves every channel one member at a time, the leader last each time, with no PostgreSQL restart and no switchover: etcd restarts twice per member " +
			"(first serving TLS beside plaintext, then TLS only, with its leadership handed over first); Patroni restarts once per member under a short pause " +
			"(no automatic failover meanwhile) to reach etcd over TLS; PostgreSQL turns ssl on with a reload; then replication moves to verify-full, " +
			"pg_hba to hostssl and the REST API to HTTPS, with reloads. HAProxy tenants that check this cluster fail their checks from the moment " +
			"the leader's REST API serves HTTPS until they are updated with health_check_ca_pem = ca_certificate (in the same apply when they refer to it)."}
}

func (patroniEngine) base(m *patroniClusterModel) *clusterBase { return &m.clusterBase }

func (patroniEngine) writeOnly(m *patroniClusterModel) []woSecret {
	var out []woSecret
	for _, p := range m.passwords() {
		out = append(out, woSecret{attr: p.attr, value: p.value, wo: p.wo, version: p.version})
	}
	return out
}
func (patroniEngine) members(s *pgcluster.Spec) []topology.Member { return s.Nodes }

// certSubjects are the members, with backups the repository host (its
// certificate's common name is pgbackrest.RepositoryCommonName), and in a
// run that restores the source repository host (pgbackrest.RestoreCommonName).
func (patroniEngine) certSubjects(s *pgcluster.Spec) []topology.Member {
	return slices.Concat(s.Nodes, repositoryHosts(s), restoreSources(s))
}

func (patroniEngine) prepareCreate(_ context.Context, _ *clients, plan, config *patroniClusterModel, diags *diag.Diagnostics) {
	cfgPw := config.passwords()
	for i, p := range plan.passwords() {
		if p.attr == "database_password" && plan.Database.IsNull() {
			*p.value = types.StringNull()
			continue
		}
		if v := cfgPw[i].wo; !v.IsNull() && !v.IsUnknown() {
			*p.value = types.StringValue(v.ValueString())
			continue
		}
		gen, err := secrets.GeneratePassword(32)
		if err != nil {
			diags.AddError("Generating a password failed", err.Error())
			return
		}
		*p.value = types.StringValue(gen)
	}
	plan.Leader = types.StringNull()
	plan.Members = types.ListNull(types.ObjectType{AttrTypes: patroniMemberAttrTypes})
}

// spec builds the playbook spec of a fully known model.
func (patroniEngine) spec(ctx context.Context, m *patroniClusterModel) (*pgcluster.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	nodes, d := m.members(ctx)
	diags.Append(d...)
	s := &pgcluster.Spec{
		Name: m.Name.ValueString(), ID: m.ID.ValueString(), PostgresVersion: int(m.PostgresVersion.ValueInt64()),
		Nodes: nodes, PostgresPort: int(m.PostgresPort.ValueInt64()), PatroniPort: int(m.PatroniPort.ValueInt64()),
		EtcdClientPort: int(m.EtcdClientPort.ValueInt64()), EtcdPeerPort: int(m.EtcdPeerPort.ValueInt64()),
		SynchronousMode: m.SynchronousMode.ValueBool(), Parameters: map[string]string{},
		Passwords: pgcluster.Passwords{
			Superuser: m.SuperuserPassword.ValueString(), Replication: m.ReplicationPassword.ValueString(),
			Rewind: m.RewindPassword.ValueString(), RestAPI: m.RestAPIPassword.ValueString(),
		},
	}
	if !m.AllowedCIDRs.IsNull() {
		diags.Append(m.AllowedCIDRs.ElementsAs(ctx, &s.AllowedCIDRs, false)...)
	}
	if !m.Parameters.IsNull() {
		diags.Append(m.Parameters.ElementsAs(ctx, &s.Parameters, false)...)
	}
	if db := knownObject[patroniDatabaseModel](ctx, m.Database, &diags); db != nil {
		s.Database = &pgcluster.Database{Name: db.Name.ValueString(), Owner: db.Owner.ValueString(), Password: m.DatabasePassword.ValueString()}
	}
	// TLS runs once the cluster has a CA (made at create); a cluster that
	// has none runs in plaintext.
	if readTLS(ctx, m.TLS, &diags).On && !m.CACertificate.IsNull() && !m.CACertificate.IsUnknown() {
		s.TLS = &pgcluster.TLS{RequireTLS: m.RequireTLS.ValueBool(), CAPEM: m.CACertificate.ValueString()}
		// Backups run over TLS only (backupConfigValidator).
		s.Backup = readBackup(ctx, m.Backup, &diags)
		s.Restore = readRestore(ctx, m.Restore, &diags)
	}
	return s, diags
}

// job gives the Patroni playbooks their variables; an update (ch set) also
// passes the PATCH /config body and the SCRAM verifiers of rotated passwords.
func (patroniEngine) job(old, s *pgcluster.Spec, ch *topology.Change, rot patroniRotation) (runner.Job, error) {
	if ch == nil {
		old = nil
	}
	vars, err := s.Vars(old, rot)
	if err == nil {
		vars.GoneMembers = ch.GoneNames()
	}
	// The repository host: the new spec's, or the old one's in an update
	// that removes backups (its part there is torn down).
	repo := repositoryHosts(s)
	if repo == nil && old != nil {
		repo = repositoryHosts(old)
	}
	var hosts []runner.Host
	for _, h := range repo {
		hosts = append(hosts, runner.Host{Name: h.Name, Address: h.Address, Groups: []string{pgcluster.GroupRepository}})
	}
	for _, h := range restoreSources(s) {
		hosts = append(hosts, runner.Host{Name: h.Name, Address: h.Address, Groups: []string{pgcluster.GroupRestoreSource}})
	}
	return runner.Job{Vars: vars, Hosts: hosts, Secrets: append(s.Secrets(), slices.Collect(maps.Values(rot))...)}, err
}

func (patroniEngine) tls(m *patroniClusterModel) *tlsAttrs {
	return &tlsAttrs{TLS: &m.TLS, CACertificate: &m.CACertificate, ExpireAt: &m.CertificatesExpireAt}
}

func (patroniEngine) withCerts(s *pgcluster.Spec, certs map[string]string) {
	if s.TLS != nil {
		s.TLS.Certs = certs
	}
}

func (patroniEngine) certExpiry(o *pgcluster.Observation) map[string]time.Time {
	out := map[string]time.Time{}
	for _, n := range o.Nodes {
		if !n.CertExpiry.IsZero() {
			out[n.Name] = n.CertExpiry
		}
	}
	return out
}

func (patroniEngine) nodeCerts(o *pgcluster.Observation) map[string]string {
	out := map[string]string{}
	for _, n := range o.Nodes {
		if n.CertRead {
			out[n.Name] = n.CertPEM
		}
	}
	return out
}

// observe reads the nodes; with TLS, Patroni over HTTPS against the
// cluster CA and etcd with the provider's client certificate (priv).
func (patroniEngine) observe(ctx context.Context, c *clients, s *pgcluster.Spec, priv tlsPrivate) *pgcluster.Observation {
	p := pgcluster.Probe{Sudo: c.sudo(), Name: s.Name, PatroniPort: s.PatroniPort, EtcdClientPort: s.EtcdClientPort, PerHost: 10 * time.Second}
	if s.TLS != nil {
		p.TLS, p.EtcdTLS = probeTLS(s.TLS.CAPEM, priv)
	}
	return pgcluster.Observe(ctx, c.pool, p, s.Nodes)
}

func (e patroniEngine) refresh(ctx context.Context, c *clients, m *patroniClusterModel, s *pgcluster.Spec, obs *pgcluster.Observation, refreshConfig bool, diags *diag.Diagnostics) pgcluster.Drift {
	diags.Append(m.setObserved(ctx, obs, s.Nodes, refreshConfig)...)
	d := obs.Drift(s.Nodes)
	if s.Backup != nil && c != nil && obs.Reachable() > 0 {
		d.Backup = backupDrift(ctx, c, s, obs, diags)
	}
	return d
}

func (patroniEngine) setObserved(ctx context.Context, m *patroniClusterModel, s *pgcluster.Spec, obs *pgcluster.Observation) diag.Diagnostics {
	return m.setObserved(ctx, obs, s.Nodes, false)
}

// checkPlan refuses the backup changes an update cannot make yet.
func (patroniEngine) checkPlan(plan, state *patroniClusterModel, diags *diag.Diagnostics) {
	checkBackupPlan(context.Background(), plan, state, diags)
	checkRestorePlan(plan, state, diags)
}

func (patroniEngine) planSecrets(plan, state, config *patroniClusterModel, diags *diag.Diagnostics) bool {
	changed := false
	cfgPw, statePw := config.passwords(), state.passwords()
	for i, p := range plan.passwords() {
		if p.version.Equal(*statePw[i].version) || p.version.IsNull() {
			continue
		}
		if cfgPw[i].wo.IsNull() {
			diags.AddAttributeError(path.Root(p.attr+"_wo"), "Missing write-only password",
				fmt.Sprintf("%s_wo_version changed, so %s_wo must hold the new password.", p.attr, p.attr))
			continue
		}
		*p.value = types.StringUnknown()
		changed = true
	}
	// A database added now gets a generated owner password, unless it is
	// given write-only (then state holds none by design). One already there
	// without a password in state (imported) keeps the owner's own.
	return planGenerated(&plan.DatabasePassword, !plan.Database.IsNull() && state.Database.IsNull() && config.DatabasePasswordWO.IsNull()) || changed
}

func (patroniEngine) planObserved(plan, state *patroniClusterModel, changed bool) {
	plan.Leader = state.Leader
	if changed {
		plan.Leader = types.StringUnknown()
	}
}

func (patroniEngine) resolveSecrets(plan, state, config *patroniClusterModel, diags *diag.Diagnostics) patroniRotation {
	rotate := patroniRotation{}
	cfgPw, statePw := config.passwords(), state.passwords()
	for i, p := range plan.passwords() {
		switch {
		case p.value.IsUnknown() && !cfgPw[i].wo.IsNull() && !p.version.Equal(*statePw[i].version):
			*p.value = types.StringValue(cfgPw[i].wo.ValueString())
			if p.role != "" {
				v, err := secrets.ScramVerifier(p.value.ValueString())
				if err != nil {
					diags.AddError("Hashing a password failed", err.Error())
					return rotate
				}
				rotate[p.role] = v
			}
		case p.value.IsUnknown() && p.attr == "database_password":
			gen, err := secrets.GeneratePassword(32)
			if err != nil {
				diags.AddError("Generating a password failed", err.Error())
				return rotate
			}
			*p.value = types.StringValue(gen)
		case p.value.IsUnknown():
			*p.value = *statePw[i].value
		}
	}
	return rotate
}

// keepOnFailure records a new password in state only when the step that
// puts it on the nodes completed before the run failed (see
// patroniPasswordStep), so state never holds a password the cluster does not
// use; the next apply sets the others again.
func (patroniEngine) keepOnFailure(keep, plan *patroniClusterModel, completed []string, _ bool, _ patroniRotation) {
	// Backups added: once pgBackRest is configured the cluster archives to
	// it, so state says so (the next plan's drift, a stanza missing or
	// without a backup, finishes the rest). Backups removed: once their
	// servers are gone.
	if (!plan.Backup.IsNull() && slices.Contains(completed, pgcluster.StepPgBackRest)) ||
		(plan.Backup.IsNull() && slices.Contains(completed, pgcluster.StepBackupOff)) {
		keep.Backup = plan.Backup
	}
	planPw := plan.passwords()
	for i, p := range keep.passwords() {
		if slices.Contains(completed, patroniPasswordStep(p.attr)) {
			*p.value = *planPw[i].value
		}
	}
}

// patroniPasswordStep is the playbook step that applies a password
// attribute: ALTER ROLE for the PostgreSQL roles (passwords), patroni.yml
// for the REST API (converge), the owner's role for the database password
// (database).
func patroniPasswordStep(attr string) string {
	switch attr {
	case "restapi_password":
		return pgcluster.StepConverge
	case "database_password":
		return pgcluster.StepDatabase
	}
	return pgcluster.StepPasswords
}

// setObserved fills leader, members, and the live parameters and
// synchronous_mode from an observation. Parameters are refreshed only for
// the keys the configuration manages, so drift in them shows in the plan.
func (m *patroniClusterModel) setObserved(ctx context.Context, obs *pgcluster.Observation, nodes []topology.Member, refreshConfig bool) diag.Diagnostics {
	var diags diag.Diagnostics
	status := topology.ByName(obs.Nodes)
	view := obs.Cluster
	var members []attr.Value
	seen := map[string]bool{}
	add := func(name, address string, pm *patroni.Member) {
		obj, d := types.ObjectValue(patroniMemberAttrTypes, patroniMemberValue(name, address, status[name], pm))
		diags.Append(d...)
		members = append(members, obj)
		seen[name] = true
	}
	for _, n := range nodes {
		var pm *patroni.Member
		if view != nil {
			pm = view.Member(n.Name)
		}
		add(n.Name, n.Address, pm)
	}
	if view != nil {
		for i := range view.Members {
			if pm := &view.Members[i]; !seen[pm.Name] {
				add(pm.Name, pm.Host, pm)
			}
		}
		m.Leader = types.StringNull()
		if l := view.Leader(); l != nil {
			m.Leader = types.StringValue(l.Name)
		}
	} else if m.Leader.IsUnknown() {
		m.Leader = types.StringNull()
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: patroniMemberAttrTypes}, members)
	diags.Append(d...)
	m.Members = list
	if refreshConfig && obs.Parameters != nil && !m.Parameters.IsNull() {
		var want map[string]string
		diags.Append(m.Parameters.ElementsAs(ctx, &want, false)...)
		live := map[string]attr.Value{}
		for k := range want {
			if v, ok := obs.Parameters[k]; ok {
				live[k] = types.StringValue(v)
			}
		}
		mv, d := types.MapValue(types.StringType, live)
		diags.Append(d...)
		m.Parameters = mv
	}
	if refreshConfig && obs.SyncMode != nil {
		m.SynchronousMode = types.BoolValue(*obs.SyncMode)
	}
	return diags
}

// patroniMemberValue is one element of `members`: the member as Patroni's
// GET /cluster reports it (pm, nil when absent) and its node's etcd health.
func patroniMemberValue(name, address string, st pgcluster.NodeStatus, pm *patroni.Member) map[string]attr.Value {
	v := map[string]attr.Value{
		"name": types.StringValue(name), "address": types.StringValue(address),
		"role": types.StringValue(""), "state": types.StringValue("stopped"),
		"timeline": types.Int64Null(), "lag_bytes": types.Int64Null(), "etcd_state": types.StringValue(st.Etcd),
	}
	if st.Etcd == "" {
		v["etcd_state"] = types.StringValue(pgcluster.EtcdUnknown)
	}
	switch {
	case pm != nil:
		v["role"] = types.StringValue(pm.Role)
		v["state"] = types.StringValue(pm.State)
		if pm.Timeline > 0 {
			v["timeline"] = types.Int64Value(pm.Timeline)
		}
		if pm.LagBytes != nil {
			v["lag_bytes"] = types.Int64Value(*pm.LagBytes)
		}
	case st.SSHError != nil:
		v["state"] = types.StringValue("unreachable")
	}
	return v
}
