package testbin

import (
	"fmt"
	"testing"
)

// recorder stands in for *testing.T: it records Fatalf and Skipf instead of
// stopping the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestRequire(t *testing.T) {
	const missing = "erawan-no-such-program"
	for _, c := range []struct {
		ci         string
		fail, skip bool
	}{{"", false, true}, {"false", false, true}, {"true", true, false}} {
		t.Setenv("CI", c.ci)
		r := &recorder{TB: t}
		if p := Require(r, missing, "testing"); p != "" || (r.fatal != "") != c.fail || (r.skip != "") != c.skip {
			t.Errorf("CI=%q: path %q fatal %q skip %q", c.ci, p, r.fatal, r.skip)
		}
	}
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	if p := Require(r, "sh", "testing"); p == "" || r.fatal != "" || r.skip != "" {
		t.Errorf("sh: path %q fatal %q skip %q", p, r.fatal, r.skip)
	}
}
