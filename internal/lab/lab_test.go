package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

func TestAddressesAndCacheKey(t *testing.T) {
	if HostAddress("10.231.0", 1) != "10.231.0.11" || HostAddress("10.231.0", 4) != "10.231.0.14" || BridgeAddress("10.231.0") != "10.231.0.1" {
		t.Fatal("lab addresses")
	}
	a, b := CacheKey("trixie", Packages), CacheKey("bookworm", Packages)
	if a == b || !strings.HasPrefix(a, "trixie-") || CacheKey("trixie", append(Packages[:len(Packages):len(Packages)], "x")) == a {
		t.Fatalf("cache keys must differ by suite and package list: %s %s", a, b)
	}
}

func TestCheckPrefix(t *testing.T) {
	for p, ok := range map[string]bool{"10.231.0": true, "192.168.77": true, "8.8.8": false, "10.231": false, "x": false} {
		if err := checkPrefix(p); (err == nil) != ok {
			t.Errorf("checkPrefix(%q) = %v", p, err)
		}
	}
}

func TestLoadShape(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lab.json")
	if err := os.WriteFile(p, []byte(`{"ssh_user":"root","ssh_private_key_file":"/k","known_hosts_file":"/kh","hosts":[{"name":"node1","address":"10.231.0.11","image":"trixie"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil || f.SSHUser != "root" || f.Hosts[0].Address != "10.231.0.11" || f.Hosts[0].Image != "trixie" {
		t.Fatalf("%+v %v", f, err)
	}
}

// The identity written into a host root: its own host key, address and the
// client key, with private files not world-readable.
func TestWriteIdentity(t *testing.T) {
	root := t.TempDir()
	o := &Options{Prefix: "10.231.0"}
	pub, err := writeIdentity(root, Host{Name: "node2", Address: "10.231.0.12"}, o, "ssh-ed25519 AAAA test\n")
	if err != nil || !strings.HasPrefix(pub, "ssh-ed25519 ") {
		t.Fatalf("%q %v", pub, err)
	}
	net, _ := os.ReadFile(filepath.Join(root, "etc/systemd/network/10-host0.network"))
	if !strings.Contains(string(net), "Address=10.231.0.12/24") || !strings.Contains(string(net), "Gateway=10.231.0.1") {
		t.Fatalf("network file:\n%s", net)
	}
	for _, f := range []string{"etc/ssh/ssh_host_ed25519_key", "root/.ssh/authorized_keys"} {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st.Mode(), err)
		}
	}
}

// Every SSH connection to the lab logs in as root with the lab key and
// checks host keys strictly against the lab's known_hosts file.
func TestSettings(t *testing.T) {
	f := &File{SSHUser: "root", SSHPrivateKeyFile: "/lab/id_ed25519", KnownHostsFile: "/lab/known_hosts"}
	s := f.Settings().WithDefaults()
	if s.User != "root" || s.PrivateKeyFile != "/lab/id_ed25519" || s.PrivateKey != "" || s.KnownHostsFile != "/lab/known_hosts" ||
		s.HostKeyPolicy != sshclient.PolicyStrict || s.Port != 22 || s.Bastion != nil || s.Become() {
		t.Fatalf("%+v", s)
	}
}
