package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/nodelock"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/secrets"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// clusterResource is the lifecycle every cluster resource shares: private
// state (completed create steps, typed drift), deletion protection at plan
// time and in Delete, playbook runs and their failure diagnostics, the
// member diff, resume after a failed create, and the import header. An
// engine (patroniEngine, mysqlEngine) supplies only what differs.
//
// M is the engine's tfsdk model, S its spec, O its observation, D its
// drift and R what an update rotates.
type clusterResource[M any, S clusterSpec[S], O clusterObservation, D driftReport, R rotation] struct {
	c      *clients
	engine clusterEngine[M, S, O, D, R]
}

func (r *clusterResource[M, S, O, D, R]) object(name string) string {
	return fmt.Sprintf("%s cluster %q", r.engine.info().kind, name)
}

func (r *clusterResource[M, S, O, D, R]) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + r.engine.info().typeSuffix
}

func (r *clusterResource[M, S, O, D, R]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredClients(req.ProviderData, &resp.Diagnostics)
}

// job builds the run of playbook on the members of s: a create or delete
// (ch nil, rot zero) or an update from old with member diff ch, rotating rot.
func (r *clusterResource[M, S, O, D, R]) job(old, s S, ch *topology.Change, rot R, playbook string) (runner.Job, error) {
	job, err := r.engine.job(old, s, ch, rot)
	job.Playbook, job.Hosts = playbook, append(topology.Hosts(r.engine.members(s), ch), job.Hosts...)
	return job, err
}

// run runs one playbook job with the spec's secrets (and extra ones, such
// as the previous spec's) redacted, logging progress under the cluster name.
func (r *clusterResource[M, S, O, D, R]) run(ctx context.Context, name string, job runner.Job, err error, extraSecrets ...string) (runner.Result, error) {
	if err != nil {
		return runner.Result{}, err
	}
	if err := r.c.ansiblePreflight(ctx); err != nil {
		return runner.Result{}, err
	}
	rn := r.c.runner
	rn.OnEvent = ansibleLogger(ctx, "cluster", name)
	job.Secrets = append(job.Secrets, extraSecrets...)
	return rn.Run(ctx, job)
}

func (r *clusterResource[M, S, O, D, R]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	b := r.engine.base(&plan)
	timeout, d := b.Timeouts.Create(ctx, r.engine.info().opTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if r.engine.prepareCreate(ctx, r.c, &plan, &config, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	if r.engine.checkCreate(ctx, r.c, &plan, true, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	b.ID = types.StringValue(secrets.ClusterID(b.Name.ValueString()))
	priv := tlsPrivate{Expiry: map[string]time.Time{}}
	ca, settings := r.createCA(ctx, &plan, &config, &priv, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, d := r.engine.spec(ctx, &plan)
	if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
		return
	}
	r.engine.fromScratch(spec)
	lk := r.lock(ctx, "create", b, spec, spec, false, &resp.Diagnostics)
	if lk == nil {
		return
	}
	defer unlock(ctx, lk, r.object(b.Name.ValueString()), &resp.Diagnostics)
	if ca != nil {
		if !r.issue(ctx, ca, b.ID.ValueString(), spec, r.engine.certSubjects(spec), settings, &priv, &resp.Diagnostics) {
			return
		}
		*r.engine.tls(&plan).ExpireAt = priv.earliest(r.engine.certSubjects(spec))
		resp.Diagnostics.Append(writeTLSPrivate(ctx, resp.Private, priv)...)
	}
	job, err := r.job(spec, spec, nil, *new(R), r.engine.info().create)
	res, err := r.run(ctx, b.Name.ValueString(), job, err)
	resp.Diagnostics.Append(writeProgress(ctx, resp.Private, createProgress{Completed: res.Completed, Done: err == nil})...)
	if err != nil {
		// Keep the generated secrets and the completed steps: the resource
		// is tainted; `terraform untaint` + apply resumes at the failed step.
		stripWriteOnly(r.engine.writeOnly(&plan), r.engine.writeOnly(&config))
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		runFailure(&resp.Diagnostics, "Create", r.object(b.Name.ValueString()), err)
		resp.Diagnostics.AddWarning("The cluster is partly built",
			fmt.Sprintf("Completed steps: %v. The state keeps %s. Run `terraform untaint <address>` and `terraform apply` to resume at the failed step, or plain `terraform apply` to replace the cluster.",
				res.Completed, r.engine.info().keeps))
		return
	}
	r.finish(ctx, &plan, spec, priv, &resp.Diagnostics, resp.Private)
	r.saveWriteOnly(ctx, &plan, &config, &resp.Diagnostics, resp.Private)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// createCA makes or loads the CA of a create with TLS on, records its
// certificate in plan's ca_certificate and, for a CA made here, its key in
// priv; it returns nil (and sets the TLS outputs null) with TLS off or for
// an engine without TLS.
func (r *clusterResource[M, S, O, D, R]) createCA(ctx context.Context, plan, config *M, priv *tlsPrivate, diags *diag.Diagnostics) (*pki.CA, tlsSettings) {
	ta := r.engine.tls(plan)
	if ta == nil {
		return nil, tlsSettings{}
	}
	s := readTLS(ctx, *ta.TLS, diags)
	s.UserCAKey = readTLS(ctx, *r.engine.tls(config).TLS, diags).UserCAKey
	if !s.On {
		ta.setNull()
		return nil, s
	}
	ca, err := newCA(r.engine.base(plan).Name.ValueString(), s, priv, time.Now())
	if err != nil {
		diags.AddAttributeError(path.Root("tls"), "The cluster CA is unusable", err.Error())
		return nil, s
	}
	*ta.CACertificate = types.StringValue(ca.CertPEM)
	return ca, s
}

// issue makes node certificates for members (requests on the nodes, signed
// by ca) and gives them to spec; false after an error naming the hosts.
func (r *clusterResource[M, S, O, D, R]) issue(ctx context.Context, ca *pki.CA, id string, spec S, members []topology.Member, s tlsSettings, priv *tlsPrivate, diags *diag.Diagnostics) bool {
	if len(members) == 0 {
		return true
	}
	certs, err := r.c.issueCertificates(ctx, ca, id, members, s.Validity, priv, time.Now())
	if err != nil {
		diags.AddError("Issuing node certificates failed", err.Error()+"\n\nNo certificate was installed; apply again once the hosts answer.")
		return false
	}
	r.engine.withCerts(spec, certs)
	return true
}

// tlsStep is the create step that installs the node certificates.
const tlsStep = "tls"

// issueUpdate issues certificates for members (new ones, or all of a
// resumed create whose tls step did not complete) with the CA in plan, when
// the cluster has TLS, and records them in priv, the plan's
// certificates_expire_at and private state; false after an error.
func (r *clusterResource[M, S, O, D, R]) issueUpdate(ctx context.Context, plan, config *M, spec S, members []topology.Member, priv *tlsPrivate, diags *diag.Diagnostics, p privateSetter) bool {
	ta := r.engine.tls(plan)
	if ta == nil || len(members) == 0 || ta.CACertificate.IsNull() || ta.CACertificate.IsUnknown() {
		return true
	}
	s := readTLS(ctx, *ta.TLS, diags)
	if !s.On {
		return true
	}
	s.UserCAKey = readTLS(ctx, *r.engine.tls(config).TLS, diags).UserCAKey
	now := time.Now()
	ca, err := signingCA(ta.CACertificate.ValueString(), s, *priv, now)
	if err != nil {
		diags.AddAttributeError(path.Root("tls"), "No CA to sign the new members' certificates", err.Error())
		return false
	}
	if priv.ClientCert == "" && priv.CAKey != "" {
		if err := clientCertificate(ca, priv, now); err != nil {
			diags.AddError("Issuing the provider's client certificate failed", err.Error())
			return false
		}
	}
	if !r.issue(ctx, ca, r.engine.base(plan).ID.ValueString(), spec, members, s, priv, diags) {
		return false
	}
	for _, m := range members {
		delete(priv.Broken, m.Name)
	}
	*ta.ExpireAt = priv.earliest(r.engine.certSubjects(spec))
	diags.Append(writeTLSPrivate(ctx, p, *priv)...)
	return true
}

// renewals lists the members of plan whose node certificates expire within
// tls.renew_before_days of now, by the expiries in priv (recorded at issue
// and from each Read's TLS handshakes). Members without a known expiry
// (new ones) are not listed.
func (r *clusterResource[M, S, O, D, R]) renewals(ctx context.Context, plan *M, subjects []topology.Member, priv tlsPrivate, now time.Time, diags *diag.Diagnostics) []topology.Member {
	ta := r.engine.tls(plan)
	if ta == nil || ta.CACertificate.IsNull() || ta.CACertificate.IsUnknown() || ta.TLS.IsUnknown() {
		return nil
	}
	s := readTLS(ctx, *ta.TLS, diags)
	if !s.On {
		return nil
	}
	if caEnd, expiring := caExpiring(ta.CACertificate.ValueString(), s.RenewBefore, now); expiring {
		// A certificate signed now would expire with the CA, so due at once:
		// renewing cannot help, and would repeat on every apply.
		diags.AddAttributeWarning(path.Root("ca_certificate"), "The cluster CA expires within the renewal window",
			fmt.Sprintf("The CA of %s expires at %s, within tls.renew_before_days: node certificates cannot outlive it, so they are not renewed. "+
				"Replacing the CA in place is not built yet; lower renew_before_days to silence this, and plan a new cluster or CA before that date.",
				r.object(r.engine.base(plan).Name.ValueString()), caEnd.UTC().Format(time.RFC3339)))
		return nil
	}
	return dueForRenewal(subjects, priv, s.RenewBefore, now)
}

// saveWriteOnly keeps the write-only secrets of a successful apply out of
// the model about to be saved, recording their hashes in private state.
func (r *clusterResource[M, S, O, D, R]) saveWriteOnly(ctx context.Context, m, config *M, diags *diag.Diagnostics, p privateSetter) {
	stripWriteOnly(r.engine.writeOnly(m), r.engine.writeOnly(config))
	diags.Append(recordWriteOnly(ctx, p, r.engine.writeOnly(config))...)
}

// finish records what a successful apply left: the observed attributes and
// no drift.
func (r *clusterResource[M, S, O, D, R]) finish(ctx context.Context, m *M, spec S, priv tlsPrivate, diags *diag.Diagnostics, p privateSetter) {
	diags.Append(r.engine.setObserved(ctx, m, spec, r.engine.observe(ctx, r.c, spec, priv))...)
	var none D
	diags.Append(writeDrift(ctx, p, none)...)
}

func (r *clusterResource[M, S, O, D, R]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, d := r.engine.spec(ctx, &state)
	if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
		return
	}
	name := r.engine.base(&state).Name.ValueString()
	progress := readProgress(ctx, req.Private, r.engine.info().legacySteps)
	obs := r.engine.observe(ctx, r.c, spec, readTLSPrivate(ctx, req.Private))
	if hostKeyFailures(obs.Statuses(), r.object(name), &resp.Diagnostics) {
		return
	}
	for _, s := range obs.Statuses() {
		if !s.Reached() {
			resp.Diagnostics.AddWarning(fmt.Sprintf("Node %s (%s) is unreachable", s.Name, s.Address),
				fmt.Sprintf("Reading %s: %v. The last known state is kept for this node.", r.object(name), s.SSHError))
		}
	}
	if obs.Reachable() == 0 {
		return
	}
	if obs.Gone(r.engine.base(&state).ID.ValueString()) && progress.Done {
		resp.Diagnostics.AddWarning(fmt.Sprintf("%s is gone", r.object(name)),
			"Every node answered and none holds the cluster any more"+r.engine.info().gone+", so it was removed from state; the next apply creates it again.")
		resp.State.RemoveResource(ctx)
		return
	}
	drift := r.engine.refresh(ctx, r.c, &state, spec, obs, progress.Done, &resp.Diagnostics)
	resp.Diagnostics.Append(writeDrift(ctx, resp.Private, drift)...)
	if ta := r.engine.tls(&state); ta != nil && !ta.CACertificate.IsNull() {
		// The certificates the nodes serve, as their TLS handshakes showed.
		priv := readTLSPrivate(ctx, req.Private)
		for name, at := range r.engine.certExpiry(obs) {
			priv.Expiry[name] = at
		}
		s := readTLS(ctx, *ta.TLS, &resp.Diagnostics)
		priv.Broken = certDrift(ta.CACertificate.ValueString(), r.engine.members(spec), r.engine.nodeCerts(obs), s.RenewBefore, time.Now())
		*ta.ExpireAt = priv.earliest(r.engine.certSubjects(spec))
		resp.Diagnostics.Append(writeTLSPrivate(ctx, resp.Private, priv)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// planObserved makes the observed attributes unknown when apply runs a
// playbook (changed), which may move the leader or the members, and keeps
// them from state otherwise.
func (r *clusterResource[M, S, O, D, R]) planObserved(ctx context.Context, plan, state *M, changed bool) {
	pb, sb := r.engine.base(plan), r.engine.base(state)
	pb.Members = sb.Members
	if changed {
		pb.Members = types.ListUnknown(sb.Members.ElementType(ctx))
	}
	r.engine.planObserved(plan, state, changed)
}

// planGenerated marks a secret unknown when apply generates it (when), and
// reports whether it did.
func planGenerated(v *types.String, when bool) bool {
	if when {
		*v = types.StringUnknown()
	}
	return when
}

// protected reports whether deletion protection applies: it is on and the
// create completed (a failed create can always be replaced).
func (r *clusterResource[M, S, O, D, R]) protected(b *clusterBase, progress createProgress) bool {
	return b.DeletionProtection.ValueBool() && progress.Done
}

func (r *clusterResource[M, S, O, D, R]) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		r.planCreate(ctx, req, resp)
		return
	}
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	sb := r.engine.base(&state)
	progress := readProgress(ctx, req.Private, r.engine.info().legacySteps)
	if req.Plan.Raw.IsNull() {
		if r.protected(sb, progress) {
			resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
				fmt.Sprintf("%s has deletion_protection = true, so it cannot be destroyed. Set deletion_protection = false and apply first.", r.object(sb.Name.ValueString())))
		}
		return
	}
	var plan, config M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if len(resp.RequiresReplace) > 0 {
		if r.protected(sb, progress) {
			resp.Diagnostics.AddError("Deletion protection is on",
				fmt.Sprintf("This change replaces %s (%v), which destroys it and its data. Set deletion_protection = false and apply first if that is what you want.",
					r.object(sb.Name.ValueString()), resp.RequiresReplace))
		}
		return
	}
	pb := r.engine.base(&plan)
	if r.engine.checkPlan(&plan, &state, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	if refuseMemberMoves(ctx, sb.Nodes, pb.Nodes, &resp.Diagnostics) || refuseRenames(ctx, sb.Nodes, pb.Nodes, &resp.Diagnostics) ||
		r.refuseTLSChange(ctx, &plan, &state, progress, &resp.Diagnostics) {
		return
	}
	changed := r.engine.planSecrets(&plan, &state, &config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// Secrets given write-only stay null in plan and state, and must stay
	// in the configuration.
	if refuseDroppedWriteOnly(ctx, req.Private, r.engine.writeOnly(&state), r.engine.writeOnly(&config), &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	stripWriteOnly(r.engine.writeOnly(&plan), r.engine.writeOnly(&config))
	warnWriteOnlyNotApplied(r.engine.writeOnly(&plan), r.engine.writeOnly(&config), &resp.Diagnostics)
	warnWriteOnlyChanged(ctx, req.Private, r.engine.writeOnly(&plan), r.engine.writeOnly(&state), r.engine.writeOnly(&config), &resp.Diagnostics)
	if !changed {
		// Any change the playbook acts on may move the leader or the members.
		ps, d1 := r.engine.spec(ctx, &plan)
		ss, d2 := r.engine.spec(ctx, &state)
		changed = d1.HasError() || d2.HasError() || !ps.Equal(ss)
	}
	var drift []string
	if !progress.Done {
		drift = append(drift, fmt.Sprintf("the create stopped after steps %v; apply resumes it", progress.Completed))
	}
	if nodes, d := pb.members(ctx); !d.HasError() && !pb.Nodes.IsUnknown() {
		if stateNodes, _ := sb.members(ctx); slices.Equal(nodes, stateNodes) {
			drift = append(drift, readDrift[D](ctx, req.Private).Sentences()...)
			drift = append(drift, brokenSentences(readTLSPrivate(ctx, req.Private), nodes)...)
		}
	}
	if len(drift) > 0 {
		resp.Diagnostics.AddWarning(fmt.Sprintf("%s has drifted", r.object(sb.Name.ValueString())),
			"terraform apply will repair:\n- "+strings.Join(drift, "\n- "))
		changed = true
	}
	var subjects []topology.Member
	if _, d := pb.members(ctx); !d.HasError() && !pb.Nodes.IsUnknown() {
		if ps, d := r.engine.spec(ctx, &plan); !d.HasError() {
			subjects = r.engine.certSubjects(ps)
		}
	}
	if due := r.renewals(ctx, &plan, subjects, readTLSPrivate(ctx, req.Private), time.Now(), &resp.Diagnostics); len(due) > 0 {
		var list []string
		for _, m := range due {
			list = append(list, fmt.Sprintf("%s (expires %s)", m.Name, readTLSPrivate(ctx, req.Private).Expiry[m.Name].UTC().Format(time.RFC3339)))
		}
		resp.Diagnostics.AddWarning(fmt.Sprintf("Node certificates of %s are due for renewal", r.object(pb.Name.ValueString())),
			fmt.Sprintf("%s: within tls.renew_before_days of expiry. terraform apply issues new certificates in place (each key made on its node), %s",
				strings.Join(list, ", "), r.engine.info().renewal))
		changed = true
	}
	if r.tlsMoving(ctx, &plan, &state, progress, &resp.Diagnostics) {
		nodes, d := pb.members(ctx)
		if stateNodes, _ := sb.members(ctx); pb.Nodes.IsUnknown() || d.HasError() || !slices.Equal(nodes, stateNodes) {
			resp.Diagnostics.AddAttributeError(path.Root("nodes"), "Move to TLS first, then change the nodes",
				fmt.Sprintf("%s moves to TLS in place in this plan, which acts on the members it has now. Keep nodes as they are for this apply, and change them in the next one.",
					r.object(pb.Name.ValueString())))
			return
		}
		ta := r.engine.tls(&plan)
		*ta.CACertificate, *ta.ExpireAt = types.StringUnknown(), types.StringUnknown()
		resp.Diagnostics.AddWarning(fmt.Sprintf("%s moves to TLS in place", r.object(pb.Name.ValueString())),
			"terraform apply makes the cluster CA (or uses yours), issues a certificate for every member (each key made on its node), and then "+r.engine.info().tlsMove)
		changed = true
	}
	r.planObserved(ctx, &plan, &state, changed)
	if ta := r.engine.tls(&plan); ta != nil && changed && !ta.CACertificate.IsNull() {
		// A run may issue certificates (new members, a resumed create).
		*ta.ExpireAt = types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// tlsMoving reports whether an update moves a running cluster without TLS
// (state has no CA) to TLS (plan turns it on), for an engine that can.
func (r *clusterResource[M, S, O, D, R]) tlsMoving(ctx context.Context, plan, state *M, progress createProgress, diags *diag.Diagnostics) bool {
	pt, st := r.engine.tls(plan), r.engine.tls(state)
	if pt == nil || r.engine.info().tlsMove == "" || !progress.Done || !st.CACertificate.IsNull() || pt.TLS.IsUnknown() {
		return false
	}
	return readTLS(ctx, *pt.TLS, diags).On
}

// refuseTLSChange refuses, at plan time, TLS changes that apply cannot make
// in place yet: turning TLS on for a cluster that runs without it, turning
// it off, or changing the CA. It reports whether it refused.
func (r *clusterResource[M, S, O, D, R]) refuseTLSChange(ctx context.Context, plan, state *M, progress createProgress, diags *diag.Diagnostics) bool {
	pt, st := r.engine.tls(plan), r.engine.tls(state)
	if pt == nil {
		return false
	}
	want, was := readTLS(ctx, *pt.TLS, diags), readTLS(ctx, *st.TLS, diags)
	has := !st.CACertificate.IsNull()
	name := r.object(r.engine.base(state).Name.ValueString())
	switch {
	case want.On && !has && progress.Done && r.engine.info().tlsMove != "":
		return false // moved in place (tlsMoving)
	case want.On && !has && progress.Done:
		diags.AddAttributeError(path.Root("tls"), "Moving a cluster to TLS in place is not built yet",
			fmt.Sprintf("%s runs without TLS (it was created before TLS existed, or with tls.enabled = false), and the in-place move to TLS is not built yet. "+
				"Set tls = { enabled = false } to keep it as it is for now; new clusters get TLS by default.", name))
	case !want.On && has:
		diags.AddAttributeError(path.Root("tls").AtName("enabled"), "Turning TLS off is refused",
			fmt.Sprintf("%s runs with TLS. Turning it off in place would put passwords and the cluster's control traffic on the network in the clear; it is not supported.", name))
	case has && ((want.UserCA != "" && !sameCertificate(want.UserCA, st.CACertificate.ValueString())) || (want.UserCA == "" && was.UserCA != "")):
		diags.AddAttributeError(path.Root("tls").AtName("ca_certificate_pem"), "Changing the CA in place is not built yet",
			fmt.Sprintf("%s's node certificates are signed by the CA in ca_certificate. Replacing that CA in place (a rotation every member must trust during the move) is not built yet; give the CA in use (ca_certificate) as ca_certificate_pem, or keep it as it was.", name))
	default:
		return false
	}
	return true
}

// planCreate shows the secrets given write-only as null in a create's plan:
// apply uses them and state never holds them.
func (r *clusterResource[M, S, O, D, R]) planCreate(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, config M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	stripWriteOnly(r.engine.writeOnly(&plan), r.engine.writeOnly(&config))
	if ta := r.engine.tls(&plan); ta != nil && !readTLS(ctx, *ta.TLS, &resp.Diagnostics).On {
		ta.setNull()
	}
	if r.engine.checkCreate(ctx, r.c, &plan, false, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *clusterResource[M, S, O, D, R]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	pb := r.engine.base(&plan)
	timeout, d := pb.Timeouts.Update(ctx, r.engine.info().opTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	pb.ID = r.engine.base(&state).ID
	fillWriteOnlyState(r.engine.writeOnly(&state), r.engine.writeOnly(&config))
	resolveWriteOnlyPlan(r.engine.writeOnly(&plan), r.engine.writeOnly(&state), r.engine.writeOnly(&config))
	rot := r.engine.resolveSecrets(&plan, &state, &config, &resp.Diagnostics)
	newSpec, d := r.engine.spec(ctx, &plan)
	resp.Diagnostics.Append(d...)
	oldSpec, d := r.engine.spec(ctx, &state)
	if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
		return
	}
	progress := readProgress(ctx, req.Private, r.engine.info().legacySteps)
	priv := readTLSPrivate(ctx, req.Private)
	moving := r.tlsMoving(ctx, &plan, &state, progress, &resp.Diagnostics)
	if moving {
		// The CA of a move, as at create (every member gets a certificate),
		// or the one an earlier attempt of this move made: members it
		// already restarted trust that CA alone.
		prev := priv
		priv = tlsPrivate{Expiry: map[string]time.Time{}}
		ta := r.engine.tls(&plan)
		if _, err := pki.LoadCA(prev.MoveCA, prev.CAKey, time.Now()); err == nil && prev.MoveCA != "" && readTLS(ctx, *ta.TLS, &resp.Diagnostics).UserCA == "" {
			priv.CAKey, priv.ClientCert, priv.ClientKey = prev.CAKey, prev.ClientCert, prev.ClientKey
			*ta.CACertificate = types.StringValue(prev.MoveCA)
		} else if r.createCA(ctx, &plan, &config, &priv, &resp.Diagnostics); resp.Diagnostics.HasError() {
			return
		}
		priv.MoveCA = ta.CACertificate.ValueString()
		newSpec, d = r.engine.spec(ctx, &plan)
		if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
			return
		}
	}
	due := r.renewals(ctx, &plan, r.engine.certSubjects(newSpec), priv, time.Now(), &resp.Diagnostics)
	for _, m := range r.engine.certSubjects(newSpec) {
		if _, broken := priv.Broken[m.Name]; broken && !slices.ContainsFunc(due, func(d topology.Member) bool { return d.Name == m.Name }) {
			due = append(due, m) // a broken certificate is replaced like a due one
		}
	}
	if progress.Done && !rot.rotates() && readDrift[D](ctx, req.Private).Empty() && oldSpec.Equal(newSpec) && len(due) == 0 {
		// Only Terraform-side settings changed (deletion_protection, timeouts,
		// wo_version without a new value): nothing to do on the nodes.
		r.planObserved(ctx, &plan, &state, false)
		if ta := r.engine.tls(&plan); ta != nil && ta.ExpireAt.IsUnknown() {
			*ta.ExpireAt = *r.engine.tls(&state).ExpireAt
		}
		r.saveWriteOnly(ctx, &plan, &config, &resp.Diagnostics, resp.Private)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	lk := r.lock(ctx, "update", pb, oldSpec, newSpec, true, &resp.Diagnostics)
	if lk == nil {
		return
	}
	defer unlock(ctx, lk, r.object(pb.Name.ValueString()), &resp.Diagnostics)
	var res runner.Result
	var err error
	updated := progress.Done
	if !progress.Done {
		r.engine.fromScratch(newSpec)
		issue := r.engine.resumeCreate(ctx, r.c, &plan, newSpec, progress.Completed, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		if !slices.Contains(progress.Completed, tlsStep) {
			issue = r.engine.certSubjects(newSpec)
		}
		if !r.issueUpdate(ctx, &plan, &config, newSpec, issue, &priv, &resp.Diagnostics, resp.Private) {
			return
		}
		job, jerr := r.job(newSpec, newSpec, nil, *new(R), r.engine.info().create)
		job.SkipSteps = progress.Completed
		res, err = r.run(ctx, pb.Name.ValueString(), job, jerr, oldSpec.Secrets()...)
		for _, s := range res.Completed {
			if !slices.Contains(progress.Completed, s) {
				progress.Completed = append(progress.Completed, s)
			}
		}
		progress.Done = err == nil
		resp.Diagnostics.Append(writeProgress(ctx, resp.Private, progress)...)
	} else {
		ch := topology.Diff(r.engine.members(oldSpec), r.engine.members(newSpec))
		if len(ch.Removed) > 0 {
			statuses := r.engine.observe(ctx, r.c, oldSpec, priv).Statuses()
			if hostKeyFailures(statuses, r.object(pb.Name.ValueString()), &resp.Diagnostics) {
				return
			}
			ch.Gone = r.gone(statuses, ch.Removed, &resp.Diagnostics)
			owned := r.fence(statuses, pb.ID.ValueString(), "remove", &resp.Diagnostics)
			ch.Removed = slices.DeleteFunc(ch.Removed, func(m topology.Member) bool {
				return !owned[m.Name] || slices.ContainsFunc(ch.Gone, func(g topology.Member) bool { return g.Name == m.Name })
			})
		}
		// New members (and a new repository host), and members whose
		// certificates are due for renewal.
		var issue []topology.Member
		oldSubjects := r.engine.certSubjects(oldSpec)
		for _, m := range r.engine.certSubjects(newSpec) {
			if moving || !slices.Contains(oldSubjects, m) || slices.ContainsFunc(due, func(d topology.Member) bool { return d.Name == m.Name }) {
				issue = append(issue, m)
			}
		}
		if !r.issueUpdate(ctx, &plan, &config, newSpec, issue, &priv, &resp.Diagnostics, resp.Private) {
			return
		}
		job, jerr := r.job(oldSpec, newSpec, &ch, rot, r.engine.info().update)
		res, err = r.run(ctx, pb.Name.ValueString(), job, jerr, oldSpec.Secrets()...)
	}
	if err != nil {
		keep := state
		r.engine.keepOnFailure(&keep, &plan, res.Completed, updated, rot)
		stripWriteOnly(r.engine.writeOnly(&keep), r.engine.writeOnly(&config))
		resp.Diagnostics.Append(resp.State.Set(ctx, &keep)...)
		runFailure(&resp.Diagnostics, "Update", r.object(pb.Name.ValueString()), err)
		return
	}
	if ta := r.engine.tls(&plan); ta != nil && ta.ExpireAt.IsUnknown() {
		*ta.ExpireAt = priv.earliest(r.engine.certSubjects(newSpec))
		if ta.CACertificate.IsNull() {
			*ta.ExpireAt = types.StringNull()
		}
	}
	r.finish(ctx, &plan, newSpec, priv, &resp.Diagnostics, resp.Private)
	r.saveWriteOnly(ctx, &plan, &config, &resp.Diagnostics, resp.Private)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *clusterResource[M, S, O, D, R]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	b := r.engine.base(&state)
	progress := readProgress(ctx, req.Private, r.engine.info().legacySteps)
	if r.protected(b, progress) {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deletion protection is on",
			fmt.Sprintf("%s has deletion_protection = true. Set it to false and apply before destroying.", r.object(b.Name.ValueString())))
		return
	}
	if !progress.Done && !slices.Contains(progress.Completed, preflightStep) {
		// Preflight refused the nodes (or never ran): nothing here is this
		// resource's, whatever shares its name.
		resp.Diagnostics.AddWarning(fmt.Sprintf("%s: nothing to tear down", r.object(b.Name.ValueString())),
			"Its create stopped before the preflight step completed, so it never changed a node. Destroy forgets it and touches no node.")
		return
	}
	timeout, d := b.Timeouts.Delete(ctx, 15*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spec, d := r.engine.spec(ctx, &state)
	if resp.Diagnostics.Append(d...); resp.Diagnostics.HasError() {
		return
	}
	r.engine.prepareDelete(ctx, r.c, spec, &resp.Diagnostics)
	lk := r.lock(ctx, "delete", b, spec, spec, true, &resp.Diagnostics)
	if lk == nil {
		return
	}
	defer unlock(ctx, lk, r.object(b.Name.ValueString()), &resp.Diagnostics)
	statuses := r.engine.observe(ctx, r.c, spec, readTLSPrivate(ctx, req.Private)).Statuses()
	if hostKeyFailures(statuses, r.object(b.Name.ValueString()), &resp.Diagnostics) {
		return
	}
	owned := r.fence(statuses, b.ID.ValueString(), "tear down", &resp.Diagnostics)
	job, err := r.job(spec, spec, nil, *new(R), r.engine.info().del)
	// Members that hold another resource's marker are left alone. Hosts
	// that are not members (a Patroni repository host) stay: the playbook
	// fences them on their own marker.
	members := r.engine.members(spec)
	isMember := func(name string) bool {
		return slices.ContainsFunc(members, func(m topology.Member) bool { return m.Name == name })
	}
	job.Hosts = slices.DeleteFunc(job.Hosts, func(h runner.Host) bool { return isMember(h.Name) && !owned[h.Name] })
	if len(job.Hosts) == 0 {
		return // no node holds this resource's marker: nothing of it is left
	}
	if _, err := r.run(ctx, b.Name.ValueString(), job, err); err != nil {
		runFailure(&resp.Diagnostics, "Delete", r.object(b.Name.ValueString()), err)
	}
}

// lock takes this cluster's lock on the nodes of old and s for operation
// of resource id (see clients.lockNodes). The key is the engine and the
// name, not the id, so two states holding clusters of one name exclude each
// other too; Patroni and MySQL keys never meet.
func (r *clusterResource[M, S, O, D, R]) lock(ctx context.Context, operation string, b *clusterBase, old, s S, skipUnreachable bool, diags *diag.Diagnostics) *nodelock.Lock {
	var hosts []string
	for _, m := range append(slices.Clone(r.engine.members(old)), r.engine.members(s)...) {
		hosts = append(hosts, m.Address)
	}
	name := b.Name.ValueString()
	key := strings.ToLower(r.engine.info().kind) + "-" + name
	return r.c.lockNodes(ctx, key, hosts, operation, b.ID.ValueString(), r.object(name), skipUnreachable, diags)
}

// gone picks, among the members to remove, those whose hosts did not
// answer: a host gone for good. They are removed through the members that
// stay and nothing is attempted on them, with a warning.
func (r *clusterResource[M, S, O, D, R]) gone(statuses []topology.NodeStatus, removed []topology.Member, diags *diag.Diagnostics) []topology.Member {
	status := topology.ByName(statuses)
	var out []topology.Member
	for _, m := range removed {
		if s, ok := status[m.Name]; ok && !s.Reached() {
			out = append(out, m)
			diags.AddWarning(fmt.Sprintf("Member %s (%s) was removed without its host", m.Name, m.Address),
				fmt.Sprintf("Its host did not answer (%v), so it was removed through the members that stay (%s membership and the cluster's view no longer list it) and nothing was attempted on it. "+
					"If the host comes back, its services for this cluster still run there: stop them, or destroy its files by hand.", s.SSHError, r.engine.info().kind))
		}
	}
	return out
}

// preflightStep is the first step of every engine's create playbook (the
// contract test checks it); a create that never completed it changed no node.
const preflightStep = "preflight"

// fence decides, from the nodes' markers, which members a destructive step
// (what, for the warning) may act on: those whose marker holds resource id,
// and unreachable ones, where the playbook's own fence decides (and the run
// fails as unreachable). A member whose marker holds another resource's id
// is left alone with a warning naming the host and that id; one with no
// marker holds nothing of this resource.
func (r *clusterResource[M, S, O, D, R]) fence(statuses []topology.NodeStatus, id, what string, diags *diag.Diagnostics) map[string]bool {
	owned := map[string]bool{}
	for _, s := range statuses {
		switch {
		case !s.Reached() || !s.OwnerKnown || s.Owns(id):
			owned[s.Name] = true
		case s.Foreign(id):
			diags.AddWarning(fmt.Sprintf("%s (%s) is not this resource's", s.Name, s.Address),
				fmt.Sprintf("Its marker holds resource id %s, not %s, so apply did not %s anything there.", s.Owner, id, what))
		}
	}
	return owned
}

// hostKeyFailures adds an error for every node whose SSH host key could not
// be verified (a changed key, a host missing from known_hosts under strict,
// an unreadable known_hosts) and reports whether there was any. Such a node
// is never taken for unreachable: whoever answers at its address is not the
// host known_hosts records, so nothing may be decided from it.
func hostKeyFailures(statuses []topology.NodeStatus, object string, diags *diag.Diagnostics) bool {
	failed := false
	for _, s := range statuses {
		if s.SSHError != nil && sshclient.IsHostKeyError(s.SSHError) {
			failed = true
			diags.AddError(fmt.Sprintf("%s: the host key of %s (%s) could not be verified", object, s.Name, s.Address),
				s.SSHError.Error()+"\n\nNothing was read or changed on the cluster's nodes.")
		}
	}
	return failed
}
