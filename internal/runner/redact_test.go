package runner

import "testing"

func TestRedactor(t *testing.T) {
	r := NewRedactor("abcd1234", "", "xy")
	if got := r.Redact("pw=abcd1234 xy"); got != "pw=<redacted> xy" {
		t.Fatalf("got %q (short secrets are not redacted to keep output readable)", got)
	}
}
