package secrets

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

func TestGeneratePassword(t *testing.T) {
	a, _ := GeneratePassword(32)
	b, _ := GeneratePassword(32)
	if len(a) != 32 || a == b || !regexp.MustCompile(`^[A-Za-z2-9]+$`).MatchString(a) {
		t.Fatalf("passwords %q %q", a, b)
	}
}

// The verifier's shape, and a value computed independently with Python's
// hashlib.pbkdf2_hmac / hmac for password "pencil" and a fixed salt.
func TestScramVerifier(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	got, err := scramVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if got != want {
		t.Fatalf("verifier\n got %s\nwant %s", got, want)
	}
	v1, _ := ScramVerifier("pencil")
	v2, _ := ScramVerifier("pencil")
	if v1 == v2 || !strings.HasPrefix(v1, "SCRAM-SHA-256$4096:") {
		t.Fatalf("random salts expected: %s %s", v1, v2)
	}
}

func TestIdentifiers(t *testing.T) {
	if id := ClusterID("orders"); !regexp.MustCompile(`^orders-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("cluster id %q", id)
	}
	if u := UUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("uuid %q", u)
	}
}
