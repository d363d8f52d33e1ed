package haproxy

// Paths on the proxy host.
const (
	ConfDir    = "/etc/haproxy/conf.d"      // one file per tenant (File)
	MainConfig = "/etc/haproxy/haproxy.cfg" // validated together with ConfDir
)

// The tenant playbook and its one step (a play tagged with its name that
// runs the role haproxy_<step>).
const (
	Playbook   = "haproxy_tenant.yml"
	StepTenant = "tenant"
	// Group holds the proxy host of a run.
	Group = "erawan_proxy"
)

// Steps of the tenant playbook, in order.
var Steps = []string{StepTenant}

// States of a tenant's file for the haproxy_tenant playbook.
const (
	StatePresent = "present"
	StateAbsent  = "absent"
)

// Vars are the inputs of the haproxy_tenant playbook (its declared
// variables, JSON keys as the playbook names them).
type Vars struct {
	TenantName   string `json:"erawan_tenant_name"`
	TenantState  string `json:"erawan_tenant_state"`  // StatePresent or StateAbsent
	TenantConfig string `json:"erawan_tenant_config"` // the file's content (WithOwner); empty when absent
	// TenantOwner is the owner id the tenant's existing file must hold for
	// the run to change it; "" means a file without an owner line (one from
	// a release before owner ids), which the run then takes over.
	TenantOwner     string `json:"erawan_tenant_owner"`
	TenantFile      string `json:"erawan_tenant_file"`
	TenantPorts     []int  `json:"erawan_tenant_ports"`      // the listener ports, checked for clashes and probed
	TenantCheckHost string `json:"erawan_tenant_check_host"` // where the playbook probes the listeners
	// TenantCA is the health checks' CA certificate (PEM), written to
	// TenantCAFile; "" removes that file.
	TenantCA     string `json:"erawan_tenant_ca"`
	TenantCAFile string `json:"erawan_tenant_ca_file"`
	ConfD        string `json:"erawan_haproxy_confd"`
	Main         string `json:"erawan_haproxy_main"`
}

// PlaybookVars returns the playbook inputs that put the file content in
// place for tenant t (state StatePresent) or remove its file (StateAbsent,
// content ""), acting only on a file that holds owner (see Vars.TenantOwner).
// Only t's name, bind address, ports and health-check CA are used.
func PlaybookVars(t Tenant, state, content, owner string) Vars {
	return Vars{
		TenantName:      t.Name,
		TenantState:     state,
		TenantConfig:    content,
		TenantOwner:     owner,
		TenantFile:      File(ConfDir, t.Name),
		TenantPorts:     listenPorts(t),
		TenantCheckHost: checkHost(t.BindAddress),
		TenantCA:        t.HealthCheckCAPEM,
		TenantCAFile:    CAFile(ConfDir, t.Name),
		ConfD:           ConfDir,
		Main:            MainConfig,
	}
}

// checkHost is the address the listeners are probed at: the bind address,
// or loopback when they bind every address.
func checkHost(bind string) string {
	if bind == "" || bind == "0.0.0.0" || bind == "::" {
		return "127.0.0.1"
	}
	return bind
}

// listenPorts lists the ports tenant t listens on: read-write, then
// read-only when it has one.
func listenPorts(t Tenant) []int {
	ports := []int{t.ReadWritePort}
	if t.ReadOnlyPort != 0 {
		ports = append(ports, t.ReadOnlyPort)
	}
	return ports
}
