package runner

import (
	"strings"
	"testing"

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
	for _, want := range []string{`"ansible_become": true`, "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly", "ProxyCommand=ssh -o UserKnownHostsFile=/kh -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -p 2222 -i /k", "j@jump.example", `"ansible_host": "10.0.0.1"`} {
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
	for _, want := range []string{`"ansible_become": false`, `"ansible_user": "root"`, `"ansible_port": 22`, "-p 22 -W %h:%p root@jump.example"} {
		if !strings.Contains(s, want) {
			t.Errorf("inventory lacks %q:\n%s", want, s)
		}
	}
	if r.SSH.Bastion.User != "" || r.SSH.User != "" {
		t.Fatal("Inventory changed the runner's settings")
	}
}
