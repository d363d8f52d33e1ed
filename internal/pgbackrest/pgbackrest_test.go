package pgbackrest

import (
	"strings"
	"testing"
)

func testConfig() *Config {
	return &Config{
		Stanza: "orders", Members: []Member{{"pg1", "10.0.0.11"}, {"pg2", "10.0.0.12"}},
		DataDir: "/var/lib/erawan/orders/postgresql/data", PGPort: 5432, SocketDir: "/var/run/postgresql",
		RepositoryHost: "10.0.0.5", RepositoryPath: DefaultRepositoryPath, RetentionFull: 2, ServerPort: DefaultServerPort,
		TLSDir: "/etc/erawan/orders/tls", RepositoryTLSDir: "/etc/erawan/.pgbackrest/orders/tls", MemberConfigFile: "/etc/erawan/orders/pgbackrest.conf", RepositoryConfigFile: "/etc/erawan/.pgbackrest/orders/pgbackrest.conf", MemberKey: "postgres.key", RepositoryKey: "pgbackrest.key",
	}
}

func lines(t *testing.T, text string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		have[l] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing line %q in:\n%s", w, text)
		}
	}
}

// A member reaches the repository over TLS with its node certificate and
// admits only the repository host's certificate, for its own stanza.
func TestMemberConfig(t *testing.T) {
	c := testConfig()
	text := c.MemberConfig(c.Members[1])
	lines(t, text, "[global]", "repo1-host=10.0.0.5", "repo1-host-type=tls", "repo1-host-port=8432",
		"repo1-host-ca-file=/etc/erawan/orders/tls/ca.crt", "repo1-host-cert-file=/etc/erawan/orders/tls/node.crt",
		"repo1-host-key-file=/etc/erawan/orders/tls/postgres.key", "repo1-host-config=/etc/erawan/.pgbackrest/orders/pgbackrest.conf",
		"tls-server-address=10.0.0.12", "tls-server-port=8432", "tls-server-key-file=/etc/erawan/orders/tls/postgres.key",
		"tls-server-auth=pgbackrest-repository=orders", "log-level-file=off",
		"[orders]", "pg1-path=/var/lib/erawan/orders/postgresql/data", "pg1-port=5432", "pg1-socket-path=/var/run/postgresql")
	if strings.Contains(text, "repo1-path") || strings.Contains(text, "password") {
		t.Errorf("a member's file must hold neither the repository path nor a password:\n%s", text)
	}
}

// The repository host admits each member's certificate for this stanza
// only, reaches every member over TLS, and backs up from a standby when
// there is one.
func TestRepositoryConfig(t *testing.T) {
	c := testConfig()
	text := c.RepositoryConfig()
	lines(t, text, "tls-server-address=10.0.0.5", "tls-server-auth=pg1=orders", "tls-server-auth=pg2=orders",
		"tls-server-key-file=/etc/erawan/.pgbackrest/orders/tls/pgbackrest.key", "lock-path=/tmp/pgbackrest-erawan-repository.orders",
		"pg1-host-config=/etc/erawan/orders/pgbackrest.conf", "pg2-host-config=/etc/erawan/orders/pgbackrest.conf",
		"[orders]", "repo1-path=/var/lib/pgbackrest", "repo1-retention-full=2", "backup-standby=prefer", "start-fast=y",
		"pg1-host=10.0.0.11", "pg2-host=10.0.0.12", "pg2-host-type=tls", "pg2-host-port=8432",
		"pg2-host-key-file=/etc/erawan/.pgbackrest/orders/tls/pgbackrest.key", "pg2-path=/var/lib/erawan/orders/postgresql/data", "pg2-socket-path=/var/run/postgresql")
	// The repository path is the stanza's, so another cluster's stanza on
	// the same host may keep its repository elsewhere.
	if g, _, _ := strings.Cut(text, "[orders]"); strings.Contains(g, "repo1-path") {
		t.Errorf("repo1-path belongs in the stanza section:\n%s", text)
	}
	c.Members = c.Members[:1]
	if strings.Contains(c.RepositoryConfig(), "backup-standby") {
		t.Error("a one-member cluster has no standby to back up from")
	}
}

func TestValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"repository_host":             func(c *Config) { c.RepositoryHost = "" },
		"repository_host 10.0.0.11":   func(c *Config) { c.RepositoryHost = "10.0.0.11" },
		"repository_path \"rel\"":     func(c *Config) { c.RepositoryPath = "rel" },
		"repository_path \"/\"":       func(c *Config) { c.RepositoryPath = "/" },
		"repository_path \"/a b\"":    func(c *Config) { c.RepositoryPath = "/a b" },
		"repository_path \"/a/../b\"": func(c *Config) { c.RepositoryPath = "/a/../b" },
		"retention_full 0":            func(c *Config) { c.RetentionFull = 0 },
		"server_port 0":               func(c *Config) { c.ServerPort = 0 },
		"stanza":                      func(c *Config) { c.Stanza = "a b" },
	} {
		c := testConfig()
		mut(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestCommands(t *testing.T) {
	f := ConfigFile("/etc/erawan/orders/")
	if f != "/etc/erawan/orders/pgbackrest.conf" {
		t.Fatal(f)
	}
	if got, want := ArchiveCommand(f, "orders"), "pgbackrest --config=/etc/erawan/orders/pgbackrest.conf --stanza=orders archive-push %p"; got != want {
		t.Errorf("archive_command %q, want %q", got, want)
	}
	if got, want := RestoreCommand(f, "orders"), `pgbackrest --config=/etc/erawan/orders/pgbackrest.conf --stanza=orders archive-get %f "%p"`; got != want {
		t.Errorf("restore_command %q, want %q", got, want)
	}
	for s, ok := range map[string]bool{"Sun *-*-* 01:00:00": true, "Mon..Sat *-*-* 01:00:00": true, "daily": true, "": false, "x; rm -rf /": false} {
		if ValidSchedule(s) != ok {
			t.Errorf("ValidSchedule(%q) = %v", s, !ok)
		}
	}
}
