package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/crypto/ssh"
)

// unitProvider is a provider block that configures without touching any host.
func unitProvider(t *testing.T) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
provider "erawan" {
  ssh = {
    private_key      = %q
    known_hosts_file = %q
  }
}
`, string(pem.EncodeToMemory(blk)), t.TempDir()+"/known_hosts")
}

func clusterHCL(body string) string {
	return `resource "erawan_patroni_cluster" "x" {` + "\n" + body + "\n}"
}

const okNodes = `nodes = [{ name = "pg1", address = "10.0.0.11" }, { name = "pg2", address = "10.0.0.12" }, { name = "pg3", address = "10.0.0.13" }]`

// Each bad input fails at plan time with an error on the right attribute,
// before anything reaches a node (the addresses here do not exist).
func TestPlanTimeValidation(t *testing.T) {
	p := unitProvider(t)
	for _, c := range patroniBadInputs {
		t.Run(c.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config:      p + c.hcl,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`)),
				}},
			})
		})
	}
}

func TestTwoNodesWarn(t *testing.T) {
	nodes := func(n int) types.List {
		var vs []attr.Value
		for i := 0; i < n; i++ {
			o, _ := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{
				"name": types.StringValue(fmt.Sprintf("pg%d", i)), "address": types.StringValue(fmt.Sprintf("10.0.0.%d", i))})
			vs = append(vs, o)
		}
		l, _ := types.ListValue(types.ObjectType{AttrTypes: nodeAttrTypes}, vs)
		return l
	}
	for n, warn := range map[int]bool{1: false, 2: true, 3: false} {
		resp := &validator.ListResponse{}
		uniqueNodesValidator{}.ValidateList(context.Background(), validator.ListRequest{Path: path.Root("nodes"), ConfigValue: nodes(n)}, resp)
		if got := resp.Diagnostics.WarningsCount() == 1; got != warn || resp.Diagnostics.HasError() {
			t.Errorf("%d nodes: warning %v, want %v (%v)", n, got, warn, resp.Diagnostics)
		}
	}
}

func tenantHCL(body string) string {
	return `resource "erawan_haproxy_tenant" "x" {` + "\n" + body + "\n}"
}

func TestTenantPlanTimeValidation(t *testing.T) {
	p := unitProvider(t)
	for _, c := range tenantBadInputs {
		t.Run(c.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6,
				Steps:                    []resource.TestStep{{Config: p + c.hcl, PlanOnly: true, ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`))}},
			})
		})
	}
	// A valid tenant plans with its rendered config, before anything reaches the host.
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config:             p + tenantBlock(nil),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("erawan_haproxy_tenant.x", tfjsonpath.New("rendered_config"),
					knownvalue.StringRegexp(regexp.MustCompile(`option httpchk OPTIONS /replica\?lag=1048576`))),
				plancheck.ExpectKnownValue("erawan_haproxy_tenant.x", tfjsonpath.New("backend_port"), knownvalue.Int64Exact(5432)),
				plancheck.ExpectKnownValue("erawan_haproxy_tenant.x", tfjsonpath.New("health_check_port"), knownvalue.Int64Exact(8008)),
			}},
		}},
	})
}

// Host names and IPv6 addresses are fine for a tenant's proxy host and
// backends, which HAProxy and SSH resolve themselves.
func TestTenantAddressForms(t *testing.T) {
	for _, a := range []string{"10.0.0.5", "fd00::5", "proxy.example.com", "proxy.example.com.", "proxy-1"} {
		if p := addressProblem(a, true, "backend_port"); p != "" {
			t.Errorf("%q refused: %s", a, p)
		}
	}
	for _, a := range []string{"", "10.0.0.5:22", "proxy.example.com:22", "[fd00::5]", "fe80::1%eth0", "a b", "-proxy", "proxy_1"} {
		if p := addressProblem(a, true, "backend_port"); p == "" {
			t.Errorf("%q accepted", a)
		}
	}
}

// A member that keeps its address under a new name is refused at plan
// time; a real move (new address) and a remove-and-add are told apart.
func TestRenames(t *testing.T) {
	list := func(pairs ...string) types.List {
		var vs []attr.Value
		for i := 0; i < len(pairs); i += 2 {
			vs = append(vs, types.ObjectValueMust(nodeAttrTypes, map[string]attr.Value{"name": types.StringValue(pairs[i]), "address": types.StringValue(pairs[i+1])}))
		}
		return types.ListValueMust(types.ObjectType{AttrTypes: nodeAttrTypes}, vs)
	}
	state := list("pg1", "10.0.0.1", "pg2", "10.0.0.2")
	var d diag.Diagnostics
	if !refuseRenames(context.Background(), state, list("pg1", "10.0.0.1", "pg9", "10.0.0.2"), &d) ||
		!strings.Contains(d.Errors()[0].Detail(), `nodes[1].name: the member at 10.0.0.2 is "pg2"; renaming it to "pg9"`) {
		t.Fatalf("a rename at 10.0.0.2 was not refused: %v", d)
	}
	d = nil
	if refuseRenames(context.Background(), state, list("pg1", "10.0.0.1", "pg2", "10.0.0.2", "pg3", "10.0.0.3"), &d) ||
		refuseRenames(context.Background(), state, list("pg1", "10.0.0.1"), &d) || d.HasError() {
		t.Fatalf("adding or removing a member counted as a rename: %v", d)
	}
}

var patroniBadInputs = clusterInputs(clusterHCL, []badInput{
	{"bad name", `name = "Orders!"` + "\npostgres_version = 17\n" + okNodes, `(?s)Attribute name.*1-63 characters of a-z`},
	{"long name", `name = "` + string(make([]byte, 0)) + `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"` + "\npostgres_version = 17\n" + okNodes, `(?s)Attribute name.*1-63`},
	{"mysql- prefix", `name = "mysql-orders"` + "\npostgres_version = 17\n" + okNodes, `(?s)Reserved name prefix.*erawan_mysql_cluster`},
	{"member name starts with -", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "-pg1", address = "10.0.0.11" }]`, `(?s)Attribute nodes\[0\]\.name.*not\s+starting\s+with\s+-`},
	{"ports collide", `name = "o"` + "\npostgres_version = 17\npatroni_port = 5432\n" + okNodes, `(?s)Ports collide.*patroni_port and postgres_port are both 5432`},
	{"owned parameter", `name = "o"` + "\npostgres_version = 17\nparameters = { listen_addresses = \"*\" }\n" + okNodes, `(?s)Parameter owned by the provider.*listen_addresses`},
	{"wal_level minimal", `name = "o"` + "\npostgres_version = 17\nparameters = { wal_level = \"minimal\" }\n" + okNodes, `(?s)Invalid wal_level.*"minimal"`},
	{"database postgres", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"postgres\", owner = \"app\" }\n" + okNodes, `(?s)Attribute database\.name.*none of`},
	{"database template1", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"template1\", owner = \"app\" }\n" + okNodes, `(?s)Attribute database\.name.*none of`},
	{"owner public", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"app\", owner = \"public\" }\n" + okNodes, `(?s)Attribute database\.owner.*none of`},
	{"owner current_user", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"app\", owner = \"current_user\" }\n" + okNodes, `(?s)Attribute database\.owner.*none of`},
	{"newline in a password", `name = "o"` + "\npostgres_version = 17\nsuperuser_password_wo = \"abcdefghijkl\\nmn\"\n" + okNodes, `(?s)Invalid password.*newline`},
	{"version 13", `name = "o"` + "\npostgres_version = 13\n" + okNodes, `(?s)Attribute postgres_version.*between 14 and 18`},
	{"version 19", `name = "o"` + "\npostgres_version = 19\n" + okNodes, `(?s)Attribute postgres_version.*between 14 and 18`},
	{"empty nodes", `name = "o"` + "\npostgres_version = 17\nnodes = []", `(?s)Attribute nodes.*at least 1`},
	{"duplicate names", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "10.0.0.11" }, { name = "pg1", address = "10.0.0.12" }]`, `(?s)Duplicate member name.*nodes\[0\] and nodes\[1\] are both named`},
	{"duplicate addresses", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "10.0.0.11" }, { name = "pg2", address = "10.0.0.11" }]`, `(?s)Duplicate node address.*both have address "10.0.0.11"`},
	{"bad member name", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "PG 1", address = "10.0.0.11" }]`, `(?s)Attribute nodes\[0\]\.name.*1-63 characters`},
	{"port 0", `name = "o"` + "\npostgres_version = 17\npostgres_port = 0\n" + okNodes, `(?s)Attribute postgres_port.*between 1 and 65535`},
	{"port 70000", `name = "o"` + "\npostgres_version = 17\netcd_peer_port = 70000\n" + okNodes, `(?s)Attribute etcd_peer_port.*between 1 and 65535`},
	{"bad cidr", `name = "o"` + "\npostgres_version = 17\nallowed_cidrs = [\"10.0.0.0/33\"]\n" + okNodes, `(?s)Invalid CIDR.*allowed_cidrs = \["10.0.0.0/33"\]`},
	{"bad parameter name", `name = "o"` + "\npostgres_version = 17\nparameters = { \"max connections\" = \"1\" }\n" + okNodes, `(?s)Invalid PostgreSQL parameter name`},
	{"owner is a cluster role", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"app\", owner = \"postgres\" }\n" + okNodes, `(?s)Attribute database.owner.*value must be none of`},
	{"owner is reserved", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"app\", owner = \"pg_app\" }\n" + okNodes, `(?s)Attribute database.owner.*must not start with pg_`},
	{"bad database name", `name = "o"` + "\npostgres_version = 17\ndatabase = { name = \"App-DB\", owner = \"app\" }\n" + okNodes, `(?s)Attribute database.name.*lower-case identifier`},
	{"address with a port", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "10.0.0.11:5432" }]`, `(?s)Attribute nodes\[0\]\.address.*holds a port \(host:port\).*postgres_port`},
	{"address with whitespace", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = " 10.0.0.11" }]`, `(?s)Attribute nodes\[0\]\.address.*whitespace`},
	{"address is a host name", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "db1.example.com" }]`, `(?s)Attribute nodes\[0\]\.address.*host names are not accepted.*reverse DNS`},
	{"address is IPv6", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "fd00::11" }]`, `(?s)Attribute nodes\[0\]\.address.*IPv6 member addresses are not supported yet`},
	{"address in brackets", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "[fd00::11]" }]`, `(?s)Attribute nodes\[0\]\.address.*brackets`},
	{"address with leading zeros", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "10.0.0.011" }]`, `(?s)Attribute nodes\[0\]\.address.*not an IPv4 address`},
	{"address 0.0.0.0", `name = "o"` + "\npostgres_version = 17\n" + `nodes = [{ name = "pg1", address = "0.0.0.0" }]`, `(?s)Attribute nodes\[0\]\.address.*not a host's address`},
	{"tls renewal window", `name = "o"` + "\npostgres_version = 17\ntls = { validity_days = 30, renew_before_days = 30 }\n" + okNodes, `(?s)Renewal window too long.*tls\.renew_before_days \(30\) must be less than tls\.validity_days`},
	{"tls validity 0", `name = "o"` + "\npostgres_version = 17\ntls = { validity_days = 0 }\n" + okNodes, `(?s)Attribute tls\.validity_days.*between 1 and 3650`},
	{"tls CA not PEM", `name = "o"` + "\npostgres_version = 17\ntls = { ca_certificate_pem = \"not a certificate\", ca_private_key_pem_wo = \"x\" }\n" + okNodes, `(?s)Not a PEM certificate.*tls\.ca_certificate_pem: `},
	{"tls CA key alone", `name = "o"` + "\npostgres_version = 17\ntls = { ca_private_key_pem_wo = \"x\" }\n" + okNodes, `(?s)Missing CA certificate.*tls\.ca_private_key_pem_wo is set, so tls\.ca_certificate_pem`},
	{"backup without TLS", `name = "o"` + "\npostgres_version = 17\ntls = { enabled = false }\nbackup = { repository_host = \"10.0.0.5\" }\n" + okNodes, `(?s)Backups need TLS.*tls\.enabled = true`},
	{"backup on a member", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.11\" }\n" + okNodes, `(?s)The repository host is a member.*backup\.repository_host 10.0.0.11 is member pg1`},
	{"backup port collides", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\", server_port = 5432 }\n" + okNodes, `(?s)Ports collide.*backup\.server_port and postgres_port are both 5432`},
	{"backup default port collides", `name = "o"` + "\npostgres_version = 17\npatroni_port = 8432\nbackup = { repository_host = \"10.0.0.5\" }\n" + okNodes, `(?s)Ports collide.*backup\.server_port and patroni_port are both 8432`},
	{"backup with archive_command", `name = "o"` + "\npostgres_version = 17\nparameters = { archive_command = \"cp %p /x\" }\nbackup = { repository_host = \"10.0.0.5\" }\n" + okNodes, `(?s)Parameter owned by backup.*archive_command is set by the backup block`},
	{"backup schedule not a calendar", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\", schedule = { full = \"daily; reboot\" } }\n" + okNodes, `(?s)Not a calendar expression.*backup\.schedule\.full`},
	{"backup repository path relative", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\", repository_path = \"backups\" }\n" + okNodes, `(?s)Invalid repository path.*clean absolute path`},
	{"backup repository path root", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\", repository_path = \"/\" }\n" + okNodes, `(?s)Invalid repository path.*other than /`},
	{"backup retention 0", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\", retention_full = 0 }\n" + okNodes, `(?s)Attribute backup\.retention_full.*between 1 and 9999`},
	{"restore without TLS", `name = "o"` + "\npostgres_version = 17\ntls = { enabled = false }\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\" }\n" + okNodes, `(?s)A restore needs TLS.*tls\.enabled = true`},
	{"restore target time not RFC 3339", `name = "o"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\", target_time = \"2026-11-22 10:00\" }\n" + okNodes, `(?s)Invalid time.*restore\.target_time "2026-11-22 10:00": want an RFC 3339 time`},
	{"restore backup label", `name = "o"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\", backup_label = \"latest\" }\n" + okNodes, `(?s)Invalid backup label.*restore\.backup_label "latest"`},
	{"restore stanza", `name = "o"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders;x\" }\n" + okNodes, `(?s)Invalid stanza.*restore\.stanza`},
	{"restore repository path", `name = "o"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\", repository_path = \"/srv/my backups\" }\n" + okNodes, `(?s)Invalid repository path.*without spaces`},
	{"restore with restore_command", `name = "o"` + "\npostgres_version = 17\nparameters = { restore_command = \"cp /x/%f %p\" }\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\" }\n" + okNodes, `(?s)Parameter owned by restore.*restore_command is set by the restore block`},
	{"restore under the source's name", `name = "orders"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\" }\n" + okNodes, `(?s)Restore under the source's name.*restore\.stanza "orders" is this cluster's own name`},
	{"restore member named like the restore server", `name = "o"` + "\npostgres_version = 17\nrestore = { repository_host = \"10.0.0.5\", stanza = \"orders\" }\n" + `nodes = [{ name = "pgbackrest-restore", address = "10.0.0.11" }]`, `(?s)Member name reserved with restore.*nodes\[0\]\.name`},
	{"backup member named like the repository", `name = "o"` + "\npostgres_version = 17\nbackup = { repository_host = \"10.0.0.5\" }\n" + `nodes = [{ name = "pgbackrest-repository", address = "10.0.0.11" }]`, `(?s)Member name reserved with backups.*nodes\[0\]\.name`},
})

// tenantBlock is a valid tenant with the attributes in over replaced ("" drops one).
func tenantBlock(over map[string]string) string {
	attrs := map[string]string{"name": `"orders"`, "host": `"10.0.0.5"`, "engine": `"postgresql"`, "read_write_port": "5000",
		"read_only_port": "5001", "backends": `["10.0.0.11", "10.0.0.12"]`}
	for k, v := range over {
		attrs[k] = v
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		if v := attrs[k]; v != "" {
			lines = append(lines, k+" = "+v)
		}
	}
	return tenantHCL(strings.Join(lines, "\n"))
}

var tenantBadInputs = []badInput{
	{"bad name", tenantBlock(map[string]string{"name": `"Orders Tenant"`}), `(?s)Attribute name.*1-63 characters`},
	{"port out of range", tenantBlock(map[string]string{"read_write_port": "65536"}), `(?s)Attribute read_write_port.*between 1 and 65535`},
	{"port zero", tenantBlock(map[string]string{"read_only_port": "0"}), `(?s)Attribute read_only_port.*between 1 and 65535`},
	{"ro equals rw", tenantBlock(map[string]string{"read_only_port": "5000"}), `(?s)Ports clash.*both 5000`},
	{"empty backends", tenantBlock(map[string]string{"backends": "[]"}), `(?s)Attribute backends.*at least 1`},
	{"bad engine", tenantBlock(map[string]string{"engine": `"oracle"`}), `(?s)Attribute engine.*value must be one of`},
	{"bad cidr", tenantBlock(map[string]string{"allowed_cidrs": `["10.0.0.0/99"]`}), `(?s)Invalid CIDR`},
	{"backend with a port", tenantBlock(map[string]string{"backends": `["10.0.0.11:5432"]`}), `(?s)Attribute backends\[0\].*holds a port.*backend_port`},
	{"backend with whitespace", tenantBlock(map[string]string{"backends": `["10.0.0.11 "]`}), `(?s)Attribute backends\[0\].*whitespace`},
	{"one backend twice", tenantBlock(map[string]string{"backends": `["db1.example.com", "DB1.example.com."]`}), `(?s)Attribute backends\[1\].*name the same host`},
	{"host with a port", tenantBlock(map[string]string{"host": `"10.0.0.5:22"`}), `(?s)Attribute host.*holds a port.*ssh\.port`},
	{"host not an address", tenantBlock(map[string]string{"host": `"proxy_1!"`}), `(?s)Attribute host.*not an IPv4 address, an IPv6 address or a DNS host name`},
	{"health check CA not PEM", tenantBlock(map[string]string{"health_check_ca_pem": `"-----BEGIN PRIVATE KEY-----"`}), `(?s)Not a PEM certificate.*health_check_ca_pem: `},
}
