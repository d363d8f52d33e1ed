// Package testbin finds the external programs that unit tests need
// (haproxy, python3), with one rule: a missing program skips the test on a
// developer machine, but under CI=true it fails the test, so CI never
// passes by skipping.
package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of program name on PATH. When it is missing the
// test is skipped, or failed when the environment has CI=true; why says
// what the program is needed for.
func Require(t testing.TB, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (%s): %v", name, why, err)
		return ""
	}
	t.Skipf("%s not installed: %s (skipped; under CI=true this fails)", name, why)
	return ""
}
