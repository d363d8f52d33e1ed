package pgcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Etcd states reported per node.
const (
	EtcdHealthy   = "healthy"
	EtcdUnhealthy = "unhealthy"
	EtcdUnknown   = "unknown"
)

// NodeStatus is what one node told us.
type NodeStatus struct {
	topology.NodeStatus
	PatroniUp bool             // GET /cluster answered on this node
	Etcd      string           // EtcdHealthy, EtcdUnhealthy or EtcdUnknown (from GET /health on the client port)
	View      *patroni.Cluster // this node's GET /cluster
}

// Observation is the state of a cluster read directly from its nodes.
type Observation struct {
	Nodes      []NodeStatus
	Cluster    *patroni.Cluster  // the best view: from the leader if it answered, else any member
	Parameters map[string]string // postgresql.parameters of GET /config, nil when unknown
	SyncMode   *bool             // synchronous_mode of GET /config, nil when unknown
}

// Statuses returns each node's reachability, in the order probed.
func (o *Observation) Statuses() []topology.NodeStatus { return topology.Statuses(o.Nodes) }

// Reachable counts nodes that answered over SSH.
func (o *Observation) Reachable() int { return topology.Reachable(o.Nodes) }

// Gone reports that every node answered over SSH, none holds the marker of
// resource id (or one that could not be read) and no Patroni answers for the
// scope: the only case in which the resource may be dropped from state.
func (o *Observation) Gone(id string) bool {
	for _, s := range o.Nodes {
		if !s.Reached() || !s.OwnerKnown || s.Owner == id || s.PatroniUp {
			return false
		}
	}
	return len(o.Nodes) > 0
}

// Observe probes every node in parallel over the pooled SSH connections,
// each within perHost: Patroni's GET /cluster and etcd's GET /health through
// port forwarding to the node's own address, and, when Patroni does not
// answer, whether the cluster's marker file exists. It never returns an error:
// failures are recorded per node.
func Observe(ctx context.Context, pool *sshclient.Pool, sudo, name string, nodes []topology.Member, patroniPort, etcdClientPort int, perHost time.Duration) *Observation {
	obs := &Observation{Nodes: topology.Probe(ctx, nodes, perHost, func(hctx context.Context, n topology.Member) NodeStatus {
		return observeNode(hctx, pool, sudo, name, n, patroniPort, etcdClientPort, perHost)
	})}
	for _, s := range obs.Nodes {
		if s.View == nil {
			continue
		}
		if obs.Cluster == nil {
			obs.Cluster = s.View
		}
		if l := s.View.Leader(); l != nil && l.Name == s.Name {
			obs.Cluster = s.View
			break
		}
	}
	for _, s := range obs.Nodes {
		if !s.PatroniUp {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, perHost)
		c := &patroni.Client{HTTP: pool.HTTPClient(s.Address, perHost), BaseURL: restURL(s.Address, patroniPort)}
		cfg, err := c.Config(hctx)
		cancel()
		if err == nil {
			obs.Parameters = patroni.ParametersFromConfig(cfg)
			if v, ok := cfg["synchronous_mode"].(bool); ok {
				obs.SyncMode = &v
			} else {
				f := false
				obs.SyncMode = &f
			}
			break
		}
	}
	return obs
}

func restURL(addr string, port int) string {
	return "http://" + net.JoinHostPort(addr, strconv.Itoa(port))
}

func observeNode(ctx context.Context, pool *sshclient.Pool, sudo, name string, n topology.Member, patroniPort, etcdPort int, timeout time.Duration) NodeStatus {
	st := NodeStatus{NodeStatus: topology.NodeStatus{Member: n}, Etcd: EtcdUnknown}
	if _, err := pool.Client(ctx, n.Address); err != nil {
		st.SSHError = err
		return st
	}
	hc := pool.HTTPClient(n.Address, timeout)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		c := &patroni.Client{HTTP: hc, BaseURL: restURL(n.Address, patroniPort)}
		if v, err := c.Cluster(ctx); err == nil && (v.Scope == "" || v.Scope == name) {
			st.View, st.PatroniUp = v, true
		}
	}()
	go func() {
		defer wg.Done()
		st.Owner, st.OwnerKnown = readOwner(ctx, pool, sudo, n.Address, MarkerPath(name))
	}()
	go func() {
		defer wg.Done()
		st.Etcd = etcdHealth(ctx, hc, restURL(n.Address, etcdPort)+"/health")
	}()
	wg.Wait()
	return st
}

// MarkerPath is where a Patroni cluster's marker lives on its nodes.
func MarkerPath(name string) string { return "/etc/erawan/" + name + "/erawan.json" }

// readOwner returns the resource id in the marker at path on addr ("" when
// there is none) and whether it could be read.
func readOwner(ctx context.Context, pool *sshclient.Pool, sudo, addr, path string) (string, bool) {
	out, err := pool.Run(ctx, addr, sudo+"sh -s", []byte(topology.MarkerIDScript(path)))
	value, ok := strings.CutPrefix(strings.TrimRight(string(out), "\r\n"), "marker\t")
	if err != nil || !ok {
		return "", false
	}
	owner, _, known := topology.ParseMarkerLine(value)
	return owner, known
}

func etcdHealth(ctx context.Context, hc *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return EtcdUnknown
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return EtcdUnknown
		}
		return EtcdUnhealthy // refused: nothing listens on the client port
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h struct {
		Health any `json:"health"`
	}
	if json.Unmarshal(b, &h) == nil && fmt.Sprint(h.Health) == "true" && resp.StatusCode == 200 {
		return EtcdHealthy
	}
	return EtcdUnhealthy
}

// Drift is how an observed cluster differs from the desired members.
// Unreachable nodes are not drift (Read warns about them instead). It is
// kept in private state between Read and plan, and becomes sentences only
// in the plan's warning.
type Drift struct {
	NoRESTAPI      bool              `json:"no_rest_api,omitempty"`     // no member's Patroni REST API answered
	Leaders        *int              `json:"leaders,omitempty"`         // the number of leaders, when it is not 1
	Missing        []topology.Member `json:"missing,omitempty"`         // desired members absent from GET /cluster
	NotRunning     []MemberState     `json:"not_running,omitempty"`     // members whose Patroni state is not running
	NotStreaming   []MemberState     `json:"not_streaming,omitempty"`   // replicas that do not stream
	PendingRestart []string          `json:"pending_restart,omitempty"` // members with pending_restart set
	EtcdDown       []topology.Member `json:"etcd_down,omitempty"`       // members whose etcd does not answer GET /health
}

// MemberState is a member name and the state Patroni reports for it.
type MemberState struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Empty reports that nothing drifted.
func (d Drift) Empty() bool {
	return !d.NoRESTAPI && d.Leaders == nil && len(d.Missing) == 0 && len(d.NotRunning) == 0 &&
		len(d.NotStreaming) == 0 && len(d.PendingRestart) == 0 && len(d.EtcdDown) == 0
}

// Sentences says what drifted, one sentence per finding, for the plan's warning.
func (d Drift) Sentences() []string {
	var out []string
	if d.NoRESTAPI {
		out = append(out, "no member's Patroni REST API answered")
	}
	if d.Leaders != nil {
		out = append(out, fmt.Sprintf("the cluster has %d leaders, want 1", *d.Leaders))
	}
	for _, m := range d.Missing {
		out = append(out, fmt.Sprintf("member %s (%s) is missing from the cluster (Patroni not running there)", m.Name, m.Address))
	}
	for _, m := range d.NotRunning {
		out = append(out, fmt.Sprintf("member %s: Patroni reports state %q", m.Name, m.State))
	}
	for _, m := range d.NotStreaming {
		out = append(out, fmt.Sprintf("member %s is not streaming (state %q)", m.Name, m.State))
	}
	for _, n := range d.PendingRestart {
		out = append(out, fmt.Sprintf("member %s has pending_restart set (a parameter change waits for a restart)", n))
	}
	for _, m := range d.EtcdDown {
		out = append(out, fmt.Sprintf("etcd on %s (%s) is down", m.Name, m.Address))
	}
	return out
}

// Drift compares the observation with the desired members. A leader is a
// member holding Patroni's leader lock: role leader, or standby_leader in a
// standby cluster, as patroni.Cluster.Leader counts it.
func (o *Observation) Drift(want []topology.Member) Drift {
	var d Drift
	if o.Reachable() == 0 {
		return d
	}
	if o.Cluster == nil {
		d.NoRESTAPI = true
		return d
	}
	leaders := 0
	for _, m := range o.Cluster.Members {
		if m.Role == patroni.RoleLeader || m.Role == patroni.RoleStandbyLeader {
			leaders++
		}
	}
	if leaders != 1 {
		d.Leaders = &leaders
	}
	status := topology.ByName(o.Nodes)
	for _, n := range want {
		s, known := status[n.Name]
		m := o.Cluster.Member(n.Name)
		switch {
		case m == nil:
			if known && !s.Reached() {
				continue
			}
			d.Missing = append(d.Missing, n)
		case !m.Running():
			d.NotRunning = append(d.NotRunning, MemberState{n.Name, m.State})
		case m.Role != patroni.RoleLeader && m.Role != patroni.RoleStandbyLeader && !o.Cluster.Streaming(*m):
			d.NotStreaming = append(d.NotStreaming, MemberState{n.Name, m.State})
		}
		if m != nil && m.PendingRestart {
			d.PendingRestart = append(d.PendingRestart, n.Name)
		}
		if known && s.Reached() && s.Etcd == EtcdUnhealthy {
			d.EtcdDown = append(d.EtcdDown, n)
		}
	}
	return d
}
