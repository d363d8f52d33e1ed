// Package mysqlgr turns the desired shape of a MySQL InnoDB Cluster (Group
// Replication, single-primary) into the inputs of the embedded playbooks,
// parses what the members report (performance_schema and MySQL Shell's
// cluster.status()), and renders the MySQL Shell scripts of the AdminAPI
// path.
package mysqlgr

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

// Management modes.
const (
	ModeAuto             = "auto"
	ModeAdminAPI         = "adminapi"
	ModeGroupReplication = "group_replication"
)

// Steps of each playbook, in order. A step is a play tagged with its name.
var (
	CreateSteps = []string{"preflight", "configure", "bootstrap", "join", "check_service", "router", "verify", "database"}
	UpdateSteps = []string{"preflight", "primary_handover", "remove_members", "membership", "add_members", "converge", "passwords", "check_service", "router", "database", "verify"}
	DeleteSteps = []string{"teardown"}
)

// Node is one member: a stable member name and its address.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Database is the optional application database and its user.
type Database struct {
	Name        string `json:"name"`
	User        string `json:"user"`
	SSLRequired bool   `json:"ssl_required"`
}

// Spec is the desired cluster.
type Spec struct {
	Name             string // cluster name ([A-Za-z0-9_-]{3,40})
	ID               string // unique id of this cluster, written to each node's marker
	GroupName        string // group_replication_group_name, a UUID generated at create
	Nodes            []Node // the first bootstraps the group
	MySQLPort        int    // default 3306
	GroupPort        int    // Group Replication communication port (group_replication_local_address), default 33061
	Management       string // resolved mode: ModeAdminAPI or ModeGroupReplication
	ClusterAdminUser string
	Router           bool
	RouterRWPort     int // 6446
	RouterROPort     int // 6447
	PrimaryCheckPort int // default 9200
	Database         *Database
	AdminPassword    string
	DatabasePassword string
	RouterPassword   string // MySQL Router's account, when Router is on
}

// Secrets lists every secret of the spec and the forms in which the
// playbooks see them, for redaction.
func (s *Spec) Secrets() []string {
	out := []string{s.AdminPassword, SQLString(s.AdminPassword)}
	if s.RouterPassword != "" {
		out = append(out, s.RouterPassword)
	}
	if s.Database != nil {
		out = append(out, s.DatabasePassword, SQLString(s.DatabasePassword))
	}
	return out
}

// ServerID derives a member's server_id from its name (FNV-1a, 32 bits,
// never 0), so a member keeps its id when others are added or removed and a
// removed-then-added name gets the same one.
func ServerID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	id := h.Sum32()
	if id == 0 {
		id = 1
	}
	return id
}

// SQLString quotes s as a MySQL string literal (single quotes, backslash
// escapes), for statements fed to the mysql client on standard input.
func SQLString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

// Marker is written to /etc/erawan/mysql-<name>/erawan.json (0600, root) on
// every member. It identifies the cluster, so create fails closed on a server
// of another cluster, and lets import rebuild the resource.
type Marker struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	GroupName        string `json:"group_name"`
	MySQLPort        int    `json:"mysql_port"`
	GroupPort        int    `json:"group_port"`
	Management       string `json:"management_mode"`
	ClusterAdminUser string `json:"cluster_admin_user"`
	// ClusterAdminPassword is kept so import can restore it; the recovery
	// channel already stores it in the server's own tables.
	ClusterAdminPassword string    `json:"cluster_admin_password"`
	Router               bool      `json:"router"`
	PrimaryCheckPort     int       `json:"primary_check_port"`
	Database             *Database `json:"database,omitempty"`
	DatabasePassword     string    `json:"database_password,omitempty"`
	RouterPassword       string    `json:"router_password,omitempty"`
	Members              []Node    `json:"members"`
}

// Marker returns the marker content of the spec.
func (s *Spec) Marker() Marker {
	m := Marker{ID: s.ID, Name: s.Name, GroupName: s.GroupName, MySQLPort: s.MySQLPort, GroupPort: s.GroupPort,
		Management: s.Management, ClusterAdminUser: s.ClusterAdminUser, ClusterAdminPassword: s.AdminPassword,
		Router: s.Router, PrimaryCheckPort: s.PrimaryCheckPort, Database: s.Database, RouterPassword: s.RouterPassword,
		Members: s.Nodes}
	if s.Database != nil {
		m.DatabasePassword = s.DatabasePassword
	}
	return m
}

// Change describes an in-place update relative to the previous spec.
type Change struct {
	Removed     []Node   // members to remove (matched by name)
	Added       []string // names of members to add
	RotateAdmin bool     // the cluster admin password changed
}

// Hosts renders the inventory. Groups: erawan_members (desired members),
// erawan_seed (the first desired member that is not being added: the
// bootstrap member at create), erawan_joiners (the others at create; the
// added members at update), erawan_added, erawan_removed.
func (s *Spec) Hosts(ch *Change) []runner.Host {
	added := map[string]bool{}
	if ch != nil {
		for _, n := range ch.Added {
			added[n] = true
		}
	}
	seed := ""
	for _, n := range s.Nodes {
		if !added[n.Name] {
			seed = n.Name
			break
		}
	}
	if seed == "" && len(s.Nodes) > 0 {
		seed = s.Nodes[0].Name
	}
	var hosts []runner.Host
	for _, n := range s.Nodes {
		g := []string{"erawan_members"}
		switch {
		case n.Name == seed:
			g = append(g, "erawan_seed")
		case ch == nil || added[n.Name]:
			g = append(g, "erawan_joiners")
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

// Vars renders the playbook variables.
func (s *Spec) Vars(ch *Change) map[string]any {
	members := map[string]any{}
	var seeds, allow []string
	for _, n := range s.Nodes {
		members[n.Name] = map[string]any{"address": n.Address, "server_id": ServerID(n.Name)}
		seeds = append(seeds, hostPort(n.Address, s.GroupPort))
		allow = append(allow, n.Address)
	}
	var removedAddrs []string
	if ch != nil {
		for _, n := range ch.Removed {
			removedAddrs = append(removedAddrs, n.Address)
		}
	}
	v := map[string]any{
		"erawan_cluster":                  s.Name,
		"erawan_cluster_id":               s.ID,
		"erawan_mysql_group_name":         s.GroupName,
		"erawan_mysql_port":               s.MySQLPort,
		"erawan_mysql_group_port":         s.GroupPort,
		"erawan_mysql_management":         s.Management,
		"erawan_mysql_admin_user":         s.ClusterAdminUser,
		"erawan_mysql_members":            members,
		"erawan_mysql_group_seeds":        strings.Join(seeds, ","),
		"erawan_mysql_ip_allowlist":       strings.Join(append(allow, "127.0.0.1"), ","),
		"erawan_mysql_removed_addresses":  nonNil(removedAddrs),
		"erawan_mysql_router":             s.Router,
		"erawan_mysql_router_rw_port":     s.RouterRWPort,
		"erawan_mysql_router_ro_port":     s.RouterROPort,
		"erawan_mysql_check_port":         s.PrimaryCheckPort,
		"erawan_mysql_database":           nil,
		"erawan_marker_content":           s.Marker(),
		"erawan_mysql_admin_password":     s.AdminPassword,
		"erawan_mysql_admin_password_sql": SQLString(s.AdminPassword),
		"erawan_mysql_router_password":    s.RouterPassword,
		"erawan_mysql_rotate_admin":       ch != nil && ch.RotateAdmin,
		"erawan_mysql_scripts":            map[string]string{},
	}
	if s.Database != nil {
		v["erawan_mysql_database"] = map[string]any{
			"name": s.Database.Name, "name_sql": SQLIdent(s.Database.Name), "user": s.Database.User,
			"user_sql": SQLString(s.Database.User), "ssl_required": s.Database.SSLRequired,
			"password_sql": SQLString(s.DatabasePassword),
		}
	}
	if s.Management == ModeAdminAPI {
		v["erawan_mysql_scripts"] = s.AdminAPIScripts()
	}
	return v
}

// SQLIdent quotes s as a MySQL identifier (backticks doubled).
func SQLIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
