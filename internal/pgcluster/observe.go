package pgcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/patroni"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// Etcd states reported per node.
const (
	EtcdHealthy   = "healthy"
	EtcdUnhealthy = "unhealthy"
	EtcdUnknown   = "unknown"
)

// NodeStatus is what one node told us.
type NodeStatus struct {
	Node
	SSHError   error            // non-nil when the node could not be reached over SSH
	PatroniUp  bool             // GET /cluster answered on this node
	Etcd       string           // EtcdHealthy, EtcdUnhealthy or EtcdUnknown (from GET /health on the client port)
	HasCluster bool             // the node holds this cluster's marker or answered for it
	View       *patroni.Cluster // this node's GET /cluster
}

// Observation is the state of a cluster read directly from its nodes.
type Observation struct {
	Nodes      []NodeStatus
	Cluster    *patroni.Cluster  // the best view: from the leader if it answered, else any member
	Parameters map[string]string // postgresql.parameters of GET /config, nil when unknown
	SyncMode   *bool             // synchronous_mode of GET /config, nil when unknown
}

// Reachable counts nodes that answered over SSH.
func (o *Observation) Reachable() int {
	n := 0
	for _, s := range o.Nodes {
		if s.SSHError == nil {
			n++
		}
	}
	return n
}

// Gone reports that every node answered over SSH and none holds the cluster,
// the only case in which the resource may be dropped from state.
func (o *Observation) Gone() bool {
	for _, s := range o.Nodes {
		if s.SSHError != nil || s.HasCluster {
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
func Observe(ctx context.Context, pool *sshclient.Pool, name string, nodes []Node, patroniPort, etcdClientPort int, perHost time.Duration) *Observation {
	obs := &Observation{Nodes: make([]NodeStatus, len(nodes))}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func(i int, n Node) {
			defer wg.Done()
			hctx, cancel := context.WithTimeout(ctx, perHost)
			defer cancel()
			obs.Nodes[i] = observeNode(hctx, pool, name, n, patroniPort, etcdClientPort, perHost)
		}(i, n)
	}
	wg.Wait()
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
	return "http://" + hostPort(addr, port)
}

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(port)
	}
	return addr + ":" + strconv.Itoa(port)
}

func observeNode(ctx context.Context, pool *sshclient.Pool, name string, n Node, patroniPort, etcdPort int, timeout time.Duration) NodeStatus {
	st := NodeStatus{Node: n, Etcd: EtcdUnknown}
	if _, err := pool.Client(ctx, n.Address); err != nil {
		st.SSHError = err
		return st
	}
	hc := pool.HTTPClient(n.Address, timeout)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c := &patroni.Client{HTTP: hc, BaseURL: restURL(n.Address, patroniPort)}
		if v, err := c.Cluster(ctx); err == nil && (v.Scope == "" || v.Scope == name) {
			st.View, st.PatroniUp, st.HasCluster = v, true, true
		}
	}()
	go func() {
		defer wg.Done()
		st.Etcd = etcdHealth(ctx, hc, "http://"+hostPort(n.Address, etcdPort)+"/health")
	}()
	wg.Wait()
	if !st.HasCluster {
		// Names are validated ([a-z0-9_-]), so this is safe in a shell word.
		out, err := pool.Run(ctx, n.Address, "test -e /etc/erawan/"+name+"/erawan.json && echo present || echo absent", nil)
		if err != nil {
			var ce *sshclient.CommandError
			if !errors.As(err, &ce) {
				st.SSHError = err
			}
			st.HasCluster = true // unsure: keep the resource
		} else {
			st.HasCluster = strings.TrimSpace(string(out)) == "present"
		}
	}
	return st
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

// Drift lists, in words, how the observed cluster differs from the desired
// members. Unreachable nodes are not drift (they are warned about instead).
func (o *Observation) Drift(want []Node) []string {
	var out []string
	if o.Reachable() == 0 {
		return nil
	}
	if o.Cluster == nil {
		return []string{"no member's Patroni REST API answered"}
	}
	leaders := 0
	for _, m := range o.Cluster.Members {
		if m.Role == patroni.RoleLeader {
			leaders++
		}
	}
	if leaders != 1 {
		out = append(out, fmt.Sprintf("the cluster has %d leaders, want 1", leaders))
	}
	status := map[string]NodeStatus{}
	for _, s := range o.Nodes {
		status[s.Name] = s
	}
	for _, n := range want {
		s, known := status[n.Name]
		m := o.Cluster.Member(n.Name)
		switch {
		case m == nil:
			if known && s.SSHError != nil {
				continue
			}
			out = append(out, fmt.Sprintf("member %s (%s) is missing from the cluster (Patroni not running there)", n.Name, n.Address))
		case !m.Running():
			out = append(out, fmt.Sprintf("member %s: Patroni reports state %q", n.Name, m.State))
		case m.Role != patroni.RoleLeader && m.Role != patroni.RoleStandbyLeader && !o.Cluster.Streaming(*m):
			out = append(out, fmt.Sprintf("member %s is not streaming (state %q)", n.Name, m.State))
		}
		if m != nil && m.PendingRestart {
			out = append(out, fmt.Sprintf("member %s has pending_restart set (a parameter change waits for a restart)", n.Name))
		}
		if known && s.SSHError == nil && s.Etcd == EtcdUnhealthy {
			out = append(out, fmt.Sprintf("etcd on %s (%s) is down", n.Name, n.Address))
		}
	}
	return out
}
