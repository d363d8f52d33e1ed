package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Defaults of the `tls` block.
const (
	defaultValidityDays    = 365
	defaultRenewBeforeDays = 30
	// tlsPrivateKey is the private-state key of tlsPrivate.
	tlsPrivateKey = "tls"
	// probeClientName is the common name of the provider's own client
	// certificate, which its etcd health probe presents.
	probeClientName = "erawan-provider"
)

// tlsModel is the `tls` block of a cluster resource. Null means the
// defaults: TLS on, a CA the provider makes, 365-day node certificates
// renewed 30 days before expiry.
type tlsModel struct {
	Enabled           types.Bool   `tfsdk:"enabled"`
	CACertificatePEM  types.String `tfsdk:"ca_certificate_pem"`
	CAPrivateKeyPEMWO types.String `tfsdk:"ca_private_key_pem_wo"`
	ValidityDays      types.Int64  `tfsdk:"validity_days"`
	RenewBeforeDays   types.Int64  `tfsdk:"renew_before_days"`
}

// tlsAttrs points at a cluster model's TLS attributes.
type tlsAttrs struct {
	TLS           *types.Object // `tls`
	CACertificate *types.String // `ca_certificate` (computed)
	ExpireAt      *types.String // `certificates_expire_at` (computed)
}

// tlsSettings is the `tls` block resolved with its defaults.
type tlsSettings struct {
	On          bool
	UserCA      string       // ca_certificate_pem; "" when the provider makes the CA
	UserCAKey   types.String // ca_private_key_pem_wo, from the configuration only
	Validity    time.Duration
	RenewBefore time.Duration
}

func days(n int64) time.Duration { return time.Duration(n) * 24 * time.Hour }

// readTLS resolves a `tls` value (null: the defaults).
func readTLS(ctx context.Context, o types.Object, diags *diag.Diagnostics) tlsSettings {
	s := tlsSettings{On: true, Validity: days(defaultValidityDays), RenewBefore: days(defaultRenewBeforeDays), UserCAKey: types.StringNull()}
	t := knownObject[tlsModel](ctx, o, diags)
	if t == nil {
		return s
	}
	if !t.Enabled.IsNull() && !t.Enabled.IsUnknown() {
		s.On = t.Enabled.ValueBool()
	}
	s.UserCA = t.CACertificatePEM.ValueString()
	s.UserCAKey = t.CAPrivateKeyPEMWO
	if !t.ValidityDays.IsNull() && !t.ValidityDays.IsUnknown() {
		s.Validity = days(t.ValidityDays.ValueInt64())
	}
	if !t.RenewBeforeDays.IsNull() && !t.RenewBeforeDays.IsUnknown() {
		s.RenewBefore = days(t.RenewBeforeDays.ValueInt64())
	}
	return s
}

var tlsAttrTypes = map[string]attr.Type{
	"enabled": types.BoolType, "ca_certificate_pem": types.StringType, "ca_private_key_pem_wo": types.StringType,
	"validity_days": types.Int64Type, "renew_before_days": types.Int64Type,
}

// tlsDoc is what an engine's `tls` descriptions say of it.
type tlsDoc struct {
	channels  string // the channels TLS covers
	plaintext string // what `enabled = false` exposes
	clients   string // where clients put ca_certificate
	change    string // what changing `enabled` on an existing cluster does
}

// tlsSchema returns the `tls` block and the computed `ca_certificate` and
// `certificates_expire_at` of a cluster resource, described for one engine.
func tlsSchema(d tlsDoc) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"tls": schema.SingleNestedAttribute{Optional: true,
			MarkdownDescription: "TLS of the cluster's channels: " + d.channels + ". Omitted, TLS is on with a CA the provider makes for this cluster " +
				"and 365-day node certificates renewed 30 days before they expire. Each node's private key is made on the node (`openssl`) and never leaves it; " +
				"the provider signs the node's certificate request. See the resource's Security model section.",
			Attributes: map[string]schema.Attribute{
				"enabled": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
					MarkdownDescription: "Default `true`. `false` runs without the cluster CA: " + d.plaintext + " Unsafe outside a lab. " + d.change},
				"ca_certificate_pem": schema.StringAttribute{Optional: true,
					Validators:          []validator.String{caCertificateValidator{}},
					MarkdownDescription: "Your own CA certificate (PEM), which then signs the node certificates; needs `ca_private_key_pem_wo`. Omitted, the provider makes an ECDSA P-256 CA valid for 10 years."},
				"ca_private_key_pem_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
					MarkdownDescription: "Write-only (Terraform 1.11+): the private key (PEM) of `ca_certificate_pem`. It never reaches state; keep it in the configuration, since every apply that issues a certificate (create, a new member) needs it."},
				"validity_days": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultValidityDays),
					Validators:          []validator.Int64{int64validator.Between(1, 3650)},
					MarkdownDescription: "Validity of node certificates, in days. Default `365`. Capped at the CA's own expiry. A change applies at the next issue or renewal."},
				"renew_before_days": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultRenewBeforeDays),
					Validators:          []validator.Int64{int64validator.Between(0, 3649)},
					MarkdownDescription: "A node certificate within this many days of its expiry is due for renewal: the plan shows an update, and apply renews it in place with reloads, one node at a time. Default `30`. Must be less than `validity_days`."},
			}},
		"ca_certificate": schema.StringAttribute{Computed: true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "The cluster CA's certificate (PEM), for clients to verify the servers: " + d.clients + ". Null without TLS."},
		"certificates_expire_at": schema.StringAttribute{Computed: true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "When the earliest node certificate expires (RFC 3339, UTC). Null without TLS."},
	}
}

// caCertificateValidator checks at plan time that ca_certificate_pem is a
// CA certificate that may sign and is not expired.
type caCertificateValidator struct{}

func (caCertificateValidator) Description(context.Context) string {
	return "a PEM CA certificate that may sign certificates"
}
func (v caCertificateValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (caCertificateValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	c, err := pki.ParseCertificate(req.ConfigValue.ValueString())
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(req.Path, "Not a PEM certificate", fmt.Sprintf("%s: %v", req.Path, err))
	case !c.IsCA || !c.BasicConstraintsValid:
		resp.Diagnostics.AddAttributeError(req.Path, "Not a CA certificate", fmt.Sprintf("%s: %q lacks basic constraints CA:TRUE, so it cannot sign or vouch for node certificates.", req.Path, c.Subject.CommonName))
	case time.Now().After(c.NotAfter):
		resp.Diagnostics.AddAttributeError(req.Path, "The CA has expired", fmt.Sprintf("%s: %q expired at %s.", req.Path, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339)))
	}
}

// validateTLSConfig adds the plan-time errors of a `tls` block that one
// attribute cannot see alone.
func validateTLSConfig(ctx context.Context, o types.Object, diags *diag.Diagnostics) {
	t := knownObject[tlsModel](ctx, o, diags)
	if t == nil {
		return
	}
	p := path.Root("tls")
	if !t.ValidityDays.IsNull() && !t.ValidityDays.IsUnknown() && !t.RenewBeforeDays.IsNull() && !t.RenewBeforeDays.IsUnknown() &&
		t.RenewBeforeDays.ValueInt64() >= t.ValidityDays.ValueInt64() {
		diags.AddAttributeError(p.AtName("renew_before_days"), "Renewal window too long",
			fmt.Sprintf("tls.renew_before_days (%d) must be less than tls.validity_days (%d), or every certificate would be due for renewal at once.", t.RenewBeforeDays.ValueInt64(), t.ValidityDays.ValueInt64()))
	}
	hasCert, hasKey := !t.CACertificatePEM.IsNull(), !t.CAPrivateKeyPEMWO.IsNull()
	switch {
	case hasCert && !hasKey:
		diags.AddAttributeError(p.AtName("ca_private_key_pem_wo"), "Missing CA private key",
			"tls.ca_certificate_pem is set, so tls.ca_private_key_pem_wo must hold its private key: the provider signs the node certificates with it.")
	case hasKey && !hasCert:
		diags.AddAttributeError(p.AtName("ca_certificate_pem"), "Missing CA certificate",
			"tls.ca_private_key_pem_wo is set, so tls.ca_certificate_pem must hold the CA certificate it belongs to.")
	case hasCert && hasKey && !t.CACertificatePEM.IsUnknown() && !t.CAPrivateKeyPEMWO.IsUnknown():
		if _, err := pki.ParseCertificate(t.CACertificatePEM.ValueString()); err != nil {
			return // the attribute's own validator reports it
		}
		if _, err := pki.LoadCA(t.CACertificatePEM.ValueString(), t.CAPrivateKeyPEMWO.ValueString(), time.Now()); err != nil {
			diags.AddAttributeError(p.AtName("ca_private_key_pem_wo"), "Unusable CA", "tls.ca_certificate_pem with tls.ca_private_key_pem_wo: "+err.Error())
		}
	}
}

// tlsPrivate is kept in private state: the key of a CA the provider made
// (private state, not a sensitive attribute, so that no expression, output
// or other resource can read it; it is still in the state file, which must
// be protected like the passwords it holds), the provider's own client
// certificate for its etcd probes, and each member's certificate expiry.
type tlsPrivate struct {
	CAKey      string               `json:"ca_key,omitempty"`
	ClientCert string               `json:"client_cert,omitempty"`
	ClientKey  string               `json:"client_key,omitempty"`
	Expiry     map[string]time.Time `json:"expiry,omitempty"`
	// Broken is what is wrong with a member's certificate file, as the last
	// Read found it (missing, not signed by the cluster CA, for other
	// names, expired): drift that apply repairs with a new certificate.
	Broken map[string]string `json:"broken,omitempty"`
	// MoveCA is the CA certificate of a move to TLS in place (its key is
	// CAKey), so an attempt that failed half-way is resumed with the CA
	// that the members it restarted already trust.
	MoveCA string `json:"move_ca,omitempty"`
}

func readTLSPrivate(ctx context.Context, p privateGetter) tlsPrivate {
	var t tlsPrivate
	if b, _ := p.GetKey(ctx, tlsPrivateKey); len(b) > 0 {
		_ = json.Unmarshal(b, &t)
	}
	if t.Expiry == nil {
		t.Expiry = map[string]time.Time{}
	}
	return t
}

func writeTLSPrivate(ctx context.Context, p privateSetter, t tlsPrivate) diag.Diagnostics {
	b, _ := json.Marshal(t) // strings and times always marshal
	return p.SetKey(ctx, tlsPrivateKey, b)
}

// earliest is the earliest expiry among members, as RFC 3339; null when
// there is none.
func (t tlsPrivate) earliest(members []topology.Member) types.String {
	var first time.Time
	for _, m := range members {
		if e, ok := t.Expiry[m.Name]; ok && (first.IsZero() || e.Before(first)) {
			first = e
		}
	}
	if first.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(first.UTC().Format(time.RFC3339))
}

// newCA is the CA of a create: the user's (ca_certificate_pem with the
// write-only key from the configuration) or one made now, whose key goes to
// private state (priv.CAKey). For a CA it made, it also issues the
// provider's client certificate (no more power than the CA key beside it).
func newCA(name string, s tlsSettings, priv *tlsPrivate, now time.Time) (*pki.CA, error) {
	if s.UserCA != "" {
		if s.UserCAKey.IsNull() || s.UserCAKey.IsUnknown() {
			return nil, errors.New("tls.ca_private_key_pem_wo must hold the private key of tls.ca_certificate_pem")
		}
		// No client certificate of the provider's own for a user's CA: it
		// would be a long-lived etcd credential in state that the user
		// chose to keep out of it. The etcd probe uses etcdctl on the nodes.
		return pki.LoadCA(s.UserCA, s.UserCAKey.ValueString(), now)
	}
	ca, key, err := pki.NewCA("erawan "+name+" CA", pki.CAValidity, now)
	if err != nil {
		return nil, err
	}
	priv.CAKey = key
	return ca, clientCertificate(ca, priv, now)
}

// signingCA is the CA that signs an update's certificates: the CA in state
// (caPEM) with its key from private state (one the provider made) or from
// the configuration (the user's).
func signingCA(caPEM string, s tlsSettings, priv tlsPrivate, now time.Time) (*pki.CA, error) {
	switch {
	case priv.CAKey != "":
		return pki.LoadCA(caPEM, priv.CAKey, now)
	case !s.UserCAKey.IsNull() && !s.UserCAKey.IsUnknown():
		return pki.LoadCA(caPEM, s.UserCAKey.ValueString(), now)
	}
	return nil, errors.New("the CA's private key is not known here: the state holds no key of a CA the provider made (an imported cluster), and tls.ca_private_key_pem_wo is not set. Give the cluster's CA with tls.ca_certificate_pem and tls.ca_private_key_pem_wo")
}

// clientCertificate issues the provider's client certificate (for its etcd
// probes), valid as long as the CA.
func clientCertificate(ca *pki.CA, priv *tlsPrivate, now time.Time) error {
	cert, key, err := ca.ClientCertificate(probeClientName, pki.CAValidity, now)
	priv.ClientCert, priv.ClientKey = cert, key
	return err
}

// probeTLS returns the TLS configurations of the provider's probes of a
// cluster whose CA is caPEM: one that verifies servers against the CA, and
// one that also presents the provider's client certificate (nil without
// one). Both are nil without a CA (plaintext).
func probeTLS(caPEM string, priv tlsPrivate) (*tls.Config, *tls.Config) {
	if caPEM == "" {
		return nil, nil
	}
	rest, err := pki.ClientTLS(caPEM, "", "")
	if err != nil {
		return nil, nil
	}
	if priv.ClientCert == "" {
		return rest, nil
	}
	withCert, err := pki.ClientTLS(caPEM, priv.ClientCert, priv.ClientKey)
	if err != nil {
		return rest, nil
	}
	return rest, withCert
}

// requestError is a certificate request that failed on one host.
type requestError struct {
	member topology.Member
	err    error
}

// issueCertificates makes a certificate request on each member (the key is
// made and kept on the node, see pki.RequestScript) over the pooled SSH
// connections, all at once, and signs each with ca for validity. It
// returns the certificates by member name, and their expiries in priv.
func (c *clients) issueCertificates(ctx context.Context, ca *pki.CA, id string, members []topology.Member, validity time.Duration, priv *tlsPrivate, now time.Time) (map[string]string, error) {
	certs := map[string]string{}
	var mu sync.Mutex
	var failed []requestError
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cert, err := c.issueOne(ctx, ca, id, m, validity, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, requestError{m, err})
				return
			}
			certs[m.Name] = cert
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool { return failed[i].member.Name < failed[j].member.Name })
		var msgs []string
		for _, f := range failed {
			msgs = append(msgs, fmt.Sprintf("%s (%s): %v", f.member.Name, f.member.Address, f.err))
		}
		return nil, fmt.Errorf("making the certificate request failed on %s", strings.Join(msgs, "; "))
	}
	for name, cert := range certs {
		if exp, err := pki.Expiry(cert); err == nil {
			priv.Expiry[name] = exp
		}
	}
	return certs, nil
}

func (c *clients) issueOne(ctx context.Context, ca *pki.CA, id string, m topology.Member, validity time.Duration, now time.Time) (string, error) {
	script, err := pki.RequestScript(id, m.Name)
	if err != nil {
		return "", err
	}
	out, err := c.pool.Run(ctx, m.Address, c.sudo()+"sh -s", []byte(script))
	if err != nil {
		return "", err
	}
	return ca.Sign(pki.Request{CSRPEM: string(out), Name: m.Name, Addresses: nodeSANs(m), Validity: validity}, now)
}

// nodeSANs are the addresses a member's certificate names: its address and
// 127.0.0.1 (etcd's loopback listener serves TLS too).
func nodeSANs(m topology.Member) []string {
	return slices.Compact([]string{m.Address, "127.0.0.1"})
}

// tlsAttrsNull sets the TLS outputs of a cluster without TLS.
func (a *tlsAttrs) setNull() {
	*a.CACertificate, *a.ExpireAt = types.StringNull(), types.StringNull()
}

// tlsConfigValidator runs validateTLSConfig on a cluster resource's `tls`.
type tlsConfigValidator struct{}

func (tlsConfigValidator) Description(context.Context) string {
	return "the tls block's CA certificate and key belong together, and the renewal window fits the validity"
}
func (v tlsConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (tlsConfigValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var o types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("tls"), &o)...)
	if resp.Diagnostics.HasError() || o.IsNull() || o.IsUnknown() {
		return
	}
	validateTLSConfig(ctx, o, &resp.Diagnostics)
}

// tlsDisabledValue is `tls = { enabled = false }` with the defaults, as
// import writes it for a cluster without TLS (so a configuration that says
// so plans no change).
func tlsDisabledValue() types.Object {
	o, _ := types.ObjectValue(tlsAttrTypes, map[string]attr.Value{
		"enabled": types.BoolValue(false), "ca_certificate_pem": types.StringNull(), "ca_private_key_pem_wo": types.StringNull(),
		"validity_days": types.Int64Value(defaultValidityDays), "renew_before_days": types.Int64Value(defaultRenewBeforeDays),
	})
	return o
}

// dueForRenewal lists the members whose recorded certificate expires within
// renewBefore of now.
func dueForRenewal(members []topology.Member, priv tlsPrivate, renewBefore time.Duration, now time.Time) []topology.Member {
	var due []topology.Member
	for _, m := range members {
		if at, ok := priv.Expiry[m.Name]; ok && at.Sub(now) < renewBefore {
			due = append(due, m)
		}
	}
	return due
}

// certDrift checks each member's certificate file (certs, by member name;
// members not in certs were not read) against the cluster CA caPEM and
// returns what is wrong with each broken one. A certificate due for renewal
// is not broken: renewal is planned separately.
func certDrift(caPEM string, members []topology.Member, certs map[string]string, renewBefore time.Duration, now time.Time) map[string]string {
	caCert, err := pki.ParseCertificate(caPEM)
	if err != nil {
		return nil
	}
	ca := &pki.CA{Cert: caCert, CertPEM: caPEM}
	broken := map[string]string{}
	for _, m := range members {
		pem, ok := certs[m.Name]
		if !ok {
			continue
		}
		switch v, detail := ca.Check(pem, m.Name, nodeSANs(m), renewBefore, now); v {
		case pki.Missing, pki.Foreign, pki.WrongNames, pki.Expired:
			broken[m.Name] = fmt.Sprintf("the certificate of %s (%s) is %s: %s", m.Name, m.Address, v, detail)
		}
	}
	return broken
}

// brokenSentences lists priv.Broken for members, sorted.
func brokenSentences(priv tlsPrivate, members []topology.Member) []string {
	var out []string
	for _, m := range members {
		if b, ok := priv.Broken[m.Name]; ok {
			out = append(out, b+"; apply issues a new one")
		}
	}
	return out
}

// sameCertificate reports whether two PEM texts hold the same certificate
// (whatever their whitespace).
func sameCertificate(a, b string) bool {
	ca, err1 := pki.ParseCertificate(a)
	cb, err2 := pki.ParseCertificate(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca.Raw, cb.Raw)
}

// caExpiring reports when the CA caPEM expires and whether that is within
// renewBefore of now: a node certificate signed now would then be due at
// once (certificates never outlive their CA), so renewal cannot help.
func caExpiring(caPEM string, renewBefore time.Duration, now time.Time) (time.Time, bool) {
	ca, err := pki.ParseCertificate(caPEM)
	if err != nil {
		return time.Time{}, false
	}
	return ca.NotAfter, !now.Before(ca.NotAfter.Add(-renewBefore))
}

// tlsImport is what import reads of a cluster's TLS from its nodes: the CA
// certificate and each member's node certificate expiry.
type tlsImport struct {
	ca     string
	expiry map[string]time.Time
}

// read reads dir/ca.crt and dir/node.crt of member on addr (as root).
func (t *tlsImport) read(ctx context.Context, c *clients, addr, dir, member string) error {
	out, err := c.pool.Run(ctx, addr, c.sudo()+"cat "+dir+"/ca.crt", nil)
	if err != nil {
		return fmt.Errorf("reading the cluster CA %s/ca.crt: %w", dir, err)
	}
	t.ca = string(out)
	if cert, err := c.pool.Run(ctx, addr, c.sudo()+"cat "+dir+"/node.crt", nil); err == nil {
		if exp, err := pki.Expiry(string(cert)); err == nil {
			if t.expiry == nil {
				t.expiry = map[string]time.Time{}
			}
			t.expiry[member] = exp
		}
	}
	return nil
}

// set fills an imported model's TLS attributes: on (the marker says the
// cluster has TLS) keeps the CA read and warns that its key is not
// imported (more adds the engine's own consequence); off writes
// `tls = { enabled = false }`.
func (t *tlsImport) set(on bool, a *tlsAttrs, nodes []topology.Member, more string, diags *diag.Diagnostics) {
	*a.TLS = types.ObjectNull(tlsAttrTypes)
	a.setNull()
	if !on {
		*a.TLS = tlsDisabledValue()
		return
	}
	*a.CACertificate = types.StringValue(t.ca)
	*a.ExpireAt = tlsPrivate{Expiry: t.expiry}.earliest(nodes)
	diags.AddWarning("The CA's private key is not imported",
		strings.TrimSpace("The cluster's CA certificate is read from the nodes, but not its private key: a CA the provider made keeps its key in the state that created the cluster. "+
			"This state can read and change the cluster, but an apply that issues a certificate (a new member, a renewal) fails until tls.ca_certificate_pem and tls.ca_private_key_pem_wo give the CA. "+more))
}
