package mysqlgr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Member states of performance_schema.replication_group_members.MEMBER_STATE.
const (
	StateOnline      = "ONLINE"
	StateRecovering  = "RECOVERING"
	StateOffline     = "OFFLINE"
	StateError       = "ERROR"
	StateUnreachable = "UNREACHABLE"
	RolePrimary      = "PRIMARY"
	RoleSecondary    = "SECONDARY"
)

// GroupMember is one row of performance_schema.replication_group_members.
type GroupMember struct {
	ID      string // MEMBER_ID (the member's server_uuid)
	Host    string // MEMBER_HOST (report_host: the node address)
	Port    int    // MEMBER_PORT
	State   string // MEMBER_STATE: ONLINE, RECOVERING, OFFLINE, ERROR, UNREACHABLE
	Role    string // MEMBER_ROLE: PRIMARY, SECONDARY (empty when not in a group)
	Version string // MEMBER_VERSION
}

// NodeProbe is what one node reported over SSH (see ProbeScript).
type NodeProbe struct {
	MarkerPresent bool          // /etc/erawan/mysql-<name>/erawan.json exists
	MarkerID      string        // the resource id it holds ("" when absent or unreadable)
	CheckActive   bool          // the primary-check unit is active
	RouterActive  bool          // the router unit is active
	MySQLSh       bool          // mysqlsh is on PATH
	MySQLUp       bool          // the mysql client reached the server over the socket
	MySQLError    string        // the client's error when it did not
	ServerUUID    string        // @@server_uuid
	Version       string        // @@version
	GroupName     string        // group_replication_group_name, empty without the plugin
	Members       []GroupMember // this node's view of the group
	// CertFile says whether TLSDir(name)/node.crt exists, and CertPEM is
	// its content ("" when absent).
	CertFile bool
	CertPEM  string
	// KeyMismatch says node.key does not belong to node.crt (an install
	// that stopped between the two files): the certificate cannot be used.
	KeyMismatch bool
	// SSLCert is the certificate file the server uses (@@ssl_cert), and
	// ServedExpiry when the certificate it presents to clients expires
	// (status variable Ssl_server_not_after, which ALTER INSTANCE RELOAD TLS
	// updates); zero when the server reports none.
	SSLCert      string
	ServedExpiry time.Time
	// UsesNodeCert says SSLCert is the cluster's node.crt (set by Observe).
	UsesNodeCert bool
}

// Self returns this node's own row in its view of the group, or nil.
func (p *NodeProbe) Self() *GroupMember {
	for i := range p.Members {
		if p.Members[i].ID != "" && p.Members[i].ID == p.ServerUUID {
			return &p.Members[i]
		}
	}
	return nil
}

// ProbeScript is the shell script Read runs on each node, as root (through
// sudo -n for another login user), fed on standard input to `sh -s`: the
// marker, the units, then one mysql client call over the root socket. name
// must be a validated cluster name.
func ProbeScript(name string) string {
	q := "SELECT 'self', @@server_uuid, @@version, IFNULL((SELECT VARIABLE_VALUE FROM performance_schema.global_variables WHERE VARIABLE_NAME='group_replication_group_name'),'');" +
		" SELECT 'sslcert', IFNULL(@@ssl_cert,'');" +
		" SELECT 'sslexp', VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME='Ssl_server_not_after';" +
		" SELECT 'member', MEMBER_ID, MEMBER_HOST, IFNULL(MEMBER_PORT,0), MEMBER_STATE, MEMBER_ROLE, MEMBER_VERSION FROM performance_schema.replication_group_members;"
	return topology.MarkerIDScript("/etc/erawan/mysql-"+name+"/erawan.json") + `
echo "check	$(systemctl is-active erawan-mysql-check-` + name + ` 2>/dev/null)"
echo "router	$(systemctl is-active erawan-mysqlrouter-` + name + ` 2>/dev/null)"
command -v mysqlsh >/dev/null 2>&1 && echo "mysqlsh	yes" || echo "mysqlsh	no"
if [ -f ` + TLSDir(name) + `/node.crt ]; then echo "certfile	present"; awk '{print "cert\t" $0}' ` + TLSDir(name) + `/node.crt; else echo "certfile	absent"; fi
if [ -f ` + TLSDir(name) + `/node.crt ] && [ -f ` + TLSDir(name) + `/node.key ]; then
  c=$(openssl x509 -noout -pubkey -in ` + TLSDir(name) + `/node.crt 2>/dev/null | sha256sum); k=$(openssl pkey -pubout -in ` + TLSDir(name) + `/node.key 2>/dev/null | sha256sum)
  [ "$c" = "$k" ] && echo "keymatch	yes" || echo "keymatch	no"
fi
if out=$(mysql --protocol=socket -u root -N -B -e "` + q + `" 2>&1); then printf '%s\n' "$out"; else printf 'mysqlerror\t%s\n' "$(printf '%s' "$out" | head -n 1)"; fi
`
}

// ParseProbe parses the output of ProbeScript: tab-separated lines.
func ParseProbe(out string) (*NodeProbe, error) {
	p := &NodeProbe{}
	sawMySQL := false
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch f[0] {
		case "marker":
			if len(f) > 1 {
				p.MarkerID, p.MarkerPresent, _ = topology.ParseMarkerLine(f[1])
			}
		case "check":
			p.CheckActive = len(f) > 1 && f[1] == "active"
		case "router":
			p.RouterActive = len(f) > 1 && f[1] == "active"
		case "mysqlsh":
			p.MySQLSh = len(f) > 1 && f[1] == "yes"
		case "certfile":
			p.CertFile = len(f) > 1 && f[1] == "present"
		case "cert":
			p.CertPEM += strings.Join(f[1:], "\t") + "\n"
		case "keymatch":
			p.KeyMismatch = len(f) > 1 && f[1] == "no"
		case "sslcert":
			if len(f) > 1 {
				p.SSLCert = f[1]
			}
		case "sslexp":
			if len(f) > 1 && f[1] != "" {
				// "Dec  4 02:16:07 2027 GMT", as OpenSSL prints notAfter.
				if at, err := time.Parse("Jan _2 15:04:05 2006 MST", strings.Join(strings.Fields(f[1]), " ")); err == nil {
					p.ServedExpiry = at.UTC()
				}
			}
		case "mysqlerror":
			sawMySQL = true
			p.MySQLError = strings.TrimSpace(strings.Join(f[1:], " "))
		case "self":
			if len(f) != 4 {
				return nil, fmt.Errorf("probe: bad self line %q", line)
			}
			sawMySQL, p.MySQLUp = true, true
			p.ServerUUID, p.Version, p.GroupName = f[1], f[2], f[3]
		case "member":
			if len(f) != 7 {
				return nil, fmt.Errorf("probe: bad member line %q", line)
			}
			port, _ := strconv.Atoi(f[3])
			m := GroupMember{ID: f[1], Host: f[2], Port: port, State: f[4], Role: f[5], Version: f[6]}
			if m.ID == "" && m.Host == "" {
				continue // the plugin's placeholder row when the member is not in a group
			}
			p.Members = append(p.Members, m)
		case "":
		default:
			return nil, fmt.Errorf("probe: unexpected line %q", line)
		}
	}
	if !sawMySQL {
		return nil, errors.New("probe: no answer from the mysql client")
	}
	return p, nil
}

// NodeStatus is what Observe learnt about one node.
type NodeStatus struct {
	topology.NodeStatus            // SSHError is also set when the probe's output did not parse
	Probe               *NodeProbe // nil when SSHError is set
}

// Observation is the state of a cluster read directly from its nodes.
type Observation struct {
	Nodes []NodeStatus
	// View is the group as seen by an ONLINE member (the primary's view
	// when it answered), nil when no member is ONLINE.
	View []GroupMember
}

// Observe probes every node in parallel over the pooled SSH connections,
// each within perHost, with ProbeScript run as root (sudo is "" or
// "sudo -n "). It never fails as a whole: errors are per node.
func Observe(ctx context.Context, pool *sshclient.Pool, name, sudo string, nodes []topology.Member, perHost time.Duration) *Observation {
	return NewObservation(topology.Probe(ctx, nodes, perHost, func(hctx context.Context, n topology.Member) NodeStatus {
		st := NodeStatus{NodeStatus: topology.NodeStatus{Member: n}}
		out, err := pool.Run(hctx, n.Address, sudo+"sh -s", []byte(ProbeScript(name)))
		if err == nil {
			st.Probe, err = ParseProbe(string(out))
		}
		if err == nil {
			st.Probe.UsesNodeCert = st.Probe.SSLCert == TLSDir(name)+"/node.crt"
		}
		st.SSHError = err
		return st
	}))
}

// NewObservation records each probed node's marker owner and chooses the
// group view from per-node probes: the view of an ONLINE member, the
// primary's when it answered.
func NewObservation(nodes []NodeStatus) *Observation {
	obs := &Observation{Nodes: nodes}
	for i, s := range nodes {
		if s.Probe == nil {
			continue
		}
		nodes[i].Owner = s.Probe.MarkerID
		nodes[i].OwnerKnown = !s.Probe.MarkerPresent || s.Probe.MarkerID != ""
		self := s.Probe.Self()
		if self == nil || self.State != StateOnline {
			continue
		}
		if obs.View == nil || self.Role == RolePrimary {
			obs.View = s.Probe.Members
		}
	}
	return obs
}

// Statuses returns each node's reachability, in the order probed.
func (o *Observation) Statuses() []topology.NodeStatus { return topology.Statuses(o.Nodes) }

// Reachable counts nodes that answered the probe (SSHError is set whenever
// Probe is nil).
func (o *Observation) Reachable() int { return topology.Reachable(o.Nodes) }

// Gone reports that every node answered, none holds the marker of resource
// id (or a marker whose id could not be read), and none is in a group: the
// only case in which Read drops the resource.
func (o *Observation) Gone(id string) bool {
	for _, s := range o.Nodes {
		if s.Probe == nil || !s.OwnerKnown || s.Owner == id || len(s.Probe.Members) > 0 {
			return false
		}
	}
	return len(o.Nodes) > 0
}

// Member returns the group row of the node at address, from the group's
// view or, failing that, the node's own view of itself.
func (o *Observation) Member(n topology.Member) *GroupMember {
	for i := range o.View {
		if o.View[i].Host == n.Address {
			return &o.View[i]
		}
	}
	for _, s := range o.Nodes {
		if s.Name == n.Name && s.Probe != nil {
			if self := s.Probe.Self(); self != nil {
				return self
			}
		}
	}
	return nil
}

// Primary returns the address of the ONLINE primary, or "".
func (o *Observation) Primary() string {
	for _, m := range o.View {
		if m.Role == RolePrimary && m.State == StateOnline {
			return m.Host
		}
	}
	return ""
}

// CompleteOutage reports that nodes answered, none is ONLINE, and at least
// one holds this cluster's group data: a complete outage that needs the
// operator, never a new bootstrap.
func (o *Observation) CompleteOutage() bool {
	if o.View != nil {
		return false
	}
	for _, s := range o.Nodes {
		if s.Probe != nil && s.Probe.MarkerPresent {
			return true
		}
	}
	return false
}

// Drift is how an observed cluster differs from the desired members.
// Unreachable nodes are not drift (Read warns about them instead). It is
// kept in private state between Read and plan, and becomes sentences only
// in the plan's warning.
type Drift struct {
	CompleteOutage bool              `json:"complete_outage,omitempty"` // no member ONLINE, the group's data on the nodes
	NoOnline       bool              `json:"no_online,omitempty"`       // no member ONLINE (and no marker answered)
	Primaries      *int              `json:"primaries,omitempty"`       // ONLINE primaries, when not 1
	MySQLDown      []MemberProblem   `json:"mysql_down,omitempty"`      // the mysql client got no answer
	WrongGroup     []MemberProblem   `json:"wrong_group,omitempty"`     // group_replication_group_name differs from Group
	Group          string            `json:"group,omitempty"`           // this cluster's group name, with WrongGroup
	Missing        []topology.Member `json:"missing,omitempty"`         // not in the group
	NotOnline      []MemberProblem   `json:"not_online,omitempty"`      // in the group, not ONLINE
	CheckDown      []topology.Member `json:"check_down,omitempty"`      // the primary-check unit is not active
	RouterDown     []topology.Member `json:"router_down,omitempty"`     // the MySQL Router unit is not active
	AdminAPI       []string          `json:"adminapi,omitempty"`        // cluster.status() findings (AdminAPI mode)
}

// MemberProblem is a member and what was found on it: a state, an error,
// or the group name it is configured for.
type MemberProblem struct {
	topology.Member
	Found string `json:"found"`
}

// Empty reports that nothing drifted.
func (d Drift) Empty() bool {
	return !d.CompleteOutage && !d.NoOnline && d.Primaries == nil && len(d.MySQLDown) == 0 && len(d.WrongGroup) == 0 &&
		len(d.Missing) == 0 && len(d.NotOnline) == 0 && len(d.CheckDown) == 0 && len(d.RouterDown) == 0 && len(d.AdminAPI) == 0
}

// Sentences says what drifted, one sentence per finding, for the plan's warning.
func (d Drift) Sentences() []string {
	var out []string
	if d.CompleteOutage {
		out = append(out, "no member is ONLINE: a complete outage (apply will stop and explain how to recover)")
	}
	if d.NoOnline {
		out = append(out, "no member of the group is ONLINE")
	}
	if d.Primaries != nil {
		out = append(out, fmt.Sprintf("the group has %d ONLINE primaries, want 1", *d.Primaries))
	}
	for _, m := range d.MySQLDown {
		out = append(out, fmt.Sprintf("member %s (%s): MySQL does not answer: %s", m.Name, m.Address, m.Found))
	}
	for _, m := range d.WrongGroup {
		out = append(out, fmt.Sprintf("member %s (%s) is configured for group %q, not %q", m.Name, m.Address, m.Found, d.Group))
	}
	for _, m := range d.Missing {
		out = append(out, fmt.Sprintf("member %s (%s) is missing from the group", m.Name, m.Address))
	}
	for _, m := range d.NotOnline {
		out = append(out, fmt.Sprintf("member %s (%s) is %s, not ONLINE", m.Name, m.Address, m.Found))
	}
	for _, m := range d.CheckDown {
		out = append(out, fmt.Sprintf("the primary-check service on %s (%s) is not running", m.Name, m.Address))
	}
	for _, m := range d.RouterDown {
		out = append(out, fmt.Sprintf("MySQL Router on %s (%s) is not running", m.Name, m.Address))
	}
	return append(out, d.AdminAPI...)
}

// Drift compares the observation with the desired members, the cluster's
// group name and whether MySQL Router should run.
func (o *Observation) Drift(want []topology.Member, groupName string, router bool) Drift {
	var d Drift
	if o.Reachable() == 0 {
		return d
	}
	if o.CompleteOutage() {
		d.CompleteOutage = true
		return d
	}
	if o.View == nil {
		d.NoOnline = true
		return d
	}
	primaries := 0
	for _, m := range o.View {
		if m.Role == RolePrimary && m.State == StateOnline {
			primaries++
		}
	}
	if primaries != 1 {
		d.Primaries = &primaries
	}
	status := topology.ByName(o.Nodes)
	for _, n := range want {
		s := status[n.Name]
		if s.Probe == nil {
			continue
		}
		m := o.Member(n)
		switch {
		case !s.Probe.MySQLUp:
			d.MySQLDown = append(d.MySQLDown, MemberProblem{n, s.Probe.MySQLError})
			continue
		case groupName != "" && s.Probe.GroupName != groupName:
			d.WrongGroup, d.Group = append(d.WrongGroup, MemberProblem{n, s.Probe.GroupName}), groupName
		case m == nil:
			d.Missing = append(d.Missing, n)
		case m.State != StateOnline:
			d.NotOnline = append(d.NotOnline, MemberProblem{n, m.State})
		}
		if !s.Probe.CheckActive {
			d.CheckDown = append(d.CheckDown, n)
		}
		if router && !s.Probe.RouterActive {
			d.RouterDown = append(d.RouterDown, n)
		}
	}
	return d
}
