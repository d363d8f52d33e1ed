package runner

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/testbin"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

func TestInventoryBastion(t *testing.T) {
	r := &Runner{SSH: sshclient.Settings{Endpoint: sshclient.Endpoint{User: "deploy", PrivateKeyFile: "/k"}, KnownHostsFile: "/kh",
		Bastion: &sshclient.Endpoint{Host: "jump.example", User: "j", Port: 2222}}}
	b, err := r.Inventory(t.TempDir(), []Host{{Name: "pg1", Address: "10.0.0.1", Groups: []string{"g"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"ansible_become": true`, "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly", "ProxyCommand=ssh -o UserKnownHostsFile=/kh -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -p 2222 -i /k", "-l j -W", "-- jump.example", `"ansible_host": "10.0.0.1"`} {
		if !strings.Contains(s, want) {
			t.Errorf("inventory lacks %q:\n%s", want, s)
		}
	}
}

// Defaults come from sshclient.Settings: root on port 22 without become,
// and a bastion with the node user on port 22.
func TestInventoryDefaults(t *testing.T) {
	r := &Runner{SSH: sshclient.Settings{KnownHostsFile: "/kh", Bastion: &sshclient.Endpoint{Host: "jump.example"}}}
	b, err := r.Inventory(t.TempDir(), []Host{{Name: "pg1", Address: "10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"ansible_become": false`, `"ansible_user": "root"`, `"ansible_port": 22`, "-p 22 -l root -W ", "%h:%p", "-- jump.example"} {
		if !strings.Contains(s, want) {
			t.Errorf("inventory lacks %q:\n%s", want, s)
		}
	}
	if r.SSH.Bastion.User != "" || r.SSH.User != "" {
		t.Fatal("Inventory changed the runner's settings")
	}
}

// Every value in the ProxyCommand reaches the bastion's ssh as one argument,
// whatever it holds: the inventory's ssh args are split as Ansible splits
// them (Python's shlex), OpenSSH's %-tokens are expanded, and the command is
// run by the shell with printf in place of ssh.
func TestProxyCommandQuoting(t *testing.T) {
	python := testbin.Require(t, "python3", "splitting ansible_ssh_common_args as Ansible does")
	odd := "/tmp/my dir/it's $HOME `id` %x;ls"
	r := &Runner{SSH: sshclient.Settings{Endpoint: sshclient.Endpoint{User: "deploy", PrivateKeyFile: odd + ".key"}, KnownHostsFile: odd,
		Bastion: &sshclient.Endpoint{Host: "jump.example", User: "j$(id)", Port: 2222}}}
	b, err := r.Inventory(t.TempDir(), []Host{{Name: "pg1", Address: "10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		All struct {
			Vars map[string]any `json:"vars"`
		} `json:"all"`
	}
	if err := json.Unmarshal(b, &inv); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", "import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))", inv.All.Vars["ansible_ssh_common_args"].(string)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	if err := json.Unmarshal(out, &args); err != nil {
		t.Fatal(err)
	}
	proxy := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "ProxyCommand="); ok {
			proxy = v
		}
	}
	if !strings.HasPrefix(proxy, "ssh ") {
		t.Fatalf("no ProxyCommand in %q", args)
	}
	// OpenSSH's token expansion, then the shell.
	expanded := strings.NewReplacer("%h", "10.0.0.1", "%p", "22", "%%", "%").Replace(proxy)
	out, err = exec.Command("sh", "-c", `printf '%s\n' `+strings.TrimPrefix(expanded, "ssh ")).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for _, want := range []string{"UserKnownHostsFile=" + odd, odd + ".key", "j$(id)", "10.0.0.1:22", "jump.example"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("the bastion ssh lacks the argument %q; it got %q", want, got)
		}
	}
}
