// Package patroni reads a Patroni cluster through its REST API. It parses the
// shapes of Patroni 3.x (role "master", replica state "running") and 4.x
// (role "primary"/"leader", replica state "streaming") into one model.
package patroni

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Normalised member roles.
const (
	RoleLeader        = "leader"
	RoleStandbyLeader = "standby_leader"
	RoleSyncStandby   = "sync_standby"
	RoleReplica       = "replica"
)

// Member is one member of a Patroni cluster, from GET /cluster.
type Member struct {
	Name     string // Patroni member name
	Host     string // host Patroni advertises for PostgreSQL
	Port     int    // PostgreSQL port
	Role     string // normalised: leader, standby_leader, sync_standby or replica
	State    string // Patroni state: running, streaming, stopped, starting, ...
	Timeline int64  // 0 when Patroni does not report one
	// LagBytes is the replication lag in bytes; nil when Patroni reports
	// "unknown" or nothing (always nil-or-0 for the leader).
	LagBytes       *int64
	PendingRestart bool
}

// Cluster is the parsed body of GET /cluster.
type Cluster struct {
	Scope   string
	Paused  bool
	Members []Member
	// Version is the Patroni version of the member that answered (from
	// GET /patroni); empty when unknown.
	Version string
}

// Streaming reports whether member m replicates from the leader. Patroni
// 3.0.4 and later report a streaming replica as "streaming" and use
// "running" for one that is up but not (yet) streaming; older versions
// report "running" for both, so there "running" counts. An unknown version
// is treated like an old one.
func (c *Cluster) Streaming(m Member) bool {
	if m.Role == RoleLeader || m.Role == RoleStandbyLeader {
		return false
	}
	if m.State == "streaming" {
		return true
	}
	return m.State == "running" && !VersionAtLeast(c.Version, 3, 0, 4)
}

// VersionAtLeast compares a dotted version such as "4.0.7" with major.minor.patch.
// An empty or unparsable version is never at least anything.
func VersionAtLeast(v string, major, minor, patch int) bool {
	parts := strings.SplitN(v, ".", 4)
	if len(parts) < 2 {
		return false
	}
	want := []int{major, minor, patch}
	for i := 0; i < 3; i++ {
		n := 0
		if i < len(parts) {
			digits := strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })
			var err error
			if n, err = strconv.Atoi(digits); err != nil {
				return false
			}
		}
		if n != want[i] {
			return n > want[i]
		}
	}
	return true
}

// Leader returns the member holding the leader lock, or nil.
func (c *Cluster) Leader() *Member {
	for i := range c.Members {
		if c.Members[i].Role == RoleLeader || c.Members[i].Role == RoleStandbyLeader {
			return &c.Members[i]
		}
	}
	return nil
}

// Member returns the member with the given name, or nil.
func (c *Cluster) Member(name string) *Member {
	for i := range c.Members {
		if c.Members[i].Name == name {
			return &c.Members[i]
		}
	}
	return nil
}

// NormalizeRole maps Patroni's role names across versions to the roles above:
// "master" (3.x) and "primary" become "leader".
func NormalizeRole(role string) string {
	switch strings.ToLower(role) {
	case "master", "primary", "leader":
		return RoleLeader
	case "standby_leader", "standby-leader":
		return RoleStandbyLeader
	case "sync_standby", "sync-standby", "synchronous_standby", "quorum_standby":
		return RoleSyncStandby
	default:
		return RoleReplica
	}
}

// Running reports whether PostgreSQL on the member is up as far as Patroni knows.
func (m Member) Running() bool {
	return m.State == "running" || m.State == "streaming"
}

type rawCluster struct {
	Scope   string      `json:"scope"`
	Pause   bool        `json:"pause"`
	Members []rawMember `json:"members"`
}

type rawMember struct {
	Name           string          `json:"name"`
	Role           string          `json:"role"`
	State          string          `json:"state"`
	Host           string          `json:"host"`
	Port           int             `json:"port"`
	Timeline       json.Number     `json:"timeline"`
	Lag            json.RawMessage `json:"lag"`
	PendingRestart bool            `json:"pending_restart"`
}

// ParseCluster parses the JSON of GET /cluster from Patroni 3.x or 4.x.
func ParseCluster(b []byte) (*Cluster, error) {
	var raw rawCluster
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parsing Patroni /cluster: %w", err)
	}
	c := &Cluster{Scope: raw.Scope, Paused: raw.Pause}
	for _, rm := range raw.Members {
		m := Member{
			Name: rm.Name, Host: rm.Host, Port: rm.Port,
			Role: NormalizeRole(rm.Role), State: rm.State, PendingRestart: rm.PendingRestart,
		}
		if rm.Timeline != "" {
			if t, err := rm.Timeline.Int64(); err == nil {
				m.Timeline = t
			}
		}
		m.LagBytes = parseLag(rm.Lag)
		if m.Role == RoleLeader && m.LagBytes == nil {
			zero := int64(0)
			m.LagBytes = &zero
		}
		c.Members = append(c.Members, m)
	}
	return c, nil
}

// parseLag accepts a number of bytes, a numeric string, or "unknown" (nil).
func parseLag(raw json.RawMessage) *int64 {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := n.Int64(); err == nil {
			return &v
		}
		if f, err := n.Float64(); err == nil && !math.IsNaN(f) {
			v := int64(f)
			return &v
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return &v
		}
	}
	return nil
}

// Client talks to one Patroni REST endpoint. HTTP is supplied by the caller,
// normally tunnelled over SSH (sshclient.Pool.HTTPClient).
type Client struct {
	HTTP    *http.Client
	BaseURL string // for example http://10.0.0.11:8008
}

// Cluster calls GET /cluster, and GET /patroni for the answering member's
// Patroni version (left empty if that call fails).
func (c *Client) Cluster(ctx context.Context) (*Cluster, error) {
	b, err := c.get(ctx, "/cluster")
	if err != nil {
		return nil, err
	}
	cl, err := ParseCluster(b)
	if err != nil {
		return nil, err
	}
	if pb, err := c.get(ctx, "/patroni"); err == nil {
		cl.Version = ParseVersion(pb)
	}
	return cl, nil
}

// ParseVersion returns patroni.version from the body of GET /patroni.
func ParseVersion(b []byte) string {
	var p struct {
		Patroni struct {
			Version string `json:"version"`
		} `json:"patroni"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Patroni.Version
}

// Config calls GET /config and returns the dynamic configuration (from the DCS).
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	b, err := c.get(ctx, "/config")
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("parsing Patroni /config: %w", err)
	}
	return out, nil
}

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s%s: %w", c.BaseURL, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("GET %s%s: HTTP %d", c.BaseURL, path, resp.StatusCode)
	}
	return b, nil
}

// ParametersFromConfig returns postgresql.parameters of a dynamic
// configuration as strings, the way users write them in Terraform.
func ParametersFromConfig(cfg map[string]any) map[string]string {
	out := map[string]string{}
	pg, _ := cfg["postgresql"].(map[string]any)
	params, _ := pg["parameters"].(map[string]any)
	for k, v := range params {
		switch t := v.(type) {
		case string:
			out[k] = t
		case float64:
			out[k] = strconv.FormatFloat(t, 'f', -1, 64)
		case bool:
			if t {
				out[k] = "on"
			} else {
				out[k] = "off"
			}
		default:
			b, _ := json.Marshal(t)
			out[k] = string(b)
		}
	}
	return out
}
