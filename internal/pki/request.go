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

var safeName = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]{0,127}$`)

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
