package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func csr(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func newCA(t *testing.T) (*CA, string) {
	t.Helper()
	ca, key, err := NewCA("erawan orders CA", CAValidity, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func TestNewCA(t *testing.T) {
	ca, keyPEM := newCA(t)
	c := ca.Cert
	if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 || !c.MaxPathLenZero {
		t.Errorf("not a signing CA limited to end certificates: IsCA %v, usage %v, MaxPathLenZero %v", c.IsCA, c.KeyUsage, c.MaxPathLenZero)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || c.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key is %v, want ECDSA P-256", c.PublicKeyAlgorithm)
	}
	if got := c.NotAfter.Sub(t0); got != CAValidity {
		t.Errorf("CA valid for %v, want %v", got, CAValidity)
	}
	if !strings.Contains(keyPEM, "BEGIN PRIVATE KEY") {
		t.Errorf("the CA key is not PKCS#8 PEM")
	}
	// The PEM pair loads back as the same CA.
	again, err := LoadCA(ca.CertPEM, keyPEM, t0)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(again.Cert) != Fingerprint(ca.Cert) {
		t.Errorf("the loaded CA differs")
	}
}

func TestLoadCARefuses(t *testing.T) {
	ca, keyPEM := newCA(t)
	other, otherKey := newCA(t)
	leaf, err := ca.Sign(Request{CSRPEM: csr(t), Name: "pg1", Addresses: []string{"10.0.0.11"}, Validity: time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cert, key string
		at              time.Time
		want            string
	}{
		{"key of another CA", ca.CertPEM, otherKey, t0, "does not belong"},
		{"not a CA", leaf, keyPEM, t0, "is not a CA"},
		{"expired", other.CertPEM, otherKey, t0.Add(CAValidity + time.Hour), "expired at"},
		{"no certificate", "junk", keyPEM, t0, "no PEM CERTIFICATE block"},
		{"no key", ca.CertPEM, "junk", t0, "no PEM private key block"},
		{"a certificate for a key", ca.CertPEM, ca.CertPEM, t0, "no PEM private key block"},
	}
	for _, c := range cases {
		if _, err := LoadCA(c.cert, c.key, c.at); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// An RSA CA made elsewhere (PKCS#1 key) is accepted.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: ca.Cert.SerialNumber, Subject: pkix.Name{CommonName: "corp CA"}, NotBefore: t0.Add(-time.Hour),
		NotAfter: t0.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA, err := LoadCA(encode("CERTIFICATE", der), encode("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), t0)
	if err != nil {
		t.Fatalf("an RSA CA with a PKCS#1 key: %v", err)
	}
	// Its node certificates stop at its own expiry.
	leafPEM, err := rsaCA.Sign(Request{CSRPEM: csr(t), Name: "pg1", Validity: 365 * 24 * time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := ParseCertificate(leafPEM); !c.NotAfter.Equal(rsaCA.Cert.NotAfter) {
		t.Errorf("a node certificate outlives its CA: %v > %v", c.NotAfter, rsaCA.Cert.NotAfter)
	}
}

func TestSign(t *testing.T) {
	ca, _ := newCA(t)
	certPEM, err := ca.Sign(Request{CSRPEM: csr(t), Name: "pg1", Addresses: []string{"10.0.0.11", "fd00::11", "db1.example.com"}, Validity: 365 * 24 * time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "pg1" {
		t.Errorf("CN %q, want the member name (the CSR's own subject is ignored)", c.Subject.CommonName)
	}
	if got := strings.Join(c.DNSNames, ","); got != "pg1,db1.example.com" {
		t.Errorf("DNS SANs %q", got)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.11")) || !c.IPAddresses[1].Equal(net.ParseIP("fd00::11")) {
		t.Errorf("IP SANs %v", c.IPAddresses)
	}
	if c.IsCA {
		t.Errorf("a node certificate is a CA")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		for _, name := range []string{"pg1", "10.0.0.11", "fd00::11"} {
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("verify for %s as %v: %v", name, usage, err)
			}
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.0.0.12", CurrentTime: t0}); err == nil {
		t.Errorf("the certificate verifies for another member's address")
	}
	// A CSR whose signature does not verify is refused.
	bad := csr(t)
	block, _ := pem.Decode([]byte(bad))
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	if _, err := ca.Sign(Request{CSRPEM: string(pem.EncodeToMemory(block)), Name: "pg1", Validity: time.Hour}, t0); err == nil {
		t.Errorf("a CSR with a broken signature was signed")
	}
	if _, err := ca.Sign(Request{CSRPEM: csr(t), Validity: time.Hour}, t0); err == nil {
		t.Errorf("a certificate without a member name was signed")
	}
}

// A request made the way a node makes it, with openssl, signs and verifies.
func TestSignOpenSSLRequest(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed here")
	}
	dir := t.TempDir()
	out, err := exec.Command(openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(dir, "node.key"), "-subj", "/CN=pg1", "-out", filepath.Join(dir, "node.csr")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req: %v %s", err, out)
	}
	req, _ := os.ReadFile(filepath.Join(dir, "node.csr"))
	ca, _ := newCA(t)
	certPEM, err := ca.Sign(Request{CSRPEM: string(req), Name: "pg1", Addresses: []string{"10.0.0.11"}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(ca.CertPEM), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "node.pem"), []byte(certPEM), 0o600)
	if out, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(dir, "ca.pem"), "-purpose", "sslserver", filepath.Join(dir, "node.pem")).CombinedOutput(); err != nil {
		t.Errorf("openssl verify: %v %s", err, out)
	}
	// The node's key matches the certificate.
	a, _ := exec.Command(openssl, "pkey", "-in", filepath.Join(dir, "node.key"), "-pubout").Output()
	b, _ := exec.Command(openssl, "x509", "-in", filepath.Join(dir, "node.pem"), "-noout", "-pubkey").Output()
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("the certificate's public key is not the node's")
	}
}

func TestCheck(t *testing.T) {
	ca, _ := newCA(t)
	other, _ := newCA(t)
	year := 365 * 24 * time.Hour
	renew := 30 * 24 * time.Hour
	sign := func(c *CA, name string, addrs ...string) string {
		p, err := c.Sign(Request{CSRPEM: csr(t), Name: name, Addresses: addrs, Validity: year}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := sign(ca, "pg1", "10.0.0.11")
	cases := []struct {
		name, cert, member string
		addrs              []string
		at                 time.Time
		want               Verdict
		detail             string
	}{
		{"fresh", good, "pg1", []string{"10.0.0.11"}, t0, Current, "expires at 2027-12-04T12:00:00Z"},
		{"a day before the renewal window", good, "pg1", []string{"10.0.0.11"}, t0.Add(year - renew - 24*time.Hour), Current, ""},
		{"first second of the window", good, "pg1", []string{"10.0.0.11"}, t0.Add(year - renew), Due, "expires at 2027-12-04T12:00:00Z"},
		{"a day before expiry", good, "pg1", []string{"10.0.0.11"}, t0.Add(year - 24*time.Hour), Due, ""},
		{"expired", good, "pg1", []string{"10.0.0.11"}, t0.Add(year), Expired, "expired at 2027-12-04T12:00:00Z"},
		{"another CA", sign(other, "pg1", "10.0.0.11"), "pg1", []string{"10.0.0.11"}, t0, Foreign, "issued by \"erawan orders CA\""},
		{"another member", sign(ca, "pg2", "10.0.0.12"), "pg1", []string{"10.0.0.11"}, t0, WrongNames, "issued for \"pg2\""},
		{"address moved", good, "pg1", []string{"10.0.0.21"}, t0, WrongNames, "names 10.0.0.11,pg1, want 10.0.0.21,pg1"},
		{"an address more than the node has", sign(ca, "pg1", "10.0.0.11", "10.0.0.99"), "pg1", []string{"10.0.0.11"}, t0, WrongNames, "names 10.0.0.11,10.0.0.99,pg1"},
		{"empty", "", "pg1", nil, t0, Missing, "no certificate"},
		{"garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "pg1", nil, t0, Missing, ""},
	}
	for _, c := range cases {
		v, detail := ca.Check(c.cert, c.member, c.addrs, renew, c.at)
		if v != c.want || !strings.Contains(detail, c.detail) {
			t.Errorf("%s: %v (%s), want %v (%s)", c.name, v, detail, c.want, c.detail)
		}
	}
}

// In the CA's last renew_before, a certificate that is still valid reads
// CAExpiring, not Due: renewing it would not help.
func TestCheckCAExpiring(t *testing.T) {
	ca, _, err := NewCA("short CA", 60*24*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.Sign(Request{CSRPEM: csr(t), Name: "pg1", Validity: 365 * 24 * time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	renew := 30 * 24 * time.Hour
	if v, d := ca.Check(certPEM, "pg1", nil, renew, t0.Add(10*24*time.Hour)); v != Current {
		t.Errorf("10 days in: %v (%s), want current", v, d)
	}
	if v, d := ca.Check(certPEM, "pg1", nil, renew, t0.Add(40*24*time.Hour)); v != CAExpiring || !strings.Contains(d, "the CA expires at") {
		t.Errorf("40 days in: %v (%s), want CAExpiring", v, d)
	}
	if _, err := ca.Sign(Request{CSRPEM: csr(t), Name: "pg1", Validity: time.Hour}, t0.Add(61*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("an expired CA signed: %v", err)
	}
}

// The CA's text carries the certificate alone, whatever else came with it;
// a key after an EC PARAMETERS block loads; weak or unusual request keys are refused.
func TestPEMHandling(t *testing.T) {
	ca, keyPEM := newCA(t)
	loaded, err := LoadCA(keyPEM+ca.CertPEM, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"+keyPEM, t0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loaded.CertPEM, "PRIVATE KEY") || strings.Count(loaded.CertPEM, "BEGIN") != 1 {
		t.Errorf("CertPEM carries more than the certificate:\n%s", loaded.CertPEM)
	}
	req := func(key any) string {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, r := range map[string]string{"RSA 1024": req(small), "P-224": req(p224), "Ed25519": req(edKey)} {
		if _, err := ca.Sign(Request{CSRPEM: r, Name: "pg1", Validity: time.Hour}, t0); err == nil {
			t.Errorf("a request with a %s key was signed", name)
		}
	}
	big, _ := rsa.GenerateKey(rand.Reader, 2048)
	certPEM, err := ca.Sign(Request{CSRPEM: req(big), Name: "pg1", Validity: time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCertificate(certPEM)
	if c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("an RSA node certificate lacks keyEncipherment")
	}
	ec, _ := ParseCertificate(mustSign(t, ca))
	if ec.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
		t.Errorf("an ECDSA node certificate has keyEncipherment (RFC 5480)")
	}
}

func mustSign(t *testing.T, ca *CA) string {
	t.Helper()
	p, err := ca.Sign(Request{CSRPEM: csr(t), Name: "pg1", Validity: time.Hour}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Resource ids of both engines (MySQL names may hold capitals) make a
// request script; anything a shell could read as more than a name does not.
func TestRequestScriptNames(t *testing.T) {
	for _, id := range []string{"acc-1a2b3c", "accCluster-8eeb0a7b8a1e"} {
		if _, err := RequestScript(id, "db1"); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	for _, bad := range []string{"", "a b", "x;rm", "../x", "-x", "a$b"} {
		if _, err := RequestScript(bad, "db1"); err == nil {
			t.Errorf("id %q accepted", bad)
		}
		if _, err := RequestScript("acc-1", bad); err == nil {
			t.Errorf("member %q accepted", bad)
		}
	}
}
