package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
)

// The fault tests that need a real provider process (one that can be killed,
// or two applies from two states at once) drive the terraform CLI with the
// provider binary built from this module, through dev_overrides.

var (
	providerBinOnce sync.Once
	providerBinDir  string
	providerBinErr  error
)

// providerBin builds the provider once per test binary and returns the
// directory holding it.
func providerBin(t *testing.T) string {
	t.Helper()
	providerBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "erawan-acc-bin-")
		if err != nil {
			providerBinErr = err
			return
		}
		providerBinDir = dir
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-erawan"), "../..").CombinedOutput()
		if err != nil {
			providerBinErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if providerBinErr != nil {
		t.Fatal(providerBinErr)
	}
	return providerBinDir
}

// tfDir is one Terraform working directory (one state).
type tfDir struct {
	t   *testing.T
	dir string
	env []string
}

// newTFDir makes a working directory whose provider is the built binary.
func newTFDir(t *testing.T, name string) *tfDir {
	t.Helper()
	bin := providerBin(t)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"erawan-cluster/erawan\" = %q\n  }\n  direct {}\n}\n", bin)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return &tfDir{t: t, dir: dir, env: env}
}

// write replaces the configuration with the provider block for the lab
// plus hcl.
func (d *tfDir) write(l *lab.File, hcl string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, "main.tf"), []byte(d.config(l, hcl)), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// config is the text write puts in main.tf.
func (d *tfDir) config(l *lab.File, hcl string) string {
	return "terraform {\n  required_providers {\n    erawan = { source = \"erawan-cluster/erawan\" }\n  }\n}\n" + labProviderHCL(l) + hcl
}

// writeKnownHosts is write with the provider verifying host keys against
// knownHosts instead of the lab's file.
func (d *tfDir) writeKnownHosts(l *lab.File, knownHosts, hcl string) {
	d.t.Helper()
	lc := *l
	lc.KnownHostsFile = knownHosts
	d.write(&lc, hcl)
}

// writeAcceptNew is write with ssh.host_key_policy = "accept-new" and a
// known_hosts file that does not exist yet, as on a first run against new hosts.
func (d *tfDir) writeAcceptNew(l *lab.File, knownHosts, hcl string) {
	d.t.Helper()
	text := "terraform {\n  required_providers {\n    erawan = { source = \"erawan-cluster/erawan\" }\n  }\n}\n" + fmt.Sprintf(`
provider "erawan" {
  ssh = {
    user             = %q
    private_key_file = %q
    known_hosts_file = %q
    host_key_policy  = "accept-new"
  }
}
`, l.SSHUser, l.SSHPrivateKeyFile, knownHosts) + hcl
	if err := os.WriteFile(filepath.Join(d.dir, "main.tf"), []byte(text), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// cmd builds a terraform command in d with extra environment.
func (d *tfDir) cmd(ctx context.Context, extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = "terraform"
	}
	c := exec.CommandContext(ctx, tf, args...)
	c.Dir = d.dir
	c.Env = append(append([]string{}, d.env...), extraEnv...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	return c, &out
}

// run runs terraform args to the end and returns its output.
func (d *tfDir) run(extraEnv []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, out := d.cmd(ctx, extraEnv, args...)
	err := c.Run()
	return out.String(), err
}

// must runs terraform args and fails the test on error.
func (d *tfDir) must(args ...string) string {
	d.t.Helper()
	out, err := d.run(nil, args...)
	if err != nil {
		d.t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), filepath.Base(d.dir), err, tail(out, 60))
	}
	return out
}

// planEmpty fails the test unless a plan of d has no changes.
func (d *tfDir) planEmpty() {
	d.t.Helper()
	out, err := d.run(nil, "plan", "-input=false", "-no-color", "-detailed-exitcode")
	if err != nil {
		d.t.Fatalf("the plan of %s is not empty (%v):\n%s", filepath.Base(d.dir), err, tail(out, 60))
	}
}

// output reads a terraform output as a raw string.
func (d *tfDir) output(name string) string {
	d.t.Helper()
	return strings.TrimSpace(d.must("output", "-raw", name))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var applyArgs = []string{"apply", "-auto-approve", "-input=false", "-no-color"}
