package runner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// allowedEnv are the variables of the provider's own environment that
// ansible-playbook and its ssh children get (plus LC_*). Everything else is
// dropped: ANSIBLE_* settings above all, since a user's
// ANSIBLE_HOST_KEY_CHECKING=False, ANSIBLE_SSH_ARGS, ANSIBLE_PIPELINING,
// ANSIBLE_KEEP_REMOTE_FILES or ANSIBLE_STDOUT_CALLBACK would override the
// settings the provider pins.
var allowedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSH_AUTH_SOCK"}

// runEnv is the environment of one run in dir (bundle in bdir): the allowed
// variables of this process and the pinned Ansible settings.
func runEnv(dir, bdir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LC_") || slices.Contains(allowedEnv, k) {
			env = append(env, kv)
		}
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "LC_ALL=") }) {
		env = append(env, "LANG=C.UTF-8") // ansible-core refuses a locale that is not UTF-8
	}
	return append(env,
		"ANSIBLE_CONFIG="+filepath.Join(bdir, "ansible.cfg"),
		"ANSIBLE_HOME="+filepath.Join(dir, "home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_HOST_KEY_CHECKING=True",
		"ANSIBLE_PIPELINING=True",
		"ANSIBLE_KEEP_REMOTE_FILES=False",
		"ANSIBLE_STDOUT_CALLBACK=erawan_json",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"PYTHONUNBUFFERED=1",
	)
}

// runDirPrefix starts the name of every run directory in the system's
// temporary directory: erawan-ansible-<pid>-<random>.
const runDirPrefix = "erawan-ansible-"

func newRunDir() (string, error) {
	staleOnce.Do(removeStaleRunDirs)
	return os.MkdirTemp("", runDirPrefix+strconv.Itoa(os.Getpid())+"-")
}

var staleOnce sync.Once

// removeStaleRunDirs removes the run directories (inventories, variables
// and key copies of earlier runs) of provider processes that died without
// cleaning up, for example by kill -9. A directory of a live process, or
// one not named by a pid, is left alone.
func removeStaleRunDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*-*"))
	for _, m := range matches {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(m), runDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(m)
		}
	}
}
