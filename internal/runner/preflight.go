package runner

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// MinVersion is the oldest supported ansible-core.
const MinVersion = "2.14"

var versionRE = regexp.MustCompile(`(?m)^ansible-playbook (?:\[core )?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

// ParseVersion extracts major.minor.patch from `ansible-playbook --version`.
func ParseVersion(out string) (major, minor, patch int, err error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("cannot read a version from %q", firstLine(out))
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		patch, _ = strconv.Atoi(m[3])
	}
	return major, minor, patch, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Preflight checks that the ansible-playbook binary exists and is
// ansible-core 2.14 or newer, and returns its version.
func (r *Runner) Preflight(ctx context.Context) (string, error) {
	bin := r.binary()
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("ansible-playbook not found (%q): install ansible-core %s or newer "+
			"(Debian/Ubuntu: apt-get install ansible-core; elsewhere: pipx install ansible-core), "+
			"or set the provider's ansible_playbook attribute / ERAWAN_ANSIBLE_PLAYBOOK to its path", bin, MinVersion)
	}
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version failed: %v: %s", path, err, firstLine(string(out)))
	}
	major, minor, patch, err := ParseVersion(string(out))
	if err != nil {
		return "", err
	}
	v := fmt.Sprintf("%d.%d.%d", major, minor, patch)
	if major < 2 || (major == 2 && minor < 14) {
		return v, fmt.Errorf("%s is ansible %s; ansible-core %s or newer is required: upgrade it "+
			"(apt-get install ansible-core on Debian 12+, or pipx install ansible-core)", path, v, MinVersion)
	}
	return v, nil
}

func (r *Runner) binary() string {
	if r.Binary == "" {
		return "ansible-playbook"
	}
	return r.Binary
}
