package mysqlgr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// AdminAPIPasswordEnv is the environment variable through which the
// playbooks hand the cluster admin password to MySQL Shell scripts, so it is
// never on a command line nor in a file.
const AdminAPIPasswordEnv = "ERAWAN_MYSQL_ADMIN_PASSWORD"

// pyString quotes s as a Python string literal (JSON strings are valid
// Python literals for the characters we pass: names, addresses, ports).
func pyString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// AdminAPIScripts renders the MySQL Shell Python scripts of the AdminAPI
// path, keyed by purpose. Each is run as `mysqlsh --no-wizard --py -f FILE`
// with the admin password in the ERAWAN_MYSQL_ADMIN_PASSWORD environment
// variable, and each prints cluster.status() as its last line (prefixed with
// "ERAWAN_STATUS ") so the playbook judges the result by the status, not by
// mysqlsh's exit code, which can be 1 after a successful clone.
//
// Scripts that act on one instance read its address from the
// ERAWAN_TARGET environment variable ("host:port").
func (s *Spec) AdminAPIScripts() map[string]string {
	var allow []string
	for _, n := range s.Nodes {
		allow = append(allow, n.Address)
	}
	// With the cluster CA, members verify each other's certificate and
	// address (the node certificates name it); without, traffic is still
	// encrypted with the servers' own certificates.
	sslMode := "REQUIRED"
	if s.TLS != nil {
		sslMode = "VERIFY_IDENTITY"
	}
	header := fmt.Sprintf(`import json, os, sys
PASSWORD = os.environ[%s]
USER = %s
PORT = %d
GROUP_PORT = %d
CLUSTER = %s
ALLOW = %s
SSL_MODE = %s

def admin_uri(host):
    return {"user": USER, "password": PASSWORD, "host": host, "port": PORT}

def report(cluster):
    try:
        print("ERAWAN_STATUS " + json.dumps(json.loads(str(cluster.status()))))
    except Exception as e:
        print("ERAWAN_STATUS " + json.dumps({"error": str(e)}))

def target():
    host, _, port = os.environ["ERAWAN_TARGET"].rpartition(":")
    return host
`, pyString(AdminAPIPasswordEnv), pyString(s.ClusterAdminUser), s.MySQLPort, s.GroupPort, pyString(s.Name),
		pyString(strings.Join(append(allow, "127.0.0.1"), ",")), pyString(sslMode))
	return map[string]string{
		// Run on each member, connected as root over the socket.
		"configure_instance": header + `
shell.connect({"user": "root", "socket": os.environ.get("ERAWAN_SOCKET", "/run/mysqld/mysqld.sock")})
dba.configure_instance(None, {"restart": False})
print("ERAWAN_STATUS " + json.dumps({"configured": True}))
`,
		// Run on the seed member.
		"create_cluster": header + `
shell.connect(admin_uri(target()))
try:
    cluster = dba.get_cluster(CLUSTER)
except Exception:
    cluster = dba.create_cluster(CLUSTER, {"memberSslMode": SSL_MODE, "ipAllowlist": ALLOW,
                                           "localAddress": "%s:%d" % (target(), GROUP_PORT)})
report(cluster)
`,
		// Run on the seed member for each joiner, one at a time.
		"add_instance": header + `
import re
seed = os.environ["ERAWAN_SEED"]
shell.connect(admin_uri(seed))
cluster = dba.get_cluster(CLUSTER)
host = target()
try:
    cluster.add_instance(admin_uri(host), {"recoveryMethod": "clone", "label": os.environ["ERAWAN_LABEL"],
                                           "ipAllowlist": ALLOW, "localAddress": "%s:%d" % (host, GROUP_PORT)})
except Exception as e:
    print("add_instance: " + str(e))
report(cluster)
`,
		"remove_instance": header + `
shell.connect(admin_uri(os.environ["ERAWAN_SEED"]))
cluster = dba.get_cluster(CLUSTER)
try:
    cluster.remove_instance(admin_uri(target()), {"force": os.environ.get("ERAWAN_FORCE") == "1"})
except Exception as e:
    print("remove_instance: " + str(e))
report(cluster)
`,
		"set_primary": header + `
shell.connect(admin_uri(os.environ["ERAWAN_SEED"]))
cluster = dba.get_cluster(CLUSTER)
cluster.set_primary_instance("%s:%d" % (target(), PORT))
report(cluster)
`,
		"rejoin_instance": header + `
shell.connect(admin_uri(os.environ["ERAWAN_SEED"]))
cluster = dba.get_cluster(CLUSTER)
try:
    cluster.rejoin_instance(admin_uri(target()))
except Exception as e:
    print("rejoin_instance: " + str(e))
report(cluster)
`,
		"status": header + `
shell.connect(admin_uri(target()))
report(dba.get_cluster(CLUSTER))
`,
		"dissolve": header + `
shell.connect(admin_uri(target()))
try:
    dba.get_cluster(CLUSTER).dissolve({"force": True})
    print("ERAWAN_STATUS " + json.dumps({"dissolved": True}))
except Exception as e:
    print("ERAWAN_STATUS " + json.dumps({"error": str(e)}))
`,
	}
}

// ClusterStatus is the part of MySQL Shell's cluster.status() this provider
// uses. Field names follow the documented output of 8.0, 8.4 and 9.x.
type ClusterStatus struct {
	Name       string           // clusterName
	Status     string           // defaultReplicaSet.status: OK, OK_PARTIAL, OK_NO_TOLERANCE, NO_QUORUM, …
	StatusText string           // defaultReplicaSet.statusText
	Primary    string           // defaultReplicaSet.primary, "host:port"
	Members    []AdminAPIMember // defaultReplicaSet.topology, sorted by address
}

// AdminAPIMember is one entry of defaultReplicaSet.topology.
type AdminAPIMember struct {
	Label   string // the topology key
	Address string // "host:port"
	Role    string // memberRole: PRIMARY or SECONDARY
	Mode    string // R/W or R/O
	Status  string // ONLINE, RECOVERING, (MISSING), …
	Version string
	// Lag is the replication lag as reported: replicationLag (8.0) or
	// replicationLagFromOriginalSource (8.4 and later); "applier_queue_applied"
	// or a "HH:MM:SS.ffffff" duration, or "" when absent or null.
	Lag string
}

// Healthy reports an OK status (full fault tolerance) with every member ONLINE.
func (c *ClusterStatus) Healthy() bool {
	if c.Status != "OK" {
		return false
	}
	for _, m := range c.Members {
		if m.Status != StateOnline {
			return false
		}
	}
	return true
}

// ParseClusterStatus parses the JSON of cluster.status(). It reads loosely:
// unknown fields are ignored and missing ones stay empty, because the lag
// field names changed in 9.x.
func ParseClusterStatus(b []byte) (*ClusterStatus, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("cluster.status(): %w", err)
	}
	if e, ok := raw["error"].(string); ok {
		return nil, fmt.Errorf("cluster.status(): %s", e)
	}
	rs, ok := raw["defaultReplicaSet"].(map[string]any)
	if !ok {
		return nil, errors.New("cluster.status(): no defaultReplicaSet")
	}
	cs := &ClusterStatus{Name: str(raw["clusterName"]), Status: str(rs["status"]), StatusText: str(rs["statusText"]), Primary: str(rs["primary"])}
	topo, _ := rs["topology"].(map[string]any)
	for label, v := range topo {
		m, _ := v.(map[string]any)
		if m == nil {
			continue
		}
		am := AdminAPIMember{Label: label, Address: str(m["address"]), Role: str(m["memberRole"]), Mode: str(m["mode"]),
			Status: str(m["status"]), Version: str(m["version"])}
		if am.Address == "" {
			am.Address = label
		}
		for _, k := range []string{"replicationLagFromOriginalSource", "replicationLag", "replicationLagFromImmediateSource"} {
			if s := str(m[k]); s != "" {
				am.Lag = s
				break
			}
		}
		cs.Members = append(cs.Members, am)
	}
	sort.Slice(cs.Members, func(i, j int) bool { return cs.Members[i].Address < cs.Members[j].Address })
	return cs, nil
}

// StatusLine extracts and parses the last "ERAWAN_STATUS {json}" line of a
// script's output.
func StatusLine(out string) (*ClusterStatus, error) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "ERAWAN_STATUS "); ok {
			return ParseClusterStatus([]byte(rest))
		}
	}
	return nil, errors.New("the script printed no ERAWAN_STATUS line")
}

func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// AdminAPIStatusCommand returns the command and standard input with which
// Read asks MySQL Shell for cluster.status() on the member at addr: the admin
// password is the first line of standard input (read by the shell into the
// environment, never an argument), the status script the rest.
func (s *Spec) AdminAPIStatusCommand(addr, sudo string) (cmd string, stdin []byte) {
	cmd = sudo + `sh -c 'IFS= read -r ` + AdminAPIPasswordEnv + `; export ` + AdminAPIPasswordEnv + `; ERAWAN_TARGET=` + net.JoinHostPort(addr, strconv.Itoa(s.MySQLPort)) +
		`; export ERAWAN_TARGET; exec mysqlsh --no-wizard --py -f /dev/stdin'`
	return cmd, []byte(s.AdminPassword + "\n" + s.AdminAPIScripts()["status"])
}

// StatusDrift turns an AdminAPI cluster.status() into drift sentences: any
// status but OK, and members that are not ONLINE.
func (c *ClusterStatus) StatusDrift() []string {
	var out []string
	if c.Status != "OK" {
		out = append(out, fmt.Sprintf("cluster.status() reports %s: %s", c.Status, c.StatusText))
	}
	for _, m := range c.Members {
		if m.Status != StateOnline {
			out = append(out, fmt.Sprintf("cluster.status() reports %s as %s", m.Address, m.Status))
		}
	}
	return out
}
