package sshclient

// Endpoint is an SSH login: where (the bastion only; nodes are named per
// call) and as whom to connect.
type Endpoint struct {
	Host           string // only for the bastion
	User           string
	Port           int
	PrivateKey     string // PEM/OpenSSH key text; takes precedence over PrivateKeyFile
	PrivateKeyFile string
}

// Settings are the SSH settings of a provider instance, shared by the Go SSH
// layer (Pool) and Ansible's OpenSSH connections (runner), so both reach
// hosts the same way with the same host-key checking.
type Settings struct {
	Endpoint
	KnownHostsFile string
	HostKeyPolicy  string    // PolicyStrict (default) or PolicyAcceptNew
	Bastion        *Endpoint // optional jump host; Bastion.Host must be set
}

// Defaults of Settings, applied by WithDefaults only.
const (
	DefaultUser = "root"
	DefaultPort = 22
)

// WithDefaults returns s with every default applied: user root, port 22,
// the strict host-key policy, and for a bastion the node user and port 22.
// It is the only place these defaults live. The bastion is copied, so s is
// never changed.
func (s Settings) WithDefaults() Settings {
	if s.User == "" {
		s.User = DefaultUser
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.HostKeyPolicy == "" {
		s.HostKeyPolicy = PolicyStrict
	}
	if s.Bastion != nil {
		b := *s.Bastion
		if b.User == "" {
			b.User = s.User
		}
		if b.Port == 0 {
			b.Port = DefaultPort
		}
		s.Bastion = &b
	}
	return s
}

// Become tells whether root commands need privilege escalation: true unless
// the login user (after defaults) is root.
func (s Settings) Become() bool {
	return s.WithDefaults().User != "root"
}

// Sudo is the prefix of a root command run over a login of these settings:
// "" for root, "sudo -n " for another user (passwordless sudo, never a prompt).
func (s Settings) Sudo() string {
	if s.Become() {
		return "sudo -n "
	}
	return ""
}
