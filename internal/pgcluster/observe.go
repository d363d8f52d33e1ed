package pgcluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// CertExpiry is when the certificate this node's REST API served
	// expires (the node certificate, which etcd and PostgreSQL share), from
	// the verified TLS handshake; zero without TLS or without an answer.
	CertExpiry time.Time
	// CertPEM is the node certificate file as found on the node (with
	// TLS; "" when there is none); CertRead says whether it could be read.
	CertPEM  string
	CertRead bool
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

// Probe is how Observe reaches a cluster's services.
type Probe struct {
	Sudo           string // command prefix for root on the nodes ("" or "sudo -n ")
	Name           string // Patroni scope
	PatroniPort    int
	EtcdClientPort int
	PerHost        time.Duration
	// TLS, when set, reads Patroni's REST API over HTTPS, verifying it
	// against the cluster CA in RootCAs. Nil: plain HTTP.
	TLS *tls.Config
	// EtcdTLS is TLS with a client certificate of the cluster CA, for etcd
	// (which requires one). Nil while TLS is set: etcdctl on each node
	// checks its own etcd with the node's certificate instead.
	EtcdTLS *tls.Config
}

func (p Probe) scheme() string {
	if p.TLS != nil {
		return "https"
	}
	return "http"
}

func (p Probe) url(addr string, port int) string {
	return p.scheme() + "://" + net.JoinHostPort(addr, strconv.Itoa(port))
}

// Observe probes every node in parallel over the pooled SSH connections,
// each within p.PerHost: Patroni's GET /cluster and etcd's GET /health
// through port forwarding to the node's own address, and whether the
// cluster's marker file exists. It never returns an error: failures are
// recorded per node.
func Observe(ctx context.Context, pool *sshclient.Pool, p Probe, nodes []topology.Member) *Observation {
	perHost := p.PerHost
	obs := &Observation{Nodes: topology.Probe(ctx, nodes, perHost, func(hctx context.Context, n topology.Member) NodeStatus {
		return observeNode(hctx, pool, p, n)
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
		c := &patroni.Client{HTTP: pool.HTTPSClient(s.Address, perHost, p.TLS), BaseURL: p.url(s.Address, p.PatroniPort)}
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

func observeNode(ctx context.Context, pool *sshclient.Pool, p Probe, n topology.Member) NodeStatus {
	st := NodeStatus{NodeStatus: topology.NodeStatus{Member: n}, Etcd: EtcdUnknown}
	if _, err := pool.Client(ctx, n.Address); err != nil {
		st.SSHError = err
		return st
	}
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		if p.TLS == nil {
			return
		}
		out, err := pool.Run(ctx, n.Address, p.Sudo+"cat "+NodeCertPath(p.Name)+" 2>/dev/null; true", nil)
		st.CertPEM, st.CertRead = string(out), err == nil
	}()
	go func() {
		defer wg.Done()
		var expiry atomic.Int64 // a handshake may outlive this call when ctx ends
		c := &patroni.Client{HTTP: pool.HTTPSClient(n.Address, p.PerHost, recordExpiry(p.TLS, &expiry)), BaseURL: p.url(n.Address, p.PatroniPort)}
		if v, err := c.Cluster(ctx); err == nil && (v.Scope == "" || v.Scope == p.Name) {
			st.View, st.PatroniUp = v, true
			if e := expiry.Load(); e != 0 {
				st.CertExpiry = time.Unix(e, 0).UTC()
			}
		}
	}()
	go func() {
		defer wg.Done()
		st.Owner, st.OwnerKnown = readOwner(ctx, pool, p.Sudo, n.Address, MarkerPath(p.Name))
	}()
	go func() {
		defer wg.Done()
		if p.TLS != nil && p.EtcdTLS == nil {
			// No client certificate of our own (an imported cluster): ask
			// etcdctl on the node, with the node's certificate.
			st.Etcd = etcdHealthOnNode(ctx, pool, p, n)
			return
		}
		etcdTLS := p.EtcdTLS
		st.Etcd = etcdHealth(ctx, pool.HTTPSClient(n.Address, p.PerHost, etcdTLS), p.url(n.Address, p.EtcdClientPort)+"/health")
	}()
	wg.Wait()
	return st
}

// recordExpiry returns cfg (nil stays nil) set to record, after the usual
// verification, when the server's certificate expires (Unix seconds).
func recordExpiry(cfg *tls.Config, at *atomic.Int64) *tls.Config {
	if cfg == nil {
		return nil
	}
	c := cfg.Clone()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) > 0 {
			at.Store(cs.PeerCertificates[0].NotAfter.Unix())
		}
		return nil
	}
	return c
}

// NodeCertPath is where a node of Patroni cluster name keeps its
// certificate (shared by etcd, Patroni and PostgreSQL).
func NodeCertPath(name string) string { return "/etc/erawan/" + name + "/tls/node.crt" }

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

// etcdHealthOnNode runs `etcdctl endpoint health` on node n against its
// own client URL, with the node's certificate and key (root reads them).
func etcdHealthOnNode(ctx context.Context, pool *sshclient.Pool, p Probe, n topology.Member) string {
	dir := "/etc/erawan/" + p.Name + "/tls/"
	cmd := p.Sudo + "env ETCDCTL_CACERT=" + dir + "ca.crt ETCDCTL_CERT=" + dir + "node.crt ETCDCTL_KEY=" + dir + "etcd.key " +
		"etcdctl --command-timeout=5s --endpoints=" + p.url(n.Address, p.EtcdClientPort) + " endpoint health"
	_, err := pool.Run(ctx, n.Address, cmd, nil)
	var ce *sshclient.CommandError
	switch {
	case err == nil:
		return EtcdHealthy
	case errors.As(err, &ce) && ctx.Err() == nil:
		return EtcdUnhealthy
	}
	return EtcdUnknown
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
	// Backup says, one sentence each, how the backups differ from the
	// spec's on the repository host (see pgbackrest.ProbeFindings).
	Backup []string `json:"backup,omitempty"`
}

// MemberState is a member name and the state Patroni reports for it.
type MemberState struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Empty reports that nothing drifted.
func (d Drift) Empty() bool {
	return !d.NoRESTAPI && d.Leaders == nil && len(d.Missing) == 0 && len(d.NotRunning) == 0 &&
		len(d.NotStreaming) == 0 && len(d.PendingRestart) == 0 && len(d.EtcdDown) == 0 && len(d.Backup) == 0
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
	return append(out, d.Backup...)
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
