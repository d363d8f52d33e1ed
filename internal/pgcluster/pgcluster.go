// Package pgcluster turns the desired shape of a Patroni cluster into the
// inputs of the embedded playbooks (inventory hosts and variables), and
// holds the secrets helpers: password generation and SCRAM-SHA-256 verifiers.
package pgcluster

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"sort"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

// Steps of each playbook, in order. A step is a play tagged with its name.
var (
	CreateSteps = []string{"preflight", "etcd", "configure", "bootstrap", "join", "verify", "database"}
	UpdateSteps = []string{"preflight", "remove_members", "membership", "add_members", "passwords", "converge", "dynamic_config", "database", "verify"}
	DeleteSteps = []string{"teardown"}
)

// Node is one member: a stable member name and its address.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Database is the optional application database.
type Database struct {
	Name     string `json:"name"`
	Owner    string `json:"owner"`
	Password string `json:"-"`
}

// Passwords of the cluster's roles and of the REST API.
type Passwords struct {
	Superuser   string // role postgres
	Replication string // role replicator
	Rewind      string // role rewinder
	RestAPI     string // user erawan on Patroni's REST API (unsafe methods)
}

// Spec is the desired cluster.
type Spec struct {
	Name            string            // Patroni scope
	ID              string            // unique id of this cluster, written to each node's marker
	PostgresVersion int               // 14..18
	Nodes           []Node            // first is the bootstrap leader
	PostgresPort    int               // default 5432
	PatroniPort     int               // default 8008
	EtcdClientPort  int               // default 2379
	EtcdPeerPort    int               // default 2380
	AllowedCIDRs    []string          // pg_hba client networks
	Parameters      map[string]string // PostgreSQL parameters (dynamic config)
	SynchronousMode bool
	Database        *Database
	Passwords       Passwords
}

// Secrets lists every secret of the spec, for redaction.
func (s *Spec) Secrets() []string {
	out := []string{s.Passwords.Superuser, s.Passwords.Replication, s.Passwords.Rewind, s.Passwords.RestAPI}
	if s.Database != nil {
		out = append(out, s.Database.Password)
	}
	return out
}

// Marker is written to /etc/erawan/<name>/erawan.json (0600, root) on every
// node. It identifies the cluster (so create fails closed on foreign data)
// and lets import rebuild the resource.
type Marker struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	PostgresVersion  int               `json:"postgres_version"`
	PostgresPort     int               `json:"postgres_port"`
	PatroniPort      int               `json:"patroni_port"`
	EtcdClientPort   int               `json:"etcd_client_port"`
	EtcdPeerPort     int               `json:"etcd_peer_port"`
	AllowedCIDRs     []string          `json:"allowed_cidrs"`
	Parameters       map[string]string `json:"parameters"`
	SynchronousMode  bool              `json:"synchronous_mode"`
	DatabaseName     string            `json:"database_name,omitempty"`
	DatabaseOwner    string            `json:"database_owner,omitempty"`
	DatabasePassword string            `json:"database_password,omitempty"`
}

// Marker returns the marker content of the spec.
func (s *Spec) Marker() Marker {
	m := Marker{
		ID: s.ID, Name: s.Name, PostgresVersion: s.PostgresVersion,
		PostgresPort: s.PostgresPort, PatroniPort: s.PatroniPort, EtcdClientPort: s.EtcdClientPort, EtcdPeerPort: s.EtcdPeerPort,
		AllowedCIDRs: nonNil(s.AllowedCIDRs), Parameters: s.Parameters, SynchronousMode: s.SynchronousMode,
	}
	if m.Parameters == nil {
		m.Parameters = map[string]string{}
	}
	if s.Database != nil {
		m.DatabaseName, m.DatabaseOwner, m.DatabasePassword = s.Database.Name, s.Database.Owner, s.Database.Password
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Change describes an in-place update relative to the previous spec.
type Change struct {
	Removed           []Node            // members to remove (matched by name)
	Added             []string          // names of members to add
	ParametersPatch   map[string]any    // PATCH /config body; empty when nothing changed
	ParametersChanged []string          // names of changed or removed parameters
	RotateVerifiers   map[string]string // role -> SCRAM verifier of its new password
}

// Hosts renders the inventory hosts of a create or update. Groups:
// erawan_members (desired), erawan_leader (first desired, or for updates
// the first that is not being added), erawan_replicas, erawan_added,
// erawan_removed.
func (s *Spec) Hosts(ch *Change) []runner.Host {
	added := map[string]bool{}
	if ch != nil {
		for _, n := range ch.Added {
			added[n] = true
		}
	}
	leader := ""
	for _, n := range s.Nodes {
		if !added[n.Name] {
			leader = n.Name
			break
		}
	}
	if leader == "" && len(s.Nodes) > 0 {
		leader = s.Nodes[0].Name
	}
	var hosts []runner.Host
	for _, n := range s.Nodes {
		g := []string{"erawan_members"}
		if n.Name == leader {
			g = append(g, "erawan_leader")
		} else {
			g = append(g, "erawan_replicas")
		}
		if added[n.Name] {
			g = append(g, "erawan_added")
		}
		hosts = append(hosts, runner.Host{Name: n.Name, Address: n.Address, Groups: g})
	}
	if ch != nil {
		for _, n := range ch.Removed {
			hosts = append(hosts, runner.Host{Name: n.Name, Address: n.Address, Groups: []string{"erawan_removed"}})
		}
	}
	return hosts
}

// Vars renders the playbook variables. The database owner's password is
// passed only as a SCRAM verifier.
func (s *Spec) Vars(ch *Change) (map[string]any, error) {
	params := s.Parameters
	if params == nil {
		params = map[string]string{}
	}
	v := map[string]any{
		"erawan_cluster":            s.Name,
		"erawan_cluster_id":         s.ID,
		"erawan_pg_version":         s.PostgresVersion,
		"erawan_pg_port":            s.PostgresPort,
		"erawan_patroni_port":       s.PatroniPort,
		"erawan_etcd_client_port":   s.EtcdClientPort,
		"erawan_etcd_peer_port":     s.EtcdPeerPort,
		"erawan_allowed_cidrs":      nonNil(s.AllowedCIDRs),
		"erawan_parameters":         params,
		"erawan_synchronous_mode":   s.SynchronousMode,
		"erawan_database":           nil,
		"erawan_marker_content":     s.Marker(),
		"erawan_config_patch":       map[string]any{},
		"erawan_parameters_changed": []string{},
		"erawan_rotate_verifiers":   map[string]string{},
		"erawan_passwords": map[string]string{
			"superuser": s.Passwords.Superuser, "replication": s.Passwords.Replication,
			"rewind": s.Passwords.Rewind, "restapi": s.Passwords.RestAPI,
		},
	}
	if s.Database != nil {
		ver, err := ScramVerifier(s.Database.Password)
		if err != nil {
			return nil, err
		}
		v["erawan_database"] = map[string]string{"name": s.Database.Name, "owner": s.Database.Owner, "password_verifier": ver}
	}
	if ch != nil {
		survivor := ""
		added := map[string]bool{}
		for _, n := range ch.Added {
			added[n] = true
		}
		for _, n := range s.Nodes {
			if !added[n.Name] {
				survivor = n.Name
				break
			}
		}
		v["erawan_survivor"] = survivor
		if len(ch.ParametersPatch) > 0 {
			v["erawan_config_patch"] = ch.ParametersPatch
		}
		if len(ch.ParametersChanged) > 0 {
			v["erawan_parameters_changed"] = ch.ParametersChanged
		}
		if len(ch.RotateVerifiers) > 0 {
			v["erawan_rotate_verifiers"] = ch.RotateVerifiers
		}
	}
	return v, nil
}

// DiffConfig returns the PATCH /config body and the changed parameter names
// between two specs: changed or added parameters get their new value,
// removed ones null (back to Patroni's default), synchronous_mode when it changed.
func DiffConfig(old, new *Spec) (map[string]any, []string) {
	params := map[string]any{}
	var changed []string
	for k, v := range new.Parameters {
		if ov, ok := old.Parameters[k]; !ok || ov != v {
			params[k] = v
			changed = append(changed, k)
		}
	}
	for k := range old.Parameters {
		if _, ok := new.Parameters[k]; !ok {
			params[k] = nil
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	patch := map[string]any{}
	if len(params) > 0 {
		patch["postgresql"] = map[string]any{"parameters": params}
	}
	if old.SynchronousMode != new.SynchronousMode {
		patch["synchronous_mode"] = new.SynchronousMode
	}
	return patch, changed
}

const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// GeneratePassword returns n characters from crypto/rand over an
// unambiguous alphanumeric alphabet (about 5.8 bits each; n=32 gives ~187 bits).
func GeneratePassword(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		x, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = passwordAlphabet[x.Int64()]
	}
	return string(b), nil
}

// ScramVerifier returns the PostgreSQL SCRAM-SHA-256 verifier of password
// (RFC 7677, 4096 iterations, 16-byte random salt), in the form PostgreSQL
// accepts in ALTER ROLE ... PASSWORD.
func ScramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, 4096)
}

func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, enc(salt), enc(stored[:]), enc(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
