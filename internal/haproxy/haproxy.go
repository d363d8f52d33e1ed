// Package haproxy renders one tenant's HAProxy listeners: a read-write
// listener that sends traffic only to the primary and an optional read-only
// listener for healthy replicas, with HTTP health checks against Patroni's
// REST API (PostgreSQL) or the primary-check service of erawan_mysql_cluster
// (MySQL). The text is rendered in Go so that `terraform plan` can show it.
package haproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Engines.
const (
	EnginePostgreSQL = "postgresql"
	EngineMySQL      = "mysql"
)

// Tenant is one tenant's listeners.
type Tenant struct {
	Name            string   `json:"name"`              // [a-z0-9_-]{1,63}
	Engine          string   `json:"engine"`            // postgresql or mysql
	BindAddress     string   `json:"bind_address"`      // default 0.0.0.0
	ReadWritePort   int      `json:"read_write_port"`   // listener for the primary
	ReadOnlyPort    int      `json:"read_only_port"`    // 0: no read-only listener
	Backends        []string `json:"backends"`          // database node addresses
	BackendPort     int      `json:"backend_port"`      // 5432 / 3306
	HealthCheckPort int      `json:"health_check_port"` // Patroni REST 8008 / MySQL primary check 9200
	HealthCheckTLS  bool     `json:"health_check_tls"`  // check-ssl (Patroni REST API with TLS)
	// HealthCheckCAPEM is the CA certificate (PEM) the checks verify the
	// backends' REST API certificates against ("" for no verification). It
	// is written next to the tenant file (CAFile), not into it; the header
	// records its SHA-256 (HealthCheckCASHA256, set by Render) so a new CA
	// changes the rendered text and shows in the plan.
	HealthCheckCAPEM    string `json:"-"`
	HealthCheckCASHA256 string `json:"health_check_ca_sha256,omitempty"`
	// CAFilePath overrides where the rendered text says the CA file is
	// (default CAFile(ConfDir, Name)); for tests.
	CAFilePath         string   `json:"-"`
	MaxReplicaLagBytes int64    `json:"max_replica_lag_bytes"`
	AllowedCIDRs       []string `json:"allowed_cidrs"`
	MaxConn            int      `json:"maxconn"`
}

// File is where a tenant's config lives on the proxy host.
func File(dir, name string) string {
	return strings.TrimRight(dir, "/") + "/50-erawan-" + name + ".cfg"
}

// CAFile is where a tenant's health-check CA certificate lives on the proxy
// host: in the tenant directory's .erawan subdirectory, which HAProxy does
// not load (it reads only *.cfg files of the directory itself).
func CAFile(dir, name string) string {
	return strings.TrimRight(dir, "/") + "/.erawan/" + name + ".ca.pem"
}

// Header marks rendered files; the JSON after it lets import rebuild the tenant.
const Header = "# erawan-tenant: "

// OwnerHeader starts the first line of a tenant file on the proxy host; the
// rest of that line is the owning resource's owner_id (a random UUID made
// at create). It is not part of the rendered text (Render), so the plan can
// show the text before the id exists.
const OwnerHeader = "# erawan-owner: "

// WithOwner is the file content for rendered text owned by owner.
func WithOwner(owner, text string) string {
	return OwnerHeader + owner + "\n" + text
}

// SplitOwner separates a tenant file into its owner id ("" when the file has
// no owner line: written by hand or by a release before owner ids) and the
// rendered text.
func SplitOwner(file string) (owner, text string) {
	first, rest, ok := strings.Cut(file, "\n")
	if after, found := strings.CutPrefix(first, OwnerHeader); found && ok {
		return strings.TrimSpace(after), rest
	}
	return "", file
}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]{1,63}$`)

// Validate checks a tenant; every error names the attribute.
func (t Tenant) Validate() error {
	var errs []error
	if !nameRE.MatchString(t.Name) {
		errs = append(errs, fmt.Errorf("name %q must be 1-63 characters of a-z, 0-9, _ and -", t.Name))
	}
	if t.Engine != EnginePostgreSQL && t.Engine != EngineMySQL {
		errs = append(errs, fmt.Errorf("engine %q must be %q or %q", t.Engine, EnginePostgreSQL, EngineMySQL))
	}
	for _, p := range []struct {
		name string
		v    int
		opt  bool
	}{{"read_write_port", t.ReadWritePort, false}, {"read_only_port", t.ReadOnlyPort, true}, {"backend_port", t.BackendPort, false}, {"health_check_port", t.HealthCheckPort, false}} {
		if (p.v != 0 || !p.opt) && (p.v < 1 || p.v > 65535) {
			errs = append(errs, fmt.Errorf("%s %d must be 1-65535", p.name, p.v))
		}
	}
	if t.ReadOnlyPort != 0 && t.ReadOnlyPort == t.ReadWritePort {
		errs = append(errs, fmt.Errorf("read_only_port must differ from read_write_port (%d)", t.ReadWritePort))
	}
	if len(t.Backends) == 0 {
		errs = append(errs, errors.New("backends must list at least one address"))
	}
	for _, b := range t.Backends {
		if b == "" || strings.ContainsAny(b, " \t\n#{}") {
			errs = append(errs, fmt.Errorf("backend %q is not an address", b))
		}
	}
	if t.BindAddress != "" {
		if _, err := netip.ParseAddr(t.BindAddress); err != nil {
			errs = append(errs, fmt.Errorf("bind_address %q is not an IP address", t.BindAddress))
		}
	}
	if t.HealthCheckCAPEM != "" && (!strings.Contains(t.HealthCheckCAPEM, "-----BEGIN CERTIFICATE-----") || strings.Contains(t.HealthCheckCAPEM, "PRIVATE KEY")) {
		errs = append(errs, errors.New("health_check_ca_pem must hold PEM certificates only"))
	}
	for _, c := range t.AllowedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("allowed_cidrs: %q is not a CIDR", c))
		}
	}
	if t.MaxConn < 1 {
		errs = append(errs, fmt.Errorf("maxconn %d must be at least 1", t.MaxConn))
	}
	if t.MaxReplicaLagBytes < 0 {
		errs = append(errs, errors.New("max_replica_lag_bytes must not be negative"))
	}
	return errors.Join(errs...)
}

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(port)
	}
	return addr + ":" + strconv.Itoa(port)
}

// Render returns the tenant's HAProxy text. The same tenant always renders
// the same bytes.
func Render(t Tenant) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	bind := t.BindAddress
	if bind == "" {
		bind = "0.0.0.0"
	}
	t.HealthCheckCASHA256 = ""
	ssl := ""
	switch {
	case t.HealthCheckCAPEM != "":
		t.HealthCheckCASHA256 = SHA256(t.HealthCheckCAPEM)
		caFile := t.CAFilePath
		if caFile == "" {
			caFile = CAFile(ConfDir, t.Name)
		}
		ssl = " check-ssl verify required ca-file " + caFile
	case t.HealthCheckTLS:
		ssl = " check-ssl verify none"
	}
	meta, _ := json.Marshal(t)
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by terraform-provider-erawan (erawan_haproxy_tenant %q). Do not edit: terraform plan shows edits as drift.\n", t.Name)
	b.WriteString(Header + string(meta) + "\n")
	listener := func(kind string, port int, check string) {
		fmt.Fprintf(&b, "\nlisten erawan_%s_%s\n", t.Name, kind)
		fmt.Fprintf(&b, "    bind %s\n", hostPort(bind, port))
		b.WriteString("    mode tcp\n    option tcplog\n")
		fmt.Fprintf(&b, "    maxconn %d\n", t.MaxConn)
		b.WriteString("    timeout connect 5s\n    timeout client 30m\n    timeout server 30m\n    timeout check 2s\n")
		if len(t.AllowedCIDRs) > 0 {
			fmt.Fprintf(&b, "    tcp-request connection reject if !{ src %s }\n", strings.Join(t.AllowedCIDRs, " "))
		}
		b.WriteString(check)
		// Checks every second, marked down after 2 failures: traffic moves to
		// a new primary within a few seconds; open sessions to a demoted
		// server are cut so clients reconnect to the new one.
		b.WriteString("    default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions\n")
		for i, be := range t.Backends {
			fmt.Fprintf(&b, "    server %s_%d %s check port %d%s\n", kind, i+1, hostPort(be, t.BackendPort), t.HealthCheckPort, ssl)
		}
	}
	switch t.Engine {
	case EnginePostgreSQL:
		listener("rw", t.ReadWritePort, "    option httpchk OPTIONS /primary\n    http-check expect status 200\n")
		if t.ReadOnlyPort != 0 {
			listener("ro", t.ReadOnlyPort, fmt.Sprintf("    option httpchk OPTIONS /replica?lag=%d\n    http-check expect status 200\n", t.MaxReplicaLagBytes))
		}
	case EngineMySQL:
		listener("rw", t.ReadWritePort, "    option httpchk GET /primary\n    http-check expect status 200\n")
		if t.ReadOnlyPort != 0 {
			listener("ro", t.ReadOnlyPort, "    option httpchk GET /replica\n    http-check expect status 200\n")
		}
	}
	return b.String(), nil
}

// SHA256 returns the hex SHA-256 of a rendered text.
func SHA256(text string) string {
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:])
}

// Parse recovers the tenant from a rendered file (for import).
func Parse(text string) (Tenant, error) {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, Header) {
			var t Tenant
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, Header)), &t); err != nil {
				return Tenant{}, fmt.Errorf("reading the tenant header: %w", err)
			}
			return t, nil
		}
	}
	return Tenant{}, errors.New("not a file written by erawan_haproxy_tenant (no erawan-tenant header)")
}
