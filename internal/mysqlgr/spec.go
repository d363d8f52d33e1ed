// Package mysqlgr turns the desired shape of a MySQL InnoDB Cluster (Group
// Replication, single-primary) into the inputs of the embedded playbooks,
// parses what the members report (performance_schema and MySQL Shell's
// cluster.status()), and renders the MySQL Shell scripts of the AdminAPI
// path.
package mysqlgr

import (
	"hash/fnv"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Management modes.
const (
	ModeAuto             = "auto"
	ModeAdminAPI         = "adminapi"
	ModeGroupReplication = "group_replication"
)

// Steps of the MySQL playbooks. A step is a play tagged with its name that
// runs the role mysql_<step>.
const (
	StepPreflight       = "preflight"
	StepTLS             = "tls"
	StepConfigure       = "configure"
	StepBootstrap       = "bootstrap"
	StepJoin            = "join"
	StepCheckService    = "check_service"
	StepRouter          = "router"
	StepVerify          = "verify"
	StepDatabase        = "database"
	StepPrimaryHandover = "primary_handover"
	StepRemoveMembers   = "remove_members"
	StepMembership      = "membership"
	StepAddMembers      = "add_members"
	StepConverge        = "converge"
	StepPasswords       = "passwords"
	StepTeardown        = "teardown"
	PlaybookCreate      = "mysql_create.yml"
	PlaybookUpdate      = "mysql_update.yml"
	PlaybookDelete      = "mysql_delete.yml"
)

// Steps of each playbook, in order.
var (
	CreateSteps = []string{StepPreflight, StepTLS, StepConfigure, StepBootstrap, StepJoin, StepCheckService, StepRouter, StepVerify, StepDatabase}
	UpdateSteps = []string{StepPreflight, StepTLS, StepPrimaryHandover, StepRemoveMembers, StepMembership, StepAddMembers, StepConverge,
		StepPasswords, StepCheckService, StepRouter, StepDatabase, StepVerify}
	DeleteSteps = []string{StepTeardown}
)

// Database is the optional application database and its user.
type Database struct {
	Name        string `json:"name"`
	User        string `json:"user"`
	SSLRequired bool   `json:"ssl_required"`
}

// Spec is the desired cluster.
type Spec struct {
	Name             string            // cluster name ([A-Za-z0-9_-]{3,40})
	ID               string            // unique id of this cluster, written to each node's marker
	GroupName        string            // group_replication_group_name, a UUID generated at create
	Nodes            []topology.Member // the first bootstraps the group
	MySQLPort        int               // default 3306
	GroupPort        int               // Group Replication communication port (group_replication_local_address), default 33061
	Management       string            // resolved mode: ModeAdminAPI or ModeGroupReplication
	ClusterAdminUser string
	Router           bool
	RouterRWPort     int // 6446
	RouterROPort     int // 6447
	PrimaryCheckPort int // default 9200
	Database         *Database
	AdminPassword    string
	DatabasePassword string
	RouterPassword   string // MySQL Router's account, when Router is on
	// TLS is the cluster's TLS; nil leaves the server's own self-signed
	// certificate in place and Group Replication at REQUIRED (encrypted,
	// nothing verified).
	TLS *TLS
}

// TLS is how a cluster's channels are secured with node certificates of the
// cluster CA: the server's client TLS (ssl_ca, ssl_cert, ssl_key), group
// communication (group_replication_ssl_mode = VERIFY_IDENTITY) and the
// recovery channel and clone (verifying the donor against the CA).
type TLS struct {
	// CAPEM is the cluster CA's certificate.
	CAPEM string
	// Certs are the node certificates this run installs, by member name
	// (each for the key pki.RequestScript left pending on that node);
	// members absent keep theirs.
	Certs map[string]string
}

// TLSDir is where a member of cluster name keeps its TLS files: ca.crt,
// node.crt and node.key (0600, owned by mysql). It is under /etc/mysql
// because Debian's AppArmor profile of mysqld lets it read there and not
// under /etc/erawan.
func TLSDir(name string) string { return "/etc/mysql/erawan-" + name + "-tls" }

// Equal reports whether two specs would give the nodes the same playbook
// inputs. Every field of Spec takes part (TestSpecEqualCoversEveryField
// fails otherwise); the database password counts only with a database.
func (s *Spec) Equal(o *Spec) bool {
	return s.Name == o.Name && s.ID == o.ID && s.GroupName == o.GroupName && slices.Equal(s.Nodes, o.Nodes) &&
		s.MySQLPort == o.MySQLPort && s.GroupPort == o.GroupPort && s.Management == o.Management &&
		s.ClusterAdminUser == o.ClusterAdminUser && s.Router == o.Router &&
		s.RouterRWPort == o.RouterRWPort && s.RouterROPort == o.RouterROPort && s.PrimaryCheckPort == o.PrimaryCheckPort &&
		reflect.DeepEqual(s.Database, o.Database) && s.AdminPassword == o.AdminPassword &&
		(s.Database == nil || s.DatabasePassword == o.DatabasePassword) && s.RouterPassword == o.RouterPassword &&
		reflect.DeepEqual(s.TLS, o.TLS)
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
	// No database password: MySQL keeps only its hash.
	RouterPassword string            `json:"router_password,omitempty"`
	Members        []topology.Member `json:"members"`
	// TLS says the members use certificates of a cluster CA, in TLSDir.
	TLS bool `json:"tls"`
}

// Marker returns the marker content of the spec.
func (s *Spec) Marker() Marker {
	m := Marker{ID: s.ID, Name: s.Name, GroupName: s.GroupName, MySQLPort: s.MySQLPort, GroupPort: s.GroupPort,
		Management: s.Management, ClusterAdminUser: s.ClusterAdminUser, ClusterAdminPassword: s.AdminPassword,
		Router: s.Router, PrimaryCheckPort: s.PrimaryCheckPort, Database: s.Database, RouterPassword: s.RouterPassword,
		Members: s.Nodes, TLS: s.TLS != nil}
	return m
}

// MemberVars is one member as the playbooks see it.
type MemberVars struct {
	Address  string `json:"address"`
	ServerID uint32 `json:"server_id"`
}

// DatabaseVars is the application database and its user, SQL-quoted.
type DatabaseVars struct {
	Name        string `json:"name"`
	NameSQL     string `json:"name_sql"`
	User        string `json:"user"`
	UserSQL     string `json:"user_sql"`
	SSLRequired bool   `json:"ssl_required"`
	PasswordSQL string `json:"password_sql"` // "" when the password is not known (an imported cluster): the user keeps its own
}

// passwordSQL is the SQL literal of a password, or "" for none.
func passwordSQL(pw string) string {
	if pw == "" {
		return ""
	}
	return SQLString(pw)
}

// Vars are the extra variables of every MySQL playbook run; each key is
// declared in the meta/argument_specs.yml of the roles that read it.
type Vars struct {
	Cluster          string                `json:"erawan_cluster"`
	ClusterID        string                `json:"erawan_cluster_id"`
	GroupName        string                `json:"erawan_mysql_group_name"`
	Port             int                   `json:"erawan_mysql_port"`
	GroupPort        int                   `json:"erawan_mysql_group_port"`
	Management       string                `json:"erawan_mysql_management"`
	AdminUser        string                `json:"erawan_mysql_admin_user"`
	Members          map[string]MemberVars `json:"erawan_mysql_members"`
	GroupSeeds       string                `json:"erawan_mysql_group_seeds"`
	IPAllowlist      string                `json:"erawan_mysql_ip_allowlist"`
	RemovedAddresses []string              `json:"erawan_mysql_removed_addresses"`
	Router           bool                  `json:"erawan_mysql_router"`
	RouterRWPort     int                   `json:"erawan_mysql_router_rw_port"`
	RouterROPort     int                   `json:"erawan_mysql_router_ro_port"`
	CheckPort        int                   `json:"erawan_mysql_check_port"`
	Database         *DatabaseVars         `json:"erawan_mysql_database"` // null without a database
	Marker           Marker                `json:"erawan_marker_content"`
	AdminPassword    string                `json:"erawan_mysql_admin_password"`
	AdminPasswordSQL string                `json:"erawan_mysql_admin_password_sql"`
	RouterPassword   string                `json:"erawan_mysql_router_password"`
	RotateAdmin      bool                  `json:"erawan_mysql_rotate_admin"`
	Scripts          map[string]string     `json:"erawan_mysql_scripts"` // AdminAPI scripts by name; empty in group_replication mode
	TLS              pki.RunVars           `json:"erawan_tls"`
	TLSDir           string                `json:"erawan_mysql_tls_dir"`
	// TLSMove says this run moves a running cluster without TLS to TLS.
	TLSMove bool `json:"erawan_mysql_tls_move"`
}

// Vars renders the playbook variables: removed lists the members an update
// removes, and rotateAdmin says whether it rotates the cluster admin password.
func (s *Spec) Vars(removed []topology.Member, rotateAdmin bool) *Vars {
	members := map[string]MemberVars{}
	var seeds, allow []string
	for _, n := range s.Nodes {
		members[n.Name] = MemberVars{Address: n.Address, ServerID: ServerID(n.Name)}
		seeds = append(seeds, net.JoinHostPort(n.Address, strconv.Itoa(s.GroupPort)))
		allow = append(allow, n.Address)
	}
	v := &Vars{
		Cluster: s.Name, ClusterID: s.ID, GroupName: s.GroupName, Port: s.MySQLPort, GroupPort: s.GroupPort,
		Management: s.Management, AdminUser: s.ClusterAdminUser, Members: members,
		GroupSeeds: strings.Join(seeds, ","), IPAllowlist: strings.Join(append(allow, "127.0.0.1"), ","),
		RemovedAddresses: append([]string{}, topology.Addresses(removed)...), Router: s.Router, RouterRWPort: s.RouterRWPort, RouterROPort: s.RouterROPort,
		CheckPort: s.PrimaryCheckPort, Marker: s.Marker(), AdminPassword: s.AdminPassword,
		AdminPasswordSQL: SQLString(s.AdminPassword), RouterPassword: s.RouterPassword,
		RotateAdmin: rotateAdmin, Scripts: map[string]string{},
		TLS: pki.NewRunVars(s.ID, "", nil), TLSDir: TLSDir(s.Name),
	}
	if s.TLS != nil {
		v.TLS = pki.NewRunVars(s.ID, s.TLS.CAPEM, s.TLS.Certs)
	}
	if s.Database != nil {
		v.Database = &DatabaseVars{
			Name: s.Database.Name, NameSQL: SQLIdent(s.Database.Name), User: s.Database.User,
			UserSQL: SQLString(s.Database.User), SSLRequired: s.Database.SSLRequired, PasswordSQL: passwordSQL(s.DatabasePassword),
		}
	}
	if s.Management == ModeAdminAPI {
		v.Scripts = s.AdminAPIScripts()
	}
	return v
}

// SQLIdent quotes s as a MySQL identifier (backticks doubled).
func SQLIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
