package sshclient

import "testing"

func TestSettingsWithDefaults(t *testing.T) {
	got := Settings{}.WithDefaults()
	if got.User != "root" || got.Port != 22 || got.HostKeyPolicy != PolicyStrict || got.Bastion != nil {
		t.Fatalf("defaults: %+v", got)
	}

	in := Settings{Endpoint: Endpoint{User: "deploy", Port: 2222}, HostKeyPolicy: PolicyAcceptNew,
		Bastion: &Endpoint{Host: "jump.example"}}
	got = in.WithDefaults()
	if got.User != "deploy" || got.Port != 2222 || got.HostKeyPolicy != PolicyAcceptNew {
		t.Fatalf("set values must be kept: %+v", got)
	}
	if b := got.Bastion; b == nil || b.Host != "jump.example" || b.User != "deploy" || b.Port != 22 {
		t.Fatalf("bastion defaults (node user, port 22): %+v", got.Bastion)
	}
	if in.Bastion.User != "" || in.Bastion.Port != 0 {
		t.Fatalf("WithDefaults changed its receiver's bastion: %+v", in.Bastion)
	}

	got = Settings{Bastion: &Endpoint{Host: "j", User: "hop", Port: 2022}}.WithDefaults()
	if got.Bastion.User != "hop" || got.Bastion.Port != 2022 || got.User != "root" {
		t.Fatalf("bastion's own user and port must be kept: %+v %+v", got, got.Bastion)
	}

	if again := got.WithDefaults(); again.User != got.User || *again.Bastion != *got.Bastion {
		t.Fatal("WithDefaults is not idempotent")
	}
}

func TestSettingsBecomeAndSudo(t *testing.T) {
	for _, c := range []struct {
		user   string
		become bool
		sudo   string
	}{
		{"", false, ""}, // defaults to root
		{"root", false, ""},
		{"deploy", true, "sudo -n "},
	} {
		s := Settings{Endpoint: Endpoint{User: c.user}}
		if s.Become() != c.become || s.Sudo() != c.sudo {
			t.Errorf("user %q: Become %v Sudo %q, want %v %q", c.user, s.Become(), s.Sudo(), c.become, c.sudo)
		}
	}
}
