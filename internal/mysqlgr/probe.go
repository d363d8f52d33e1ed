package mysqlgr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
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
	CheckActive   bool          // the primary-check unit is active
	RouterActive  bool          // the router unit is active
	MySQLSh       bool          // mysqlsh is on PATH
	MySQLUp       bool          // the mysql client reached the server over the socket
	MySQLError    string        // the client's error when it did not
	ServerUUID    string        // @@server_uuid
	Version       string        // @@version
	GroupName     string        // group_replication_group_name, empty without the plugin
	Members       []GroupMember // this node's view of the group
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
		" SELECT 'member', MEMBER_ID, MEMBER_HOST, IFNULL(MEMBER_PORT,0), MEMBER_STATE, MEMBER_ROLE, MEMBER_VERSION FROM performance_schema.replication_group_members;"
	return `test -e /etc/erawan/mysql-` + name + `/erawan.json && echo "marker	present" || echo "marker	absent"
echo "check	$(systemctl is-active erawan-mysql-check-` + name + ` 2>/dev/null)"
echo "router	$(systemctl is-active erawan-mysqlrouter-` + name + ` 2>/dev/null)"
command -v mysqlsh >/dev/null 2>&1 && echo "mysqlsh	yes" || echo "mysqlsh	no"
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
			p.MarkerPresent = len(f) > 1 && f[1] == "present"
		case "check":
			p.CheckActive = len(f) > 1 && f[1] == "active"
		case "router":
			p.RouterActive = len(f) > 1 && f[1] == "active"
		case "mysqlsh":
			p.MySQLSh = len(f) > 1 && f[1] == "yes"
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
	Node
	SSHError error      // non-nil when the node could not be reached or probed
	Probe    *NodeProbe // nil when SSHError is set
}

// Observation is the state of a cluster read directly from its nodes.
type Observation struct {
	Nodes []NodeStatus
	// View is the group as seen by an ONLINE member (the primary's view
	// when it answered), nil when no member is ONLINE.
	View []GroupMember
}

// Observe probes every node in parallel over the pooled SSH connections,
// each within perHost. It never fails as a whole: errors are per node.
func Observe(ctx context.Context, pool *sshclient.Pool, name, sudo string, nodes []Node, perHost time.Duration) *Observation {
	obs := &Observation{Nodes: make([]NodeStatus, len(nodes))}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func(i int, n Node) {
			defer wg.Done()
			hctx, cancel := context.WithTimeout(ctx, perHost)
			defer cancel()
			st := NodeStatus{Node: n}
			out, err := pool.Run(hctx, n.Address, sudo+"sh -s", []byte(ProbeScript(name)))
			if err == nil {
				st.Probe, err = ParseProbe(string(out))
			}
			st.SSHError = err
			obs.Nodes[i] = st
		}(i, n)
	}
	wg.Wait()
	for _, s := range obs.Nodes {
		if s.Probe == nil {
			continue
		}
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

// Reachable counts nodes that answered the probe.
func (o *Observation) Reachable() int {
	n := 0
	for _, s := range o.Nodes {
		if s.Probe != nil {
			n++
		}
	}
	return n
}

// Gone reports that every node answered and none holds the cluster (no
// marker, not in a group): the only case in which Read drops the resource.
func (o *Observation) Gone() bool {
	for _, s := range o.Nodes {
		if s.Probe == nil || s.Probe.MarkerPresent || len(s.Probe.Members) > 0 {
			return false
		}
	}
	return len(o.Nodes) > 0
}

// Member returns the group row of the node at address, from the group's
// view or, failing that, the node's own view of itself.
func (o *Observation) Member(n Node) *GroupMember {
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

// Drift lists, in words, how the observed cluster differs from the desired
// members. Unreachable nodes are not drift (Read warns about them instead).
func (o *Observation) Drift(want []Node, groupName string, router bool) []string {
	if o.Reachable() == 0 {
		return nil
	}
	if o.CompleteOutage() {
		return []string{"no member is ONLINE: a complete outage (apply will stop and explain how to recover)"}
	}
	if o.View == nil {
		return []string{"no member of the group is ONLINE"}
	}
	var out []string
	primaries := 0
	for _, m := range o.View {
		if m.Role == RolePrimary && m.State == StateOnline {
			primaries++
		}
	}
	if primaries != 1 {
		out = append(out, fmt.Sprintf("the group has %d ONLINE primaries, want 1", primaries))
	}
	status := map[string]NodeStatus{}
	for _, s := range o.Nodes {
		status[s.Name] = s
	}
	for _, n := range want {
		s := status[n.Name]
		if s.Probe == nil {
			continue
		}
		m := o.Member(n)
		switch {
		case !s.Probe.MySQLUp:
			out = append(out, fmt.Sprintf("member %s (%s): MySQL does not answer: %s", n.Name, n.Address, s.Probe.MySQLError))
			continue
		case groupName != "" && s.Probe.GroupName != groupName:
			out = append(out, fmt.Sprintf("member %s (%s) is configured for group %q, not %q", n.Name, n.Address, s.Probe.GroupName, groupName))
		case m == nil:
			out = append(out, fmt.Sprintf("member %s (%s) is missing from the group", n.Name, n.Address))
		case m.State != StateOnline:
			out = append(out, fmt.Sprintf("member %s (%s) is %s, not ONLINE", n.Name, n.Address, m.State))
		}
		if !s.Probe.CheckActive {
			out = append(out, fmt.Sprintf("the primary-check service on %s (%s) is not running", n.Name, n.Address))
		}
		if router && !s.Probe.RouterActive {
			out = append(out, fmt.Sprintf("MySQL Router on %s (%s) is not running", n.Name, n.Address))
		}
	}
	return out
}
