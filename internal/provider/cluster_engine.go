package provider

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

var (
	_ resource.ResourceWithConfigure        = &patroniClusterResource{}
	_ resource.ResourceWithModifyPlan       = &patroniClusterResource{}
	_ resource.ResourceWithImportState      = &patroniClusterResource{}
	_ resource.ResourceWithConfigValidators = &patroniClusterResource{}
	_ resource.ResourceWithConfigure        = &mysqlClusterResource{}
	_ resource.ResourceWithModifyPlan       = &mysqlClusterResource{}
	_ resource.ResourceWithImportState      = &mysqlClusterResource{}
	_ resource.ResourceWithConfigValidators = &mysqlClusterResource{}

	_ clusterEngine[patroniClusterModel, *pgcluster.Spec, *pgcluster.Observation, pgcluster.Drift, patroniRotation] = patroniEngine{}
	_ clusterEngine[mysqlClusterModel, *mysqlgr.Spec, *mysqlgr.Observation, mysqlgr.Drift, mysqlRotation]           = mysqlEngine{}
)

// NewPatroniClusterResource returns the erawan_patroni_cluster resource.
func NewPatroniClusterResource() resource.Resource {
	return &patroniClusterResource{clusterResource[patroniClusterModel, *pgcluster.Spec, *pgcluster.Observation, pgcluster.Drift, patroniRotation]{engine: patroniEngine{}}}
}

// NewMySQLClusterResource returns the erawan_mysql_cluster resource.
func NewMySQLClusterResource() resource.Resource {
	return &mysqlClusterResource{clusterResource[mysqlClusterModel, *mysqlgr.Spec, *mysqlgr.Observation, mysqlgr.Drift, mysqlRotation]{engine: mysqlEngine{}}}
}

// clusterSpec is an engine's desired cluster.
type clusterSpec[S any] interface {
	Equal(S) bool
	Secrets() []string
}

// clusterObservation is an engine's reading of the nodes.
type clusterObservation interface {
	Statuses() []topology.NodeStatus
	Reachable() int
	Gone(id string) bool
}

// rotation is what an update changes among secrets the nodes hold.
type rotation interface{ rotates() bool }

// engineInfo is what an engine fixes once: names, playbooks, defaults and
// what the shared messages say of it.
type engineInfo struct {
	kind          string // "Patroni", "MySQL": "<kind> cluster \"name\""
	keeps         string // what the state keeps after a failed create
	gone          string // how Read knows the cluster is gone
	typeSuffix    string // "_patroni_cluster"
	create        string // playbook files
	update        string
	del           string
	legacySteps   map[string]string // step names of earlier releases -> today's
	opTimeout     time.Duration     // default of the create and update timeouts
	nameRE        *regexp.Regexp    // valid cluster names
	importExample string            // an import id
	renewal       string            // how apply renews node certificates, for the plan's warning
	// tlsMove is how apply moves a running cluster without TLS to TLS, for
	// the plan's warning; "" for an engine that cannot yet (refused).
	tlsMove string
}

// clusterEngine is what one engine supplies to clusterResource.
type clusterEngine[M any, S clusterSpec[S], O clusterObservation, D driftReport, R rotation] interface {
	info() engineInfo
	base(m *M) *clusterBase
	members(s S) []topology.Member
	// certSubjects are the hosts that hold a certificate of the cluster CA:
	// the members, and for Patroni with backups the repository host (as
	// the pseudo-member pgbackrest.RepositoryCommonName).
	certSubjects(s S) []topology.Member

	// prepareCreate fills what Create generates (passwords, modes) and
	// sets the observed attributes to null.
	prepareCreate(ctx context.Context, c *clients, plan, config *M, diags *diag.Diagnostics)
	spec(ctx context.Context, m *M) (S, diag.Diagnostics)
	// job returns the variables and secrets of a playbook run: a create or
	// delete (ch nil), or an update from old (ch: the member diff).
	job(old, s S, ch *topology.Change, rot R) (runner.Job, error)

	// observe reads the nodes; refresh sets the observed attributes from a
	// Read's observation (refreshConfig: also the configuration Read
	// reports back, once the create is complete) and returns the drift;
	// setObserved does the same after an apply.
	observe(ctx context.Context, c *clients, s S, priv tlsPrivate) O
	refresh(ctx context.Context, c *clients, m *M, s S, obs O, refreshConfig bool, diags *diag.Diagnostics) D
	setObserved(ctx context.Context, m *M, s S, obs O) diag.Diagnostics

	// checkPlan adds the engine's own plan-time errors of an update.
	checkPlan(plan, state *M, diags *diag.Diagnostics)
	// checkCreate adds the engine's own checks of a create's plan against
	// the hosts: at plan time (apply false) and again in Create before any
	// node is touched (a Patroni restore's source and target).
	checkCreate(ctx context.Context, c *clients, plan *M, apply bool, diags *diag.Diagnostics)
	// fromScratch marks s as the spec of a run that builds the cluster
	// from nothing: a create, a resumed create, or the destroy of a create
	// that did not finish (a Patroni restore acts only then).
	fromScratch(s S)
	// prepareDelete readies s for its destroy: a Patroni restore's source
	// host joins it when it answers, to remove a restore server a failed
	// create left there (whether the create finished is not known here:
	// Terraform gives the destroy half of a replacement no private state).
	prepareDelete(ctx context.Context, c *clients, s S, diags *diag.Diagnostics)
	// resumeCreate checks a resumed create (completed: the steps done) as
	// checkCreate does a create, for what is still to come, and returns
	// the hosts that need a certificate although the tls step is done (a
	// Patroni restore's source host, while its restore step is not).
	resumeCreate(ctx context.Context, c *clients, plan *M, s S, completed []string, diags *diag.Diagnostics) []topology.Member
	// planSecrets marks the secrets that apply sets as unknown and reports
	// whether it changed any.
	planSecrets(plan, state, config *M, diags *diag.Diagnostics) bool
	// planObserved marks the engine's observed attributes unknown (changed)
	// or carries them over from state; members are the lifecycle's.
	planObserved(plan, state *M, changed bool)
	// resolveSecrets fills the unknown secrets of an update's plan.
	resolveSecrets(plan, state, config *M, diags *diag.Diagnostics) R
	// keepOnFailure copies into keep (the prior state) the secrets that the
	// nodes already hold after a failed update.
	keepOnFailure(keep, plan *M, completed []string, updated bool, rot R)

	importer(ctx context.Context, c *clients, name string) clusterImporter[M]

	// tls points at the model's TLS attributes; nil for an engine that has
	// no TLS yet.
	tls(m *M) *tlsAttrs
	// withCerts gives the spec the node certificates a run installs.
	withCerts(s S, certs map[string]string)
	// certExpiry is when each answering member's served certificate
	// expires, from an observation's TLS handshakes (nil without TLS).
	certExpiry(o O) map[string]time.Time
	// nodeCerts is the node certificate file each answering member holds,
	// by member name ("" for none; nil without TLS).
	nodeCerts(o O) map[string]string

	// writeOnly lists the model's secrets that may be given write-only, in
	// a fixed order (see woSecret).
	writeOnly(m *M) []woSecret
}

// clusterImporter reads one node at a time, then builds the model.
type clusterImporter[M any] interface {
	// node reads the marker (and whatever else) of the cluster on addr and
	// returns the cluster id and member name found there.
	node(ctx context.Context, addr string) (id, member string, err error)
	model(ctx context.Context, id string, nodes []topology.Member) (M, diag.Diagnostics)
}
