// Package pki makes and checks the certificates of a cluster's TLS: one CA
// per cluster, node certificates signed from certificate requests made on
// the nodes (so a node's private key never leaves it), and the renewal
// verdict a plan shows. It uses Go's standard library (crypto/x509) only.
//
// Keys are ECDSA P-256: etcd, Patroni (Python's ssl), PostgreSQL, HAProxy
// and MySQL all accept it, while Ed25519 certificates are not accepted by
// every TLS stack those services are built with.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// CAValidity is how long a CA the provider makes is valid: ten years. Node
// certificates never outlive their CA (Sign caps them); in the CA's last
// renew_before, Check reports CAExpiring rather than an endless renewal.
const CAValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore so that a node whose clock runs a little
// behind the control host's accepts a certificate at once.
const clockSkew = 5 * time.Minute

// CA is a certificate authority: its certificate and its signing key.
type CA struct {
	Cert    *x509.Certificate
	CertPEM string
	key     crypto.Signer
}

// NewCA makes a self-signed CA for commonName (for example
// "erawan orders CA"), valid from now for validity. It returns the CA and
// its private key as PKCS#8 PEM.
func NewCA(commonName string, validity time.Duration, now time.Time) (*CA, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"erawan"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	ca := &CA{Cert: cert, CertPEM: encode("CERTIFICATE", der), key: key}
	return ca, encode("PRIVATE KEY", keyDER), nil
}

// LoadCA reads a CA from its PEM certificate and PEM private key (PKCS#8,
// PKCS#1 or SEC 1). It fails when the certificate is not a CA that may
// sign certificates, when the key is not the certificate's, or when the CA
// is expired at now.
func LoadCA(certPEM, keyPEM string, now time.Time) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("the certificate %q is not a CA (basic constraints CA:TRUE missing)", cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("the CA %q may not sign certificates (key usage lacks keyCertSign)", cert.Subject.CommonName)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("the CA %q expired at %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA private key: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("the CA private key does not belong to the CA certificate")
	}
	// CertPEM is re-encoded from the certificate alone: the text given may
	// hold more blocks (a key, a chain) that must not travel with it.
	return &CA{Cert: cert, CertPEM: encode("CERTIFICATE", cert.Raw), key: key}, nil
}

// Request is what a node certificate is issued for.
type Request struct {
	// CSRPEM is the PEM certificate request made on the node. Only its
	// public key is used (after its signature is checked): the names come
	// from Name and Addresses, which the provider decides.
	CSRPEM string
	// Name is the member name: the subject's common name and a DNS SAN.
	Name string
	// Addresses are the node's addresses: IP literals become IP SANs,
	// anything else DNS SANs.
	Addresses []string
	// Validity is how long the certificate is valid from now.
	Validity time.Duration
}

// Sign issues a node certificate for req, valid for both server and client
// authentication (etcd peers and Patroni's etcd client use it both ways).
// It returns the certificate as PEM.
func (ca *CA) Sign(req Request, now time.Time) (string, error) {
	if req.Name == "" {
		return "", errors.New("a node certificate needs a member name")
	}
	if req.Validity <= 0 {
		return "", fmt.Errorf("validity %v is not positive", req.Validity)
	}
	if !now.Before(ca.Cert.NotAfter) {
		return "", fmt.Errorf("the CA %q expired at %s", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	csr, err := parseCSR(req.CSRPEM)
	if err != nil {
		return "", fmt.Errorf("certificate request of %s: %w", req.Name, err)
	}
	usage := x509.KeyUsageDigitalSignature
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return "", fmt.Errorf("certificate request of %s: ECDSA curve %s; use P-256 or P-384", req.Name, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("certificate request of %s: a %d-bit RSA key; use 2048 bits or more", req.Name, k.N.BitLen())
		}
		usage |= x509.KeyUsageKeyEncipherment // RSA key exchange; RFC 5480 forbids it for ECDSA
	default:
		return "", fmt.Errorf("certificate request of %s: a %T key, which not every TLS stack of the cluster's services accepts; use ECDSA P-256", req.Name, k)
	}
	serial, err := serialNumber()
	if err != nil {
		return "", err
	}
	notAfter := now.Add(req.Validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.Name, Organization: []string{"erawan"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{req.Name},
	}
	for _, a := range req.Addresses {
		if ip := net.ParseIP(a); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !slices.Contains(tmpl.DNSNames, a) {
			tmpl.DNSNames = append(tmpl.DNSNames, a)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return "", fmt.Errorf("signing the certificate of %s: %w", req.Name, err)
	}
	return encode("CERTIFICATE", der), nil
}

// Verdict is what a node certificate found on a node needs.
type Verdict int

const (
	// Current means signed by the CA, for the right names, not due for renewal.
	Current Verdict = iota
	// Due means valid, but within renew_before of expiry; a planned renewal.
	Due
	// Expired means past its NotAfter; drift, with a warning.
	Expired
	// Foreign means not signed by this CA (replaced by hand, or another CA).
	Foreign
	// WrongNames means signed by the CA but not for this member's name and addresses.
	WrongNames
	// Missing means no certificate, or not one that parses.
	Missing
	// CAExpiring means the cluster CA itself expires within renew_before,
	// so a renewed certificate would be due at once: the CA must be
	// replaced, which renewal alone cannot do.
	CAExpiring
)

func (v Verdict) String() string {
	return [...]string{"current", "due for renewal", "expired", "not signed by the cluster CA", "issued for other names", "missing", "valid, but the cluster CA expires within the renewal window"}[v]
}

// Check decides what the certificate certPEM found on a node needs, for
// member name with addresses, renewing within renewBefore of expiry. The
// detail names the expiry or what differs.
func (ca *CA) Check(certPEM, name string, addresses []string, renewBefore time.Duration, now time.Time) (Verdict, string) {
	if strings.TrimSpace(certPEM) == "" {
		return Missing, "no certificate"
	}
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return Missing, err.Error()
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return Foreign, fmt.Sprintf("issued by %q, serial %s", cert.Issuer.CommonName, cert.SerialNumber.Text(16))
	}
	if cert.Subject.CommonName != name {
		return WrongNames, fmt.Sprintf("issued for %q, not %q", cert.Subject.CommonName, name)
	}
	if got, want := sans(cert), wantSANs(name, addresses); !slices.Equal(got, want) {
		return WrongNames, fmt.Sprintf("names %s, want %s", strings.Join(got, ","), strings.Join(want, ","))
	}
	expiry := cert.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case !now.Before(cert.NotAfter):
		return Expired, "expired at " + expiry
	case !now.Before(ca.Cert.NotAfter.Add(-renewBefore)):
		// A certificate signed now would be due at once: renewing it
		// cannot help; the CA must be replaced.
		return CAExpiring, "the CA expires at " + ca.Cert.NotAfter.UTC().Format(time.RFC3339)
	case !now.Before(cert.NotAfter.Add(-renewBefore)):
		return Due, "expires at " + expiry
	}
	return Current, "expires at " + expiry
}

// sans lists a certificate's DNS and IP SANs, sorted.
func sans(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// wantSANs lists the SANs Sign gives member name with addresses, sorted.
func wantSANs(name string, addresses []string) []string {
	out := []string{name}
	for _, a := range addresses {
		if ip := net.ParseIP(a); ip != nil {
			a = ip.String()
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseCertificate reads the first certificate of a PEM text.
func ParseCertificate(certPEM string) (*x509.Certificate, error) {
	der, err := decode(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

func parseCSR(csrPEM string) (*x509.CertificateRequest, error) {
	der, err := decode(csrPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("its signature does not verify: %w", err)
	}
	return csr, nil
}

// parseKey reads the first private key block of a PEM text, skipping
// others (openssl ecparam -genkey writes EC PARAMETERS first).
func parseKey(keyPEM string) (crypto.Signer, error) {
	var k any
	var err error
	rest := []byte(keyPEM)
	for k == nil && err == nil {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key block")
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return s, nil
}

// decode returns the DER of the first PEM block of type want.
func decode(text, want string) ([]byte, error) {
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("no PEM %s block", want)
		}
		if block.Type == want {
			return block.Bytes, nil
		}
	}
}

func encode(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// serialNumber is a random 128-bit serial, as RFC 5280 asks (positive, at
// most 20 octets).
func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}
