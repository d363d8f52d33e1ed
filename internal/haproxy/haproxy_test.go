package haproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/testbin"
)

func pgTenant() Tenant {
	return Tenant{Name: "orders", Engine: EnginePostgreSQL, ReadWritePort: 5000, ReadOnlyPort: 5001,
		Backends: []string{"10.0.0.11", "10.0.0.12", "10.0.0.13"}, BackendPort: 5432, HealthCheckPort: 8008,
		MaxReplicaLagBytes: 1048576, AllowedCIDRs: []string{"10.0.0.0/8", "192.168.0.0/16"}, MaxConn: 1000}
}

const mainCfg = `global
    log /dev/log local0
    maxconn 4096
defaults
    log global
    mode http
    option httplog
    timeout connect 5s
    timeout client 50s
    timeout server 50s
`

// mustWrite writes data to path with perm, failing the test on error.
func mustWrite(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

// haproxyCheck validates the whole set (main config + the tenant) with the
// real HAProxy binary, as the playbook does before a file goes live.
func haproxyCheck(t *testing.T, text string) {
	t.Helper()
	bin := testbin.Require(t, "haproxy", "validating the rendered config with haproxy -c; make deps installs it")
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "haproxy.cfg"), mainCfg, 0o600)
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, File(filepath.Join(dir, "conf.d"), "t"), text, 0o600)
	out, err := exec.Command(bin, "-c", "-f", filepath.Join(dir, "haproxy.cfg"), "-f", filepath.Join(dir, "conf.d")).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c rejected the rendered config: %v\n%s\n--- config ---\n%s", err, out, text)
	}
}

func TestRenderPostgreSQL(t *testing.T) {
	text, err := Render(pgTenant())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listen erawan_orders_rw\n    bind 0.0.0.0:5000",
		"option httpchk OPTIONS /primary",
		"listen erawan_orders_ro\n    bind 0.0.0.0:5001",
		"option httpchk OPTIONS /replica?lag=1048576",
		"on-marked-down shutdown-sessions",
		"server rw_2 10.0.0.12:5432 check port 8008",
		"tcp-request connection reject if !{ src 10.0.0.0/8 192.168.0.0/16 }",
		"maxconn 1000",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	if strings.Contains(text, "mysql-check") {
		t.Error("never use option mysql-check")
	}
	haproxyCheck(t, text)
	again, _ := Render(pgTenant())
	if again != text || SHA256(again) != SHA256(text) {
		t.Fatal("rendering is not deterministic")
	}
	back, err := Parse(text)
	if err != nil || back.Name != "orders" || back.ReadOnlyPort != 5001 || len(back.Backends) != 3 {
		t.Fatalf("parse: %+v %v", back, err)
	}
}

func TestRenderMySQLAndTLSCheck(t *testing.T) {
	tn := Tenant{Name: "shop", Engine: EngineMySQL, ReadWritePort: 6000, ReadOnlyPort: 6001, BindAddress: "127.0.0.1",
		Backends: []string{"10.0.0.21", "10.0.0.22"}, BackendPort: 3306, HealthCheckPort: 9200, MaxConn: 500}
	text, err := Render(tn)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bind 127.0.0.1:6000", "option httpchk GET /primary", "option httpchk GET /replica", "server ro_1 10.0.0.21:3306 check port 9200"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(text, "mysql-check") {
		t.Error("never use option mysql-check: it breaks on MySQL 8.4+ authentication")
	}
	haproxyCheck(t, text)

	pg := pgTenant()
	pg.HealthCheckTLS = true
	pg.ReadOnlyPort = 0
	text, _ = Render(pg)
	if !strings.Contains(text, "check port 8008 check-ssl verify none") || strings.Contains(text, "_ro") {
		t.Fatalf("TLS check or optional read-only listener wrong:\n%s", text)
	}
	haproxyCheck(t, text)
}

func TestValidate(t *testing.T) {
	cases := map[string]func(*Tenant){
		"name":            func(t *Tenant) { t.Name = "Bad Name" },
		"engine":          func(t *Tenant) { t.Engine = "oracle" },
		"read_write_port": func(t *Tenant) { t.ReadWritePort = 70000 },
		"read_only_port":  func(t *Tenant) { t.ReadOnlyPort = t.ReadWritePort },
		"backends":        func(t *Tenant) { t.Backends = nil },
		"bind_address":    func(t *Tenant) { t.BindAddress = "everywhere" },
		"allowed_cidrs":   func(t *Tenant) { t.AllowedCIDRs = []string{"10.0.0.0/40"} },
		"maxconn":         func(t *Tenant) { t.MaxConn = 0 },
	}
	for attr, mutate := range cases {
		tn := pgTenant()
		mutate(&tn)
		err := tn.Validate()
		if err == nil || !strings.Contains(err.Error(), attr) {
			t.Errorf("%s: want an error naming it, got %v", attr, err)
		}
		if _, rerr := Render(tn); rerr == nil {
			t.Errorf("%s: Render accepted an invalid tenant", attr)
		}
	}
	if err := pgTenant().Validate(); err != nil {
		t.Fatal(err)
	}
}

// The owner line comes first in the file and is not part of the rendered
// text; a file without one (hand-written, or from an earlier release) has
// no owner.
func TestOwnerLine(t *testing.T) {
	text, err := Render(pgTenant())
	if err != nil {
		t.Fatal(err)
	}
	file := WithOwner("3f1d2c9e-aaaa", text)
	if !strings.HasPrefix(file, "# erawan-owner: 3f1d2c9e-aaaa\n# Managed by") {
		t.Fatalf("owner line not first:\n%s", file)
	}
	owner, rest := SplitOwner(file)
	if owner != "3f1d2c9e-aaaa" || rest != text {
		t.Fatalf("SplitOwner = %q, text equal %v", owner, rest == text)
	}
	if owner, rest := SplitOwner(text); owner != "" || rest != text {
		t.Fatalf("a file without an owner line: owner %q, text equal %v", owner, rest == text)
	}
	if owner, _ := SplitOwner(OwnerHeader + "x"); owner != "" {
		t.Fatalf("an owner line without the text after it counts as no owner, got %q", owner)
	}
	if _, err := Parse(file); err != nil {
		t.Fatalf("Parse of an owned file: %v", err)
	}
	haproxyCheck(t, file)
}

// With a CA, the checks verify the REST API's certificate against it, the
// header records the CA's SHA-256 (so a new CA changes the text), and
// haproxy -c accepts the text with the CA file in place.
func TestRenderVerifiedChecks(t *testing.T) {
	ca, _, err := pki.NewCA("test CA", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "orders.ca.pem")
	mustWrite(t, caFile, ca.CertPEM, 0o600)
	pg := pgTenant()
	pg.HealthCheckCAPEM, pg.CAFilePath = ca.CertPEM, caFile
	text, err := Render(pg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "check port 8008 check-ssl verify required ca-file "+caFile+"\n") {
		t.Fatalf("no verified check:\n%s", text)
	}
	if !strings.Contains(text, `"health_check_ca_sha256":"`+SHA256(ca.CertPEM)+`"`) || strings.Contains(text, "BEGIN CERTIFICATE") {
		t.Fatalf("the header must hold the CA's SHA-256 and not the CA:\n%s", text)
	}
	haproxyCheck(t, text)
	back, err := Parse(text)
	if err != nil || back.HealthCheckCASHA256 != SHA256(ca.CertPEM) {
		t.Fatalf("Parse: %v %+v", err, back)
	}
	if def := CAFile(ConfDir, "orders"); def != "/etc/haproxy/conf.d/.erawan/orders.ca.pem" {
		t.Fatalf("CAFile %q", def)
	}
	pg.HealthCheckCAPEM = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
	if _, err := Render(pg); err == nil || !strings.Contains(err.Error(), "health_check_ca_pem") {
		t.Fatalf("a key as CA: %v", err)
	}
}
