// Package pgbackrest renders the pgBackRest configuration of a Patroni
// cluster's backups and reads what pgBackRest reports.
//
// Every host of a cluster's backups runs one pgBackRest TLS server of its
// own ("pgbackrest server", since pgBackRest 2.37) on Config.ServerPort,
// with its own configuration file (ConfigFile), so clusters that share a
// repository host or members never share a server, a CA or a setting:
//   - members push WAL to the repository host's server (archive-push) and
//     serve their data directory to it (backup);
//   - the repository host's server admits the members' certificates, and
//     each member's server admits the repository host's certificate, each
//     only for this cluster's stanza (tls-server-auth, by certificate
//     common name);
//   - every certificate comes from the cluster CA, and each side verifies
//     the other's address against it.
//
// Nothing here holds a password: pgBackRest authenticates with the
// certificates, and PostgreSQL with peer authentication over its socket.
package pgbackrest

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// DefaultServerPort is pgBackRest's own TLS server port (tls-server-port).
const DefaultServerPort = 8432

// DefaultRepositoryPath is where the repository lives on its host unless the
// user says otherwise (pgBackRest's own default repo1-path).
const DefaultRepositoryPath = "/var/lib/pgbackrest"

// RepositoryCommonName is the common name of the repository host's
// certificate: what the members' servers admit (tls-server-auth).
const RepositoryCommonName = "pgbackrest-repository"

// RepositoryUser owns the repository and runs pgBackRest on its host.
const RepositoryUser = "pgbackrest"

// Member is one PostgreSQL member of the cluster: its member name (the
// common name of its certificate) and address.
type Member struct {
	Name    string
	Address string
}

// Config is the backup configuration of one cluster.
type Config struct {
	// Stanza is the cluster's stanza: the cluster name.
	Stanza string
	// Members are the cluster's PostgreSQL members, in order.
	Members []Member
	// DataDir is PostgreSQL's data directory on every member, PGPort its
	// port and SocketDir its socket directory.
	DataDir   string
	PGPort    int
	SocketDir string
	// RepositoryHost is the repository host's address; RepositoryPath the
	// repository's directory there (repo1-path).
	RepositoryHost string
	RepositoryPath string
	// RetentionFull is how many full backups the repository keeps
	// (repo1-retention-full).
	RetentionFull int
	// ServerPort is the port of this cluster's pgBackRest TLS servers, on
	// the members and on the repository host.
	ServerPort int
	// TLSDir holds ca.crt and node.crt on every member, and
	// RepositoryTLSDir on the repository host; MemberKey and RepositoryKey
	// are the key files pgBackRest reads there (each owned by the account
	// that runs pgBackRest on that host).
	TLSDir           string
	RepositoryTLSDir string
	MemberKey        string
	RepositoryKey    string
	// MemberConfigFile and RepositoryConfigFile are where these
	// configurations live on each kind of host (ConfigFile): each side
	// tells the other's server which file its remote reads
	// (pg-host-config, repo1-host-config), since pgBackRest's default
	// /etc/pgbackrest.conf is not this cluster's.
	MemberConfigFile     string
	RepositoryConfigFile string
}

var (
	stanzaRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
	// onCalendarRE is a loose shape check of a systemd OnCalendar
	// expression; systemd-analyze calendar on the host has the last word.
	onCalendarRE = regexp.MustCompile(`^[A-Za-z0-9 *:.,/~+-]{1,128}$`)
)

// Validate checks the inputs that come from the user; each error names the
// attribute (under backup).
func (c *Config) Validate() error {
	var errs []error
	if !stanzaRE.MatchString(c.Stanza) {
		errs = append(errs, fmt.Errorf("stanza %q: want 1-63 letters, digits, '_' or '-'", c.Stanza))
	}
	if c.RepositoryHost == "" {
		errs = append(errs, errors.New("repository_host is required"))
	}
	for _, m := range c.Members {
		if m.Address == c.RepositoryHost {
			errs = append(errs, fmt.Errorf("repository_host %s is member %s: backups on a member's own host are lost with it; choose another host", c.RepositoryHost, m.Name))
		}
	}
	if err := CheckRepositoryPath(c.RepositoryPath); err != nil {
		errs = append(errs, err)
	}
	if c.RetentionFull < 1 || c.RetentionFull > 9999 {
		errs = append(errs, fmt.Errorf("retention_full %d: want 1 to 9999", c.RetentionFull))
	}
	if c.ServerPort < 1 || c.ServerPort > 65535 {
		errs = append(errs, fmt.Errorf("server_port %d: want 1 to 65535", c.ServerPort))
	}
	return errors.Join(errs...)
}

// CheckRepositoryPath refuses a repository path that is not a clean
// absolute path other than /, or that holds spaces, quotes or shell
// characters (it goes into pgBackRest's configuration and unit files).
func CheckRepositoryPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, " \t\n'\"\\$`") {
		return fmt.Errorf("repository_path %q: want a clean absolute path other than /, without spaces or quotes", p)
	}
	return nil
}

// ValidSchedule reports whether s looks like a systemd OnCalendar
// expression (the host's systemd-analyze calendar checks it for real).
func ValidSchedule(s string) bool { return onCalendarRE.MatchString(s) }

// LockPath is pgBackRest's lock directory for stanza on a member or on the
// repository host. They differ, since a host may be the repository host of
// one cluster and a member of another of the same name, and each side's
// account (postgres, pgbackrest) makes its own; cluster names hold no dot.
func LockPath(stanza string, repository bool) string {
	if repository {
		return "/tmp/pgbackrest-erawan-repository." + stanza
	}
	return "/tmp/pgbackrest-erawan-" + stanza
}

// RepositoryDir is this cluster's directory on the repository host: its
// configuration (ConfigFile), TLS files (tls/) and marker. It is apart from
// /etc/erawan/<cluster>, which a member of another cluster of the same name
// may hold on that host (no cluster name starts with a dot).
func RepositoryDir(cluster string) string { return "/etc/erawan/.pgbackrest/" + cluster }

// ConfigFile is where a cluster's pgBackRest configuration lives on every
// host of its backups, in the cluster's own directory (etc is
// /etc/erawan/<cluster>).
func ConfigFile(etc string) string { return strings.TrimRight(etc, "/") + "/pgbackrest.conf" }

// ArchiveCommand is PostgreSQL's archive_command for the cluster whose
// configuration is at configFile.
func ArchiveCommand(configFile, stanza string) string {
	return fmt.Sprintf("pgbackrest --config=%s --stanza=%s archive-push %%p", configFile, stanza)
}

// RestoreCommand is PostgreSQL's restore_command for the same.
func RestoreCommand(configFile, stanza string) string {
	return fmt.Sprintf("pgbackrest --config=%s --stanza=%s archive-get %%f \"%%p\"", configFile, stanza)
}

// server is the [global] part both kinds of host share: no log files
// (the servers log to the journal), a lock path of the host's own kind
// (lock, as LockPath gives it), and this cluster's own TLS server.
func (c *Config) server(b *strings.Builder, lock, address, dir, key string) {
	fmt.Fprintf(b, "log-level-console=info\nlog-level-file=off\nlock-path=%s\n", lock)
	fmt.Fprintf(b, "tls-server-address=%s\ntls-server-port=%d\n", address, c.ServerPort)
	fmt.Fprintf(b, "tls-server-ca-file=%s/ca.crt\ntls-server-cert-file=%s/node.crt\ntls-server-key-file=%s/%s\n", dir, dir, dir, key)
}

// MemberConfig is the configuration file of a member: the repository is
// reached over TLS, and the member's server admits only the repository
// host's certificate, for this stanza.
func (c *Config) MemberConfig(m Member) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by terraform-provider-erawan for cluster %s (member %s). Do not edit.\n[global]\n", c.Stanza, m.Name)
	fmt.Fprintf(&b, "repo1-host=%s\nrepo1-host-type=tls\nrepo1-host-port=%d\n", c.RepositoryHost, c.ServerPort)
	fmt.Fprintf(&b, "repo1-host-ca-file=%s/ca.crt\nrepo1-host-cert-file=%s/node.crt\nrepo1-host-key-file=%s/%s\n", c.TLSDir, c.TLSDir, c.TLSDir, c.MemberKey)
	fmt.Fprintf(&b, "repo1-host-config=%s\n", c.RepositoryConfigFile)
	c.server(&b, LockPath(c.Stanza, false), m.Address, c.TLSDir, c.MemberKey)
	fmt.Fprintf(&b, "tls-server-auth=%s=%s\n", RepositoryCommonName, c.Stanza)
	fmt.Fprintf(&b, "\n[%s]\npg1-path=%s\npg1-port=%d\npg1-socket-path=%s\n", c.Stanza, c.DataDir, c.PGPort, c.SocketDir)
	return b.String()
}

// RepositoryConfig is the configuration file of the repository host: the
// repository, its retention, every member reached over TLS (backups come
// from a replica when there is one), and a server that admits only the
// members' certificates, for this stanza.
func (c *Config) RepositoryConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by terraform-provider-erawan for cluster %s (repository). Do not edit.\n[global]\n", c.Stanza)
	c.server(&b, LockPath(c.Stanza, true), c.RepositoryHost, c.RepositoryTLSDir, c.RepositoryKey)
	for _, m := range c.Members {
		fmt.Fprintf(&b, "tls-server-auth=%s=%s\n", m.Name, c.Stanza)
	}
	fmt.Fprintf(&b, "\n[%s]\nrepo1-path=%s\nrepo1-retention-full=%d\nstart-fast=y\n", c.Stanza, c.RepositoryPath, c.RetentionFull)
	if len(c.Members) > 1 {
		// A replica when one is up, else the leader (pgBackRest 2.54+;
		// the playbook writes y, a replica required, for older ones).
		b.WriteString("backup-standby=prefer\n")
	}
	for i, m := range c.Members {
		n := i + 1
		fmt.Fprintf(&b, "pg%d-host=%s\npg%d-host-type=tls\npg%d-host-port=%d\n", n, m.Address, n, n, c.ServerPort)
		d := c.RepositoryTLSDir
		fmt.Fprintf(&b, "pg%d-host-ca-file=%s/ca.crt\npg%d-host-cert-file=%s/node.crt\npg%d-host-key-file=%s/%s\n", n, d, n, d, n, d, c.RepositoryKey)
		fmt.Fprintf(&b, "pg%d-host-config=%s\n", n, c.MemberConfigFile)
		fmt.Fprintf(&b, "pg%d-path=%s\npg%d-port=%d\npg%d-socket-path=%s\n", n, c.DataDir, n, c.PGPort, n, c.SocketDir)
	}
	return b.String()
}
