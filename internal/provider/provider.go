// Package provider holds only the Terraform glue of the erawan provider:
// schemas, plans and state. SSH, Ansible runs, Patroni's REST API and the
// playbook inputs live in their own packages.
package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// New returns the provider factory.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &erawanProvider{version: version} }
}

type erawanProvider struct{ version string }

type providerModel struct {
	SSH             *sshModel    `tfsdk:"ssh"`
	AnsiblePlaybook types.String `tfsdk:"ansible_playbook"`
	LockTimeout     types.String `tfsdk:"lock_timeout"`
}

type sshModel struct {
	User           types.String  `tfsdk:"user"`
	Port           types.Int64   `tfsdk:"port"`
	PrivateKey     types.String  `tfsdk:"private_key"`
	PrivateKeyFile types.String  `tfsdk:"private_key_file"`
	KnownHostsFile types.String  `tfsdk:"known_hosts_file"`
	HostKeyPolicy  types.String  `tfsdk:"host_key_policy"`
	Bastion        *bastionModel `tfsdk:"bastion"`
}

type bastionModel struct {
	Host           types.String `tfsdk:"host"`
	Port           types.Int64  `tfsdk:"port"`
	User           types.String `tfsdk:"user"`
	PrivateKey     types.String `tfsdk:"private_key"`
	PrivateKeyFile types.String `tfsdk:"private_key_file"`
}

// clients is what resources and data sources receive: one SSH pool per
// provider instance, and the runner, both built from one sshclient.Settings.
type clients struct {
	pool   *sshclient.Pool
	runner runner.Runner
	// lockTimeout is how long a Create, Update or Delete waits for a lock
	// on its nodes that another run holds (provider lock_timeout).
	lockTimeout time.Duration

	preflightOnce sync.Once
	preflightErr  error

	hostLocksMu sync.Mutex
	hostLocks   map[string]*sync.Mutex
}

// lockHost serialises changes that share files on one host (HAProxy tenants
// on a proxy host) within this provider instance, which Terraform otherwise
// applies in parallel. It returns the unlock function.
func (c *clients) lockHost(host string) func() {
	c.hostLocksMu.Lock()
	if c.hostLocks == nil {
		c.hostLocks = map[string]*sync.Mutex{}
	}
	m, ok := c.hostLocks[host]
	if !ok {
		m = &sync.Mutex{}
		c.hostLocks[host] = m
	}
	c.hostLocksMu.Unlock()
	m.Lock()
	return m.Unlock
}

// sudo is the prefix of a root command run over the provider's own SSH
// connections: empty for root, "sudo -n " for another login user.
func (c *clients) sudo() string { return c.pool.Config().Sudo() }

// ansiblePreflight checks ansible-playbook once per provider instance.
func (c *clients) ansiblePreflight(ctx context.Context) error {
	c.preflightOnce.Do(func() {
		v, err := c.runner.Preflight(ctx)
		c.preflightErr = err
		if err == nil {
			tflog.Debug(ctx, "ansible-playbook found", map[string]any{"version": v})
		}
	})
	return c.preflightErr
}

func (p *erawanProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "erawan"
	resp.Version = p.version
}

func (p *erawanProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Builds and runs highly available database clusters on machines you already have, over SSH: " +
			"PostgreSQL with Patroni and etcd (`erawan_patroni_cluster`), MySQL Group Replication / InnoDB Cluster " +
			"(`erawan_mysql_cluster`), and HAProxy tenants in front of either (`erawan_haproxy_tenant`). Create, update and " +
			"delete run the Ansible playbooks embedded in the provider; reads probe the hosts directly, so `terraform plan` shows drift.",
		Attributes: map[string]schema.Attribute{
			"ssh": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "How to reach the nodes over SSH. The same settings serve the provider's own probes and Ansible's OpenSSH connections.",
				Attributes: map[string]schema.Attribute{
					"user": schema.StringAttribute{Optional: true,
						MarkdownDescription: "Login user. Default `root`; any other user must have passwordless sudo (Ansible uses become). Env: `ERAWAN_SSH_USER`."},
					"port": schema.Int64Attribute{Optional: true,
						MarkdownDescription: "SSH port of the nodes. Default `22`. Env: `ERAWAN_SSH_PORT`."},
					"private_key": schema.StringAttribute{Optional: true, Sensitive: true,
						MarkdownDescription: "Private key text (OpenSSH or PEM). Takes precedence over `private_key_file`. Env: `ERAWAN_SSH_PRIVATE_KEY`. Without a key, the ssh-agent at `SSH_AUTH_SOCK` is used."},
					"private_key_file": schema.StringAttribute{Optional: true,
						MarkdownDescription: "Path of the private key; `~/` is expanded. Env: `ERAWAN_SSH_PRIVATE_KEY_FILE`."},
					"known_hosts_file": schema.StringAttribute{Optional: true,
						MarkdownDescription: "known_hosts file that host keys are verified against. Default `~/.ssh/known_hosts`. Env: `ERAWAN_SSH_KNOWN_HOSTS_FILE`."},
					"host_key_policy": schema.StringAttribute{Optional: true,
						Validators:          []validator.String{stringvalidator.OneOf(sshclient.PolicyStrict, sshclient.PolicyAcceptNew)},
						MarkdownDescription: "`strict` (default): only hosts already in `known_hosts_file` are accepted. `accept-new`: keys of hosts seen for the first time are recorded there; a later mismatch is always an error naming the host and both fingerprints. Env: `ERAWAN_SSH_HOST_KEY_POLICY`."},
					"bastion": schema.SingleNestedAttribute{Optional: true,
						MarkdownDescription: "Optional jump host. Its host key is verified against the same `known_hosts_file`.",
						Attributes: map[string]schema.Attribute{
							"host":             schema.StringAttribute{Required: true, MarkdownDescription: "Bastion address. Env: `ERAWAN_SSH_BASTION_HOST`."},
							"port":             schema.Int64Attribute{Optional: true, MarkdownDescription: "Bastion SSH port. Default `22`."},
							"user":             schema.StringAttribute{Optional: true, MarkdownDescription: "Bastion user. Default: `ssh.user`."},
							"private_key":      schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Bastion key text. Default: the nodes' key or the agent."},
							"private_key_file": schema.StringAttribute{Optional: true, MarkdownDescription: "Bastion key path."},
						},
					},
				},
			},
			"lock_timeout": schema.StringAttribute{Optional: true,
				Validators: []validator.String{durationValidator{}},
				MarkdownDescription: "How long a create, update or delete waits for the lock on its nodes while another run holds it, as a Go duration such as `\"10m\"` or `\"90s\"`. " +
					"Default `\"10m\"`; `\"0s\"` fails at once. Each cluster is locked on every one of its nodes, and each proxy host once for all its tenants, " +
					"so two `terraform apply` runs from different states, workspaces or machines never change one cluster or proxy host at once; " +
					"the error names the holder (machine, process, operation, resource id, start time). A lock is freed when its holder ends, " +
					"including a killed provider or a lost SSH connection. Plans and reads take no lock. Env: `ERAWAN_LOCK_TIMEOUT`."},
			"ansible_playbook": schema.StringAttribute{Optional: true,
				MarkdownDescription: "The `ansible-playbook` to run: a path or a name on `PATH`. Default `ansible-playbook`; ansible-core 2.14 or newer is required. Env: `ERAWAN_ANSIBLE_PLAYBOOK`."},
		},
	}
}

func strOr(v types.String, env, def string) string {
	if !v.IsNull() && !v.IsUnknown() && v.ValueString() != "" {
		return v.ValueString()
	}
	if e := os.Getenv(env); e != "" {
		return e
	}
	return def
}

func intOr(v types.Int64, env string, def int) (int, error) {
	if !v.IsNull() && !v.IsUnknown() {
		return int(v.ValueInt64()), nil
	}
	if e := os.Getenv(env); e != "" {
		return strconv.Atoi(e)
	}
	return def, nil
}

func (p *erawanProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := cfg.SSH
	if s == nil {
		s = &sshModel{}
	}
	port, err := intOr(s.Port, "ERAWAN_SSH_PORT", 22)
	if err != nil || port < 1 || port > 65535 {
		resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("port"), "Invalid SSH port", "ssh.port / ERAWAN_SSH_PORT must be 1-65535.")
		return
	}
	known := strOr(s.KnownHostsFile, "ERAWAN_SSH_KNOWN_HOSTS_FILE", "~/.ssh/known_hosts")
	settings := sshclient.Settings{
		Endpoint: sshclient.Endpoint{
			User:           strOr(s.User, "ERAWAN_SSH_USER", "root"),
			Port:           port,
			PrivateKey:     strOr(s.PrivateKey, "ERAWAN_SSH_PRIVATE_KEY", ""),
			PrivateKeyFile: strOr(s.PrivateKeyFile, "ERAWAN_SSH_PRIVATE_KEY_FILE", ""),
		},
		KnownHostsFile: sshclient.ExpandHome(known),
		HostKeyPolicy:  strOr(s.HostKeyPolicy, "ERAWAN_SSH_HOST_KEY_POLICY", sshclient.PolicyStrict),
	}
	if settings.HostKeyPolicy != sshclient.PolicyStrict && settings.HostKeyPolicy != sshclient.PolicyAcceptNew {
		resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("host_key_policy"), "Invalid host key policy",
			"ERAWAN_SSH_HOST_KEY_POLICY must be \"strict\" or \"accept-new\".")
		return
	}
	bastionHost := ""
	if s.Bastion != nil {
		bastionHost = s.Bastion.Host.ValueString()
	} else {
		bastionHost = os.Getenv("ERAWAN_SSH_BASTION_HOST")
	}
	if bastionHost != "" {
		b := s.Bastion
		if b == nil {
			b = &bastionModel{}
		}
		bport, err := intOr(b.Port, "ERAWAN_SSH_BASTION_PORT", 22)
		if err != nil || bport < 1 || bport > 65535 {
			resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("bastion").AtName("port"), "Invalid bastion SSH port",
				"ssh.bastion.port / ERAWAN_SSH_BASTION_PORT must be 1-65535.")
			return
		}
		settings.Bastion = &sshclient.Endpoint{Host: bastionHost, User: strOr(b.User, "ERAWAN_SSH_BASTION_USER", settings.User), Port: bport,
			PrivateKey: b.PrivateKey.ValueString(), PrivateKeyFile: b.PrivateKeyFile.ValueString()}
	}
	settings = settings.WithDefaults()
	pool, err := sshclient.New(sshclient.Config{Settings: settings, OnDial: func(host string) {
		tflog.Debug(ctx, "ssh connection opened", map[string]any{"host": host})
	}})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("ssh"), "Invalid SSH settings", err.Error())
		return
	}
	lockTimeout, err := time.ParseDuration(strOr(cfg.LockTimeout, "ERAWAN_LOCK_TIMEOUT", "10m"))
	if err == nil && lockTimeout < 0 {
		err = errors.New("negative")
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("lock_timeout"), "Invalid lock timeout",
			fmt.Sprintf("lock_timeout / ERAWAN_LOCK_TIMEOUT must be a non-negative Go duration such as \"10m\" or \"0s\": %v", err))
		return
	}
	c := &clients{lockTimeout: lockTimeout, pool: pool, runner: runner.Runner{Binary: strOr(cfg.AnsiblePlaybook, "ERAWAN_ANSIBLE_PLAYBOOK", "ansible-playbook"), SSH: settings}}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func (p *erawanProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewPatroniClusterResource, NewMySQLClusterResource, NewHAProxyTenantResource, NewPatroniBackupResource}
}

func (p *erawanProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewPatroniClusterDataSource, NewPatroniBackupsDataSource}
}
