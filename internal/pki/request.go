package pki

import (
	"fmt"
	"regexp"
	"strings"
)

// PendingDir is where a node keeps a private key between the request made
// for it and the playbook step that installs it with its certificate
// (root-only, 0700; each key 0600).
const PendingDir = "/etc/erawan/.tls-pending"

var safeName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// PendingKey is the path of the pending key of member of resource id.
func PendingKey(id, member string) string {
	return PendingDir + "/" + id + "-" + member + ".key"
}

// RequestScript is the shell script (run as root with `sh -s`) that makes a
// certificate request on a node: it generates an ECDSA P-256 key at
// PendingKey(id, member) with openssl unless one is there already (a
// resumed run), and prints the PEM request for commonName member. The key
// never leaves the node; only the request does.
func RequestScript(id, member string) (string, error) {
	if !safeName.MatchString(id) || !safeName.MatchString(member) {
		return "", fmt.Errorf("resource id %q or member %q is not a safe file name", id, member)
	}
	key := PendingKey(id, member)
	return strings.Join([]string{
		"set -eu",
		"umask 077",
		"command -v openssl >/dev/null || { echo 'openssl is not installed on this node (Debian package openssl)' >&2; exit 127; }",
		// /etc/erawan itself stays traversable (0755): the services read
		// their certificates below it.
		"[ -d /etc/erawan ] || install -d -m 0755 /etc/erawan",
		"install -d -m 0700 " + PendingDir,
		"[ -s " + key + " ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + key + " 2>/dev/null",
		"openssl req -new -key " + key + " -subj /CN=" + member,
		"",
	}, "\n"), nil
}

// RunVars is a cluster's TLS as one playbook run sees it (the extra
// variable erawan_tls of every engine): the CA certificate, the node
// certificates issued in this run by member name, and the path of the key
// each was issued for (left pending on that node by RequestScript).
type RunVars struct {
	Enabled     bool              `json:"enabled"`
	CAPEM       string            `json:"ca_pem"`
	Certs       map[string]string `json:"certs"`
	PendingKeys map[string]string `json:"pending_keys"`
}

// NewRunVars renders the TLS of a run of resource id: caPEM is the cluster
// CA ("" without TLS: Enabled false, no certificates) and certs the
// certificates issued in this run, by member name.
func NewRunVars(id, caPEM string, certs map[string]string) RunVars {
	v := RunVars{Certs: map[string]string{}, PendingKeys: map[string]string{}}
	if caPEM == "" {
		return v
	}
	v.Enabled, v.CAPEM = true, caPEM
	for m, c := range certs {
		v.Certs[m] = c
		v.PendingKeys[m] = PendingKey(id, m)
	}
	return v
}
