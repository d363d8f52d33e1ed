package provider

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

var (
	// clusterNameRE is the Patroni scope and the base of every file and unit name.
	clusterNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,63}$`)
	// memberNameRE is a Patroni member and etcd member name; a leading "-"
	// would read as an option to etcdctl and patronictl.
	memberNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,62}$`)
	// sqlIdentRE is a plain lower-case PostgreSQL identifier.
	sqlIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	// notPgPrefixRE matches names that do not start with "pg_".
	notPgPrefixRE = regexp.MustCompile(`^([^p]|p[^g]|pg[^_]|p$|pg$)`)
)

// uniqueNodesValidator checks that member names and addresses are unique, and
// warns about two nodes (a two-member etcd has no fault tolerance).
type uniqueNodesValidator struct {
	// twoNodes is the warning for exactly two nodes; empty uses the etcd one.
	twoNodes string
}

func (uniqueNodesValidator) Description(context.Context) string {
	return "member names and addresses must be unique"
}
func (v uniqueNodesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v uniqueNodesValidator) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	names, addrs := map[string]int{}, map[string]int{}
	elems := req.ConfigValue.Elements()
	for i, e := range elems {
		obj, ok := e.(types.Object)
		if !ok || obj.IsUnknown() || obj.IsNull() {
			continue
		}
		at := obj.Attributes()
		if n, ok := at["name"].(types.String); ok && !n.IsUnknown() && !n.IsNull() {
			if j, dup := names[n.ValueString()]; dup {
				resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("name"), "Duplicate member name",
					fmt.Sprintf("nodes[%d] and nodes[%d] are both named %q; member names must be unique.", j, i, n.ValueString()))
			}
			names[n.ValueString()] = i
		}
		if a, ok := at["address"].(types.String); ok && !a.IsUnknown() && !a.IsNull() {
			if j, dup := addrs[a.ValueString()]; dup {
				resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("address"), "Duplicate node address",
					fmt.Sprintf("nodes[%d] and nodes[%d] both have address %q; each member needs its own host.", j, i, a.ValueString()))
			}
			addrs[a.ValueString()] = i
		}
	}
	if len(elems) == 2 {
		msg := v.twoNodes
		if msg == "" {
			msg = "A two-member etcd cluster loses quorum when either member fails, so Patroni cannot fail over. Use 1 node for a single instance or 3 or more (an odd number) for high availability."
		}
		resp.Diagnostics.AddAttributeWarning(req.Path, "Two nodes give no fault tolerance", msg)
	}
}

// mysqlPathPrefix starts the names of erawan_mysql_cluster's directories
// under /etc/erawan and /var/lib/erawan; a Patroni cluster may not take it.
const mysqlPathPrefix = "mysql-"

// notPrefixValidator refuses a string that starts with prefix, saying why.
type notPrefixValidator struct{ prefix, why string }

func (v notPrefixValidator) Description(context.Context) string {
	return "must not start with " + v.prefix
}
func (v notPrefixValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (v notPrefixValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || !strings.HasPrefix(req.ConfigValue.ValueString(), v.prefix) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Reserved name prefix",
		fmt.Sprintf("%q starts with %q: %s.", req.ConfigValue.ValueString(), v.prefix, v.why))
}

// reservedRoleNames are role names PostgreSQL reserves or that mean
// something else in GRANT and pg_hba.
var reservedRoleNames = []string{"public", "none", "current_user", "current_role", "session_user", "user", "all"}

// ownedParameters are PostgreSQL parameters that the provider or Patroni
// set themselves (addresses, ports, files, scram authentication, what
// replicas and pg_rewind need); overriding them through `parameters` would
// break the cluster. Tunables the provider only defaults (max_wal_senders,
// max_replication_slots) stay the user's.
var ownedParameters = []string{
	"listen_addresses", "port", "unix_socket_directories", "data_directory", "config_file", "hba_file", "ident_file",
	"password_encryption", "hot_standby", "wal_log_hints", "primary_conninfo", "primary_slot_name",
}

func ownedParameterList() string { return "`" + strings.Join(ownedParameters, "`, `") + "`" }

// ownedParametersValidator refuses parameters the provider owns, and a
// wal_level that replication cannot run on.
type ownedParametersValidator struct{}

func (ownedParametersValidator) Description(context.Context) string {
	return "parameters the provider owns are not set here"
}
func (v ownedParametersValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (ownedParametersValidator) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for k, v := range req.ConfigValue.Elements() {
		if slices.Contains(ownedParameters, k) {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Parameter owned by the provider",
				fmt.Sprintf("%s is set by the provider and Patroni (addresses, ports, files, authentication and replication); it cannot be overridden here.", k))
		}
		if s, ok := v.(types.String); ok && k == "wal_level" && !s.IsUnknown() && s.ValueString() != "replica" && s.ValueString() != "logical" {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Invalid wal_level",
				fmt.Sprintf("wal_level %q cannot feed replicas; use \"replica\" (the default) or \"logical\".", s.ValueString()))
		}
	}
}

// noControlCharsValidator refuses a newline or NUL, which a password cannot
// carry through the files and SQL it is written to.
type noControlCharsValidator struct{}

func (noControlCharsValidator) Description(context.Context) string { return "no newline or NUL" }
func (v noControlCharsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (noControlCharsValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if strings.ContainsAny(req.ConfigValue.ValueString(), "\n\r\x00") {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid password",
			"The password holds a newline, carriage return or NUL, which cannot pass through the configuration files and SQL it is written to.")
	}
}

// cidrValidator checks that a string is an IP prefix such as 10.0.0.0/24.
type cidrValidator struct{}

func (cidrValidator) Description(context.Context) string { return "must be a CIDR such as 10.0.0.0/24" }
func (v cidrValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (cidrValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := netip.ParsePrefix(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid CIDR",
			fmt.Sprintf("%q is not a CIDR such as 10.0.0.0/24: %v", req.ConfigValue.ValueString(), err))
	}
}

// parameterNamesValidator checks PostgreSQL parameter names, which are
// rendered into patroni.yml and SQL.
type parameterNamesValidator struct{}

var paramNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_.]{0,62}$`)

func (parameterNamesValidator) Description(context.Context) string {
	return "parameter names are lower-case PostgreSQL GUC names"
}
func (v parameterNamesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (parameterNamesValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for k := range req.ConfigValue.Elements() {
		if !paramNameRE.MatchString(k) {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Invalid PostgreSQL parameter name",
				fmt.Sprintf("%q is not a PostgreSQL parameter name (lower-case letters, digits, _ and .).", k))
		}
	}
}

// refuseMemberMoves adds an error for every member whose name stays but whose
// address changes between state and plan (a member cannot move in place) and
// reports whether it added any.
func refuseMemberMoves(ctx context.Context, stateNodes, planNodes types.List, diags *diag.Diagnostics) bool {
	if planNodes.IsUnknown() || planNodes.IsNull() {
		return false
	}
	current, _ := membersOf(ctx, stateNodes)
	desired, _ := membersOf(ctx, planNodes)
	moves := topology.Moves(current, desired)
	for _, mv := range moves {
		diags.AddAttributeError(path.Root("nodes").AtListIndex(mv.Index).AtName("address"), "A member cannot move",
			fmt.Sprintf("Member %q is at %s; it cannot move to %s in place. Remove it and add a member with a new name instead.", mv.Name, mv.From, mv.To))
	}
	return len(moves) > 0
}

// checkPortsDistinct adds an error for each port attribute (in order, with
// its default when unset) that equals an earlier one. A name is a top-level
// attribute or a nested one such as backup.server_port (whose block must
// be set). Unknown ports skip the check.
func checkPortsDistinct(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse, order []string, defaults map[string]int64) {
	ports := map[string]int64{}
	at := func(k string) path.Path {
		p := path.Empty()
		for _, step := range strings.Split(k, ".") {
			p = p.AtName(step)
		}
		return p
	}
	for _, k := range order {
		var p types.Int64
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, at(k), &p)...)
		if p.IsUnknown() {
			return
		}
		ports[k] = defaults[k]
		if !p.IsNull() {
			ports[k] = p.ValueInt64()
		}
	}
	for i, a := range order {
		for _, b := range order[i+1:] {
			if ports[a] == ports[b] {
				resp.Diagnostics.AddAttributeError(at(b), "Ports collide",
					b+" and "+a+" are both "+strconv.FormatInt(ports[a], 10)+"; each needs its own port.")
			}
		}
	}
}

// patroniPortsValidator refuses Patroni cluster ports that collide, the
// backups' server_port included when there is a backup block.
type patroniPortsValidator struct{}

func (patroniPortsValidator) Description(context.Context) string { return "the cluster's ports differ" }
func (v patroniPortsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (patroniPortsValidator) ValidateResource(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	order := []string{"postgres_port", "patroni_port", "etcd_client_port", "etcd_peer_port"}
	var backup types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("backup"), &backup)...)
	if backup.IsUnknown() {
		return
	}
	if !backup.IsNull() {
		order = append(order, "backup.server_port")
	}
	checkPortsDistinct(ctx, req, resp, order,
		map[string]int64{"postgres_port": 5432, "patroni_port": 8008, "etcd_client_port": 2379, "etcd_peer_port": 2380, "backup.server_port": pgbackrest.DefaultServerPort})
}

// hostNameRE is a DNS host name: dot-separated labels of letters, digits
// and inner hyphens, with an optional final dot, not all-numeric at the end.
var hostNameRE = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?\.?$`)

// addressProblem says what is wrong with address a, or "" when it is an
// IPv4 literal, or (with names) an IPv6 literal or a DNS host name. portAttr
// names where a port belongs instead.
func addressProblem(a string, names bool, portAttr string) string {
	if a == "" {
		return "it is empty"
	}
	if strings.TrimSpace(a) != a || strings.ContainsAny(a, " \t\r\n") {
		return "it holds whitespace"
	}
	if strings.ContainsAny(a, "[]") {
		return "it holds brackets: give the bare address (the provider adds brackets where a URL needs them)"
	}
	if host, port, err := net.SplitHostPort(a); err == nil && port != "" {
		if _, perr := strconv.Atoi(port); perr == nil && (hostNameRE.MatchString(host) || isIPv4(host)) {
			return "it holds a port (host:port): give the address alone and the port in " + portAttr
		}
	}
	ip, err := netip.ParseAddr(a)
	switch {
	case err == nil && ip.Is4() && (ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return "it is not a host's address"
	case err == nil && ip.Is4():
		return ""
	case err == nil && names && ip.Zone() == "":
		return ""
	case err == nil:
		return "IPv6 member addresses are not supported yet: the cluster's etcd and Patroni URLs, pg_hba and the MySQL allowlist are written for IPv4. Give the node's IPv4 address"
	case hostNameRE.MatchString(a) && names:
		return ""
	case hostNameRE.MatchString(a):
		return "host names are not accepted here: member addresses go into pg_hba (Patroni) and into MySQL account hosts and the Group Replication allowlist, " +
			"which match the connecting IP address, so a name would match only through reverse DNS. Give the node's IPv4 address"
	}
	return "it is not an IPv4 address" + map[bool]string{true: ", an IPv6 address or a DNS host name", false: ""}[names]
}

func isIPv4(s string) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.Is4()
}

// addressValidator checks a node address (IPv4 only) or, with names, a
// proxy host or backend (IPv4, IPv6 or a DNS name).
type addressValidator struct {
	names    bool
	portAttr string
}

func (v addressValidator) Description(context.Context) string {
	if v.names {
		return "an IPv4 or IPv6 address or a DNS host name, without a port or whitespace"
	}
	return "an IPv4 address, without a port or whitespace"
}
func (v addressValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v addressValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if p := addressProblem(req.ConfigValue.ValueString(), v.names, v.portAttr); p != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid address", fmt.Sprintf("Attribute %s %q: %s.", req.Path, req.ConfigValue.ValueString(), p))
	}
}

// canonicalHost is the spelling two addresses of one host share: an IP
// address's canonical text, or a host name in lower case without a final dot.
func canonicalHost(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil {
		return ip.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(a), ".")
}

// uniqueHostsValidator refuses a list naming one host twice, under any spelling.
type uniqueHostsValidator struct{}

func (uniqueHostsValidator) Description(context.Context) string {
	return "each host once, whatever its spelling"
}
func (v uniqueHostsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (uniqueHostsValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	seen := map[string]int{}
	for i, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		c := canonicalHost(s.ValueString())
		if j, dup := seen[c]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Duplicate host",
				fmt.Sprintf("Attribute %s: %s[%d] and %s[%d] (%q) name the same host; list each host once.", req.Path.AtListIndex(i), req.Path, j, req.Path, i, s.ValueString()))
		}
		seen[c] = i
	}
}

// refuseRenames adds an error for every member that keeps an address but
// takes a new name, with its old name gone: applying that would remove the
// member (wiping its data) and add a new one on the same host, cloned
// again. It reports whether it added any.
func refuseRenames(ctx context.Context, stateNodes, planNodes types.List, diags *diag.Diagnostics) bool {
	if planNodes.IsUnknown() || planNodes.IsNull() {
		return false
	}
	current, _ := membersOf(ctx, stateNodes)
	desired, _ := membersOf(ctx, planNodes)
	renames := topology.Renames(current, desired)
	for _, rn := range renames {
		diags.AddAttributeError(path.Root("nodes").AtListIndex(rn.Index).AtName("name"), "A member cannot be renamed",
			fmt.Sprintf("Attribute nodes[%d].name: the member at %s is %q; renaming it to %q would remove it (wiping its data) and add a new member on the same host that clones everything again. "+
				"Keep the name; or remove the member in one apply and add the new one in the next, if that is what you want.", rn.Index, rn.To, rn.From, rn.Name))
	}
	return len(renames) > 0
}
