package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

func tlsObject(t *testing.T, v map[string]attr.Value) types.Object {
	t.Helper()
	full := map[string]attr.Value{"enabled": types.BoolNull(), "ca_certificate_pem": types.StringNull(), "ca_private_key_pem_wo": types.StringNull(),
		"validity_days": types.Int64Null(), "renew_before_days": types.Int64Null()}
	for k, x := range v {
		full[k] = x
	}
	o, d := types.ObjectValue(tlsAttrTypes, full)
	if d.HasError() {
		t.Fatal(d)
	}
	return o
}

func TestReadTLS(t *testing.T) {
	ctx := context.Background()
	var diags diag.Diagnostics
	s := readTLS(ctx, types.ObjectNull(tlsAttrTypes), &diags)
	if !s.On || s.Validity != 365*24*time.Hour || s.RenewBefore != 30*24*time.Hour || s.UserCA != "" {
		t.Fatalf("defaults: %+v", s)
	}
	s = readTLS(ctx, tlsObject(t, map[string]attr.Value{"enabled": types.BoolValue(false), "validity_days": types.Int64Value(90), "renew_before_days": types.Int64Value(10)}), &diags)
	if s.On || s.Validity != 90*24*time.Hour || s.RenewBefore != 10*24*time.Hour {
		t.Fatalf("set: %+v", s)
	}
	if diags.HasError() {
		t.Fatal(diags)
	}
	if d := tlsDisabledValue(); readTLS(ctx, d, &diags).On {
		t.Fatal("tlsDisabledValue reads as on")
	}
}

func TestValidateTLSConfig(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	ca, key, err := pki.NewCA("user CA", 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, _ := pki.NewCA("other CA", 24*time.Hour, now)
	_ = other
	for name, c := range map[string]struct {
		v    map[string]attr.Value
		want string // "" for none
	}{
		"defaults":       {nil, ""},
		"window":         {map[string]attr.Value{"validity_days": types.Int64Value(30), "renew_before_days": types.Int64Value(30)}, "tls.renew_before_days (30) must be less than tls.validity_days (30)"},
		"cert alone":     {map[string]attr.Value{"ca_certificate_pem": types.StringValue(ca.CertPEM)}, "ca_private_key_pem_wo must hold its private key"},
		"key alone":      {map[string]attr.Value{"ca_private_key_pem_wo": types.StringValue(key)}, "ca_certificate_pem must hold the CA certificate"},
		"matching pair":  {map[string]attr.Value{"ca_certificate_pem": types.StringValue(ca.CertPEM), "ca_private_key_pem_wo": types.StringValue(key)}, ""},
		"another's key":  {map[string]attr.Value{"ca_certificate_pem": types.StringValue(ca.CertPEM), "ca_private_key_pem_wo": types.StringValue(otherKey)}, "Unusable CA"},
		"unknown key ok": {map[string]attr.Value{"ca_certificate_pem": types.StringValue(ca.CertPEM), "ca_private_key_pem_wo": types.StringUnknown()}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var diags diag.Diagnostics
			validateTLSConfig(ctx, tlsObject(t, c.v), &diags)
			got := ""
			for _, d := range diags.Errors() {
				got += d.Summary() + ": " + d.Detail() + "\n"
			}
			if (c.want == "") != (got == "") || (c.want != "" && !strings.Contains(got, c.want)) {
				t.Fatalf("want %q, got %q", c.want, got)
			}
		})
	}
}

// A CA the provider makes keeps its key in private state and signs again
// from it; a user's CA signs only with the write-only key of the
// configuration; an imported CA without either cannot sign, and says why.
func TestCAKeys(t *testing.T) {
	now := time.Now()
	var priv tlsPrivate
	ca, err := newCA("orders", tlsSettings{On: true, UserCAKey: types.StringNull()}, &priv, now)
	if err != nil || priv.CAKey == "" || priv.ClientCert == "" || priv.ClientKey == "" {
		t.Fatalf("newCA: %v %+v", err, priv)
	}
	if _, err := signingCA(ca.CertPEM, tlsSettings{UserCAKey: types.StringNull()}, priv, now); err != nil {
		t.Fatalf("signing with the kept key: %v", err)
	}
	rest, etcd := probeTLS(ca.CertPEM, priv)
	if rest == nil || etcd == nil || len(etcd.Certificates) != 1 || len(rest.Certificates) != 0 {
		t.Fatalf("probe TLS: %+v %+v", rest, etcd)
	}
	if a, b := probeTLS("", priv); a != nil || b != nil {
		t.Fatal("no CA must mean plaintext probes")
	}

	user, userKey, _ := pki.NewCA("user CA", 24*time.Hour, now)
	var upriv tlsPrivate
	if _, err := newCA("orders", tlsSettings{On: true, UserCA: user.CertPEM, UserCAKey: types.StringNull()}, &upriv, now); err == nil {
		t.Fatal("a user CA without its key must fail")
	}
	if _, err := newCA("orders", tlsSettings{On: true, UserCA: user.CertPEM, UserCAKey: types.StringValue(userKey)}, &upriv, now); err != nil || upriv.CAKey != "" || upriv.ClientKey != "" {
		t.Fatalf("neither a user CA's key nor a client key of that CA may reach private state: %v %q %q", err, upriv.CAKey, upriv.ClientKey)
	}
	if !sameCertificate(user.CertPEM, "\n"+user.CertPEM+"\n") || sameCertificate(user.CertPEM, ca.CertPEM) {
		t.Fatal("sameCertificate must ignore whitespace and tell two CAs apart")
	}
	if _, err := signingCA(user.CertPEM, tlsSettings{UserCAKey: types.StringNull()}, tlsPrivate{}, now); err == nil || !strings.Contains(err.Error(), "ca_private_key_pem_wo") {
		t.Fatalf("an imported CA must not sign: %v", err)
	}
}

func TestEarliestExpiry(t *testing.T) {
	a, b := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	p := tlsPrivate{Expiry: map[string]time.Time{"pg1": b, "pg2": a, "gone": a.Add(-time.Hour)}}
	got := p.earliest([]topology.Member{{Name: "pg1"}, {Name: "pg2"}})
	if got.ValueString() != "2027-01-02T03:04:05Z" {
		t.Fatalf("earliest %v (a member no longer in the cluster must not count)", got)
	}
	if !(tlsPrivate{}).earliest([]topology.Member{{Name: "pg1"}}).IsNull() {
		t.Fatal("no expiry must be null")
	}
}

func TestDueForRenewal(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	p := tlsPrivate{Expiry: map[string]time.Time{"pg1": now.Add(10 * 24 * time.Hour), "pg2": now.Add(40 * 24 * time.Hour), "pg3": now.Add(-time.Hour)}}
	ms := []topology.Member{{Name: "pg1"}, {Name: "pg2"}, {Name: "pg3"}, {Name: "pg4"}}
	var got []string
	for _, m := range dueForRenewal(ms, p, 30*24*time.Hour, now) {
		got = append(got, m.Name)
	}
	if strings.Join(got, ",") != "pg1,pg3" {
		t.Fatalf("due %v; want pg1 (10 days left) and pg3 (expired), not pg2 (40 days) nor pg4 (no certificate yet)", got)
	}
	if len(dueForRenewal(ms, p, 0, now)) != 1 {
		t.Fatal("renew_before_days = 0 renews only what has expired")
	}
}

// csrFor makes a certificate request as the node would (a fresh ECDSA
// P-256 key), for the tests.
func csrFor(t *testing.T, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// Each kind of broken certificate file is drift naming the member and what
// is wrong; a current one and one merely due for renewal are not, nor is a
// member whose file could not be read.
func TestCertDrift(t *testing.T) {
	now := time.Now()
	ca, _, err := pki.NewCA("cluster CA", 10*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := pki.NewCA("other CA", 24*time.Hour, now)
	sign := func(c *pki.CA, name, addr string, validity time.Duration, at time.Time) string {
		cert, err := c.Sign(pki.Request{CSRPEM: csrFor(t, name), Name: name, Addresses: []string{addr, "127.0.0.1"}, Validity: validity}, at)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	day := 24 * time.Hour
	ms := []topology.Member{
		{Name: "pg1", Address: "10.0.0.11"}, {Name: "pg2", Address: "10.0.0.12"}, {Name: "pg3", Address: "10.0.0.13"},
		{Name: "pg4", Address: "10.0.0.14"}, {Name: "pg5", Address: "10.0.0.15"}, {Name: "pg6", Address: "10.0.0.16"}, {Name: "pg7", Address: "10.0.0.17"},
	}
	certs := map[string]string{
		"pg1": sign(ca, "pg1", "10.0.0.11", 365*day, now),           // current
		"pg2": sign(ca, "pg2", "10.0.0.12", 20*day, now),            // due: planned renewal, not drift
		"pg3": "",                                                   // removed
		"pg4": sign(other, "pg4", "10.0.0.14", 365*day, now),        // another CA
		"pg5": sign(ca, "pg5", "10.0.0.99", 365*day, now),           // other address
		"pg6": sign(ca, "pg6", "10.0.0.16", 2*day, now.Add(-3*day)), // expired
		// pg7: not read (host unreachable)
	}
	got := certDrift(ca.CertPEM, ms, certs, 30*day, now)
	want := map[string]string{"pg3": "missing", "pg4": "not signed by the cluster CA", "pg5": "issued for other names", "pg6": "expired: expired at"}
	if len(got) != len(want) {
		t.Fatalf("broken %v, want %v", got, want)
	}
	for name, w := range want {
		if !strings.Contains(got[name], w) || !strings.Contains(got[name], name) {
			t.Errorf("%s: %q, want it to say %q and name the member", name, got[name], w)
		}
	}
	s := brokenSentences(tlsPrivate{Broken: got}, ms)
	if len(s) != 4 || !strings.HasSuffix(s[0], "apply issues a new one") {
		t.Fatalf("sentences %q", s)
	}
}

// A CA that expires within the renewal window stops renewal (it would
// repeat on every apply), and a CA with time left does not.
func TestCAExpiring(t *testing.T) {
	now := time.Now()
	ca, _, _ := pki.NewCA("short CA", 20*24*time.Hour, now)
	if _, e := caExpiring(ca.CertPEM, 30*24*time.Hour, now); !e {
		t.Fatal("a CA with 20 days left must count as expiring within a 30-day window")
	}
	if _, e := caExpiring(ca.CertPEM, 10*24*time.Hour, now); e {
		t.Fatal("a CA with 20 days left is not expiring within a 10-day window")
	}
}

// An update that gives a MySQL cluster without TLS its CA runs the move;
// a renewal, a create or a cluster still without TLS does not.
func TestMySQLTLSMove(t *testing.T) {
	plain := &mysqlgr.Spec{Name: "c", ID: "c-1", Nodes: []topology.Member{{Name: "db1", Address: "10.0.0.1"}}}
	withTLS := *plain
	withTLS.TLS = &mysqlgr.TLS{CAPEM: "CA"}
	ch := &topology.Change{}
	for _, c := range []struct {
		old, next *mysqlgr.Spec
		ch        *topology.Change
		want      bool
	}{
		{plain, &withTLS, ch, true},
		{&withTLS, &withTLS, ch, false},
		{plain, plain, ch, false},
		{&withTLS, &withTLS, nil, false},
	} {
		job, err := (mysqlEngine{}).job(c.old, c.next, c.ch, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := job.Vars.(*mysqlgr.Vars).TLSMove; got != c.want {
			t.Errorf("old TLS %v, new TLS %v, update %v: move %v, want %v", c.old.TLS != nil, c.next.TLS != nil, c.ch != nil, got, c.want)
		}
	}

	// The move is built for group_replication mode only.
	state := mysqlClusterModel{ManagementMode: types.StringValue(mysqlgr.ModeAdminAPI), CACertificate: types.StringNull(), Management: types.StringValue(mysqlgr.ModeAuto)}
	state.Name = types.StringValue("c")
	plan := state
	plan.TLS = types.ObjectNull(tlsAttrTypes) // the defaults: TLS on
	var diags diag.Diagnostics
	(mysqlEngine{}).checkPlan(&plan, &state, &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Summary(), "AdminAPI") {
		t.Errorf("an AdminAPI cluster's move to TLS: %v", diags)
	}
	state.ManagementMode = types.StringValue(mysqlgr.ModeGroupReplication)
	plan.ManagementMode, diags = state.ManagementMode, nil
	if (mysqlEngine{}).checkPlan(&plan, &state, &diags); diags.HasError() {
		t.Errorf("a group_replication cluster's move to TLS is refused: %v", diags)
	}
}

// An update that gives a Patroni cluster without TLS its CA runs the move;
// a renewal, a create or a cluster still without TLS does not.
func TestPatroniTLSMove(t *testing.T) {
	plain := &pgcluster.Spec{Name: "c", ID: "c-1", Nodes: []topology.Member{{Name: "pg1", Address: "10.0.0.1"}}}
	withTLS := *plain
	withTLS.TLS = &pgcluster.TLS{CAPEM: "CA", RequireTLS: true}
	ch := &topology.Change{}
	for _, c := range []struct {
		old, next *pgcluster.Spec
		ch        *topology.Change
		want      bool
	}{
		{plain, &withTLS, ch, true},
		{&withTLS, &withTLS, ch, false},
		{plain, plain, ch, false},
		{plain, &withTLS, nil, false}, // a create (or a resumed one)
	} {
		job, err := (patroniEngine{}).job(c.old, c.next, c.ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := job.Vars.(*pgcluster.Vars).TLSMove; got != c.want {
			t.Errorf("old TLS %v, new TLS %v, update %v: move %v, want %v", c.old.TLS != nil, c.next.TLS != nil, c.ch != nil, got, c.want)
		}
	}
	if (patroniEngine{}).info().tlsMove == "" {
		t.Error("the Patroni engine must say how it moves a cluster to TLS (the plan's warning)")
	}
}
