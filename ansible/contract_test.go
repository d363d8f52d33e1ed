package ansible_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	bundle "github.com/erawan-cluster/terraform-provider-erawan/ansible"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/haproxy"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/testbin"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// The Go→Ansible contract: the playbooks of each engine, their steps in
// order (a step is a play named and tagged after it that runs exactly the
// role <engine>_<step>), both as the Go side names them, and the extra vars
// the Go side really sends to every run of that engine's playbooks.
var playbooks = []struct {
	file, engine string
	steps        []string
	vars         func() map[string]any
	missing      string // a variable the first step's role needs
}{
	{pgcluster.PlaybookCreate, "patroni", pgcluster.CreateSteps, patroniVars, "erawan_cluster_id"},
	{pgcluster.PlaybookUpdate, "patroni", pgcluster.UpdateSteps, patroniUpdateVars, "erawan_cluster_id"},
	{pgcluster.PlaybookDelete, "patroni", pgcluster.DeleteSteps, patroniVars, "erawan_cluster"},
	{mysqlgr.PlaybookCreate, "mysql", mysqlgr.CreateSteps, mysqlVars, "erawan_mysql_group_name"},
	{mysqlgr.PlaybookUpdate, "mysql", mysqlgr.UpdateSteps, mysqlVars, "erawan_mysql_group_name"},
	{mysqlgr.PlaybookDelete, "mysql", mysqlgr.DeleteSteps, mysqlVars, "erawan_mysql_group_name"},
	{haproxy.Playbook, "haproxy", haproxy.Steps, haproxyVars, "erawan_tenant_file"},
}

// Go variables that no role reads: the plays' own conditions read them
// (`- role: x` with `when:`), or nothing in the bundle does.
var notRoleInputs = map[string]string{
	"erawan_mysql_router":         "play condition of the router step",
	"erawan_mysql_rotate_admin":   "play condition of the passwords step",
	"erawan_mysql_router_ro_port": "not read by the playbooks",
}

// asMap is v as the playbooks receive it: its JSON object.
func asMap(v any, err error) map[string]any {
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

var testMembers = []topology.Member{{Name: "pg1", Address: "127.0.0.1"}, {Name: "pg2", Address: "127.0.0.2"}, {Name: "pg3", Address: "127.0.0.3"}}

func patroniSpec() *pgcluster.Spec {
	return &pgcluster.Spec{Name: "main", ID: "main-0f6f3b9e1c2d", PostgresVersion: 16, Nodes: testMembers,
		PostgresPort: 5432, PatroniPort: 8008, EtcdClientPort: 2379, EtcdPeerPort: 2380,
		AllowedCIDRs: []string{"10.0.0.0/24"}, Parameters: map[string]string{"max_connections": "200"},
		Database: &pgcluster.Database{Name: "app", Owner: "app", Password: "pw-app"},
		TLS:      &pgcluster.TLS{RequireTLS: true, CAPEM: "ca"},
		Backup: &pgcluster.Backup{RepositoryHost: "127.0.0.5", RepositoryPath: "/var/lib/pgbackrest", RetentionFull: 2, ServerPort: 8432,
			Schedule: map[string]string{"full": "Sun *-*-* 01:00:00"}},
		Restore: &pgcluster.Restore{RepositoryHost: "127.0.0.6", RepositoryPath: "/var/lib/pgbackrest", Stanza: "orders", ServerPort: 8431,
			TargetTime: "2026-11-22T10:00:00Z", Run: true},
		Passwords: pgcluster.Passwords{Superuser: "pw-super", Replication: "pw-repl", Rewind: "pw-rewind", RestAPI: "pw-rest"}}
}

// patroniVars are the real variables of a Patroni create or delete.
func patroniVars() map[string]any { return asMap(patroniSpec().Vars(nil, nil)) }

// patroniUpdateVars are those of an update that changes a parameter and
// rotates the superuser's password.
func patroniUpdateVars() map[string]any {
	old, next := patroniSpec(), patroniSpec()
	next.Parameters["work_mem"] = "8MB"
	return asMap(next.Vars(old, map[string]string{"postgres": "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy"}))
}

// patroniBackupOffVars are the real variables of an update that removes
// the cluster's backups.
func patroniBackupOffVars() map[string]any {
	old, next := patroniSpec(), patroniSpec()
	next.Backup = nil
	return asMap(next.Vars(old, nil))
}

// mysqlVars are the real variables of a MySQL run that removes a member,
// rotates the admin password and has a database and Router.
func mysqlVars() map[string]any {
	s := &mysqlgr.Spec{Name: "shop", ID: "shop-7d3c2b1a0f9e", GroupName: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Nodes: testMembers,
		MySQLPort: 3306, GroupPort: 33061, Management: mysqlgr.ModeGroupReplication, ClusterAdminUser: "clusteradmin",
		Router: true, RouterRWPort: 6446, RouterROPort: 6447, PrimaryCheckPort: 9201,
		Database:      &mysqlgr.Database{Name: "app", User: "app"},
		AdminPassword: "admin-pw", DatabasePassword: "app-pw", RouterPassword: "router-pw"}
	return asMap(s.Vars([]topology.Member{{Name: "pg4", Address: "127.0.0.4"}}, true), nil)
}

// haproxyVars are the real variables of a tenant write.
func haproxyVars() map[string]any {
	t := haproxy.Tenant{Name: "shop", BindAddress: "127.0.0.1", ReadWritePort: 15432}
	return asMap(haproxy.PlaybookVars(t, haproxy.StatePresent, haproxy.WithOwner("0f6e2a51-owner", "listen shop\n  bind 127.0.0.1:15432\n"), "0f6e2a51-owner"), nil)
}

// Every host connects locally (no SSH), and every group the provider sends
// has a member, so every play has hosts.
const inventory = `all:
  vars:
    ansible_connection: local
  children:
    erawan_members:
      hosts:
        pg1: {ansible_host: 127.0.0.1}
        pg2: {ansible_host: 127.0.0.2}
        pg3: {ansible_host: 127.0.0.3}
    erawan_anchor: {hosts: {pg1: {}}}
    erawan_joiners: {hosts: {pg3: {}}}
    erawan_added: {hosts: {pg3: {}}}
    erawan_removed: {hosts: {pg4: {ansible_host: 127.0.0.4}}}
    erawan_proxy: {hosts: {px1: {ansible_host: 127.0.0.1}}}
    erawan_repository: {hosts: {pgbackrest-repository: {ansible_host: 127.0.0.5}}}
    erawan_restore_source: {hosts: {pgbackrest-restore: {ansible_host: 127.0.0.6}}}
`

// ansiblePlaybook returns the path of ansible-playbook, skipping the test
// when it is missing (a failure when CI=true).
func ansiblePlaybook(t *testing.T) string {
	t.Helper()
	return testbin.Require(t, "ansible-playbook", "the playbooks' syntax and argument specs are checked by ansible-core itself")
}

// extract writes the bundle and the inventory to a temporary directory, as
// the runner does, and returns the directory.
func extract(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(bundle.Bundle, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "bundle", p)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := bundle.Bundle.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inventory.yml"), []byte(inventory), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type runResult struct {
	err    error
	stdout []byte
	stderr []byte
}

// run runs ansible-playbook in dir/bundle with the bundle's ansible.cfg (so
// the erawan_json callback prints one JSON event per line) and Ansible's
// own state directories inside dir.
func run(t *testing.T, bin, dir string, vars map[string]any, args ...string) runResult {
	t.Helper()
	all := []string{"-i", filepath.Join(dir, "inventory.yml")}
	if vars != nil {
		b, err := json.Marshal(vars)
		if err != nil {
			t.Fatal(err)
		}
		vf := filepath.Join(dir, fmt.Sprintf("vars-%d.json", len(b)))
		if err := os.WriteFile(vf, b, 0o600); err != nil {
			t.Fatal(err)
		}
		all = append(all, "-e", "@"+vf)
	}
	cmd := exec.Command(bin, append(all, args...)...)
	cmd.Dir = filepath.Join(dir, "bundle")
	cmd.Env = append(os.Environ(),
		"ANSIBLE_CONFIG="+filepath.Join(dir, "bundle", "ansible.cfg"),
		"ANSIBLE_HOME="+filepath.Join(dir, "home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_NOCOLOR=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return runResult{err: err, stdout: stdout.Bytes(), stderr: stderr.Bytes()}
}

type event struct {
	Event  string `json:"event"`
	Step   string `json:"step"`
	Task   string `json:"task"`
	Status string `json:"status"`
	Host   string `json:"host"`
	Msg    string `json:"msg"`
}

func events(t *testing.T, out []byte) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON event: %q", sc.Text())
		}
		evs = append(evs, e)
	}
	return evs
}

// validationTask is the name ansible-core gives the argument-spec check it
// prepends to a role's tasks (with short_description "<role> inputs").
func validationTask(role string) string {
	return role + " : Validating arguments against arg spec 'main' - " + role + " inputs"
}

func isValidation(task string) bool {
	return strings.Contains(task, " : Validating arguments against arg spec ")
}

func TestSyntaxCheck(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	for _, pb := range playbooks {
		t.Run(pb.file, func(t *testing.T) {
			t.Parallel()
			r := run(t, bin, dir, pb.vars(), "--syntax-check", pb.file)
			if r.err != nil {
				t.Fatalf("--syntax-check %s: %v\n%s%s", pb.file, r.err, r.stdout, r.stderr)
			}
		})
	}
}

type play struct {
	Name      string      `yaml:"name"`
	Tags      []string    `yaml:"tags"`
	Roles     []yaml.Node `yaml:"roles"`
	Tasks     any         `yaml:"tasks"`
	PreTasks  any         `yaml:"pre_tasks"`
	PostTasks any         `yaml:"post_tasks"`
	Handlers  any         `yaml:"handlers"`
}

// roleName reads a roles: entry, either `name` or `{role: name, when: ...}`.
func roleName(n yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return ""
	}
	s, _ := m["role"].(string)
	return s
}

func TestPlaysRunTheirRole(t *testing.T) {
	for _, pb := range playbooks {
		b, err := bundle.Bundle.ReadFile(pb.file)
		if err != nil {
			t.Fatal(err)
		}
		var plays []play
		if err := yaml.Unmarshal(b, &plays); err != nil {
			t.Fatalf("%s: %v", pb.file, err)
		}
		var names []string
		for _, p := range plays {
			names = append(names, p.Name)
			if !slices.Equal(p.Tags, []string{p.Name}) {
				t.Errorf("%s: play %q is tagged %v, want [%s]", pb.file, p.Name, p.Tags, p.Name)
			}
			want := pb.engine + "_" + p.Name
			if len(p.Roles) != 1 || roleName(p.Roles[0]) != want {
				var got []string
				for _, r := range p.Roles {
					got = append(got, roleName(r))
				}
				t.Errorf("%s: play %q runs roles %v, want exactly [%s]", pb.file, p.Name, got, want)
			}
			if p.Tasks != nil || p.PreTasks != nil || p.PostTasks != nil || p.Handlers != nil {
				t.Errorf("%s: play %q has tasks of its own; a step runs its role only", pb.file, p.Name)
			}
		}
		if !slices.Equal(names, pb.steps) {
			t.Errorf("%s: steps %v, want %v", pb.file, names, pb.steps)
		}
	}
}

type argSpecs struct {
	ArgumentSpecs map[string]struct {
		ShortDescription string `yaml:"short_description"`
		Options          map[string]struct {
			Type        string `yaml:"type"`
			Required    bool   `yaml:"required"`
			Description any    `yaml:"description"`
			NoLog       bool   `yaml:"no_log"`
		} `yaml:"options"`
	} `yaml:"argument_specs"`
}

func readSpecs(t *testing.T, role string) argSpecs {
	t.Helper()
	var s argSpecs
	b, err := bundle.Bundle.ReadFile("roles/" + role + "/meta/argument_specs.yml")
	if err != nil {
		t.Errorf("role %s: %v", role, err)
		return s
	}
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Errorf("role %s: meta/argument_specs.yml: %v", role, err)
	}
	return s
}

// Every role declares its inputs; every entry point is a task file of the
// role; every Go variable an engine's roles declare is one the provider
// sends, required, and every variable the provider sends is declared by a
// role of its engine (or listed in notRoleInputs).
func TestRolesDeclareInputs(t *testing.T) {
	roles, err := fs.ReadDir(bundle.Bundle, "roles")
	if err != nil {
		t.Fatal(err)
	}
	goVars := map[string]map[string]bool{}
	for _, pb := range playbooks {
		goVars[pb.engine] = map[string]bool{}
		for k := range pb.vars() {
			goVars[pb.engine][k] = true
		}
	}
	declared := map[string]map[string]bool{"patroni": {}, "mysql": {}, "haproxy": {}}
	secret := regexp.MustCompile(`password|passwords|verifier|marker_content|database$`)
	for _, r := range roles {
		role := r.Name()
		s := readSpecs(t, role)
		if len(s.ArgumentSpecs) == 0 {
			t.Errorf("role %s declares no entry point", role)
		}
		if _, err := fs.Stat(bundle.Bundle, "roles/"+role+"/tasks/main.yml"); err == nil {
			if _, ok := s.ArgumentSpecs["main"]; !ok {
				t.Errorf("role %s has tasks/main.yml but no main entry point", role)
			}
		}
		for ep, spec := range s.ArgumentSpecs {
			if _, err := fs.Stat(bundle.Bundle, "roles/"+role+"/tasks/"+ep+".yml"); err != nil {
				t.Errorf("role %s: entry point %s has no tasks/%s.yml", role, ep, ep)
			}
			for name, o := range spec.Options {
				if o.Type == "" || o.Description == nil {
					t.Errorf("role %s %s: option %s needs a type and a description", role, ep, name)
				}
				for engine, vars := range goVars {
					if !vars[name] {
						continue
					}
					if engine == strings.SplitN(role, "_", 2)[0] || role == "erawan_common" {
						declared[engine][name] = true
					}
					if !o.Required {
						t.Errorf("role %s %s: %s is a provider variable and must be required", role, ep, name)
					}
					if secret.MatchString(name) && !o.NoLog {
						t.Errorf("role %s %s: %s holds secrets and must be no_log", role, ep, name)
					}
				}
			}
		}
	}
	for engine, vars := range goVars {
		for name := range vars {
			if !declared[engine][name] && notRoleInputs[name] == "" {
				t.Errorf("%s variable %s is declared by no %s role", engine, name, engine)
			}
		}
	}
}

// Only the argument-spec checks ansible-core prepends may carry the tag
// always: the validation runs below rely on it.
func TestNoTaskTaggedAlways(t *testing.T) {
	always := regexp.MustCompile(`(?m)^\s*(-\s+)?tags:.*\balways\b`)
	err := fs.WalkDir(bundle.Bundle, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		b, err := bundle.Bundle.ReadFile(p)
		if err == nil && always.Match(b) {
			t.Errorf("%s tags a task always", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The argument-spec checks run for real, on this machine, without changing
// it. Why that is safe and sound:
//   - ansible-core prepends the check to a role's tasks as its first task,
//     tagged always (TestFirstTaskIsValidation shows it is the first task of
//     every playbook), so in a real run a missing variable fails there,
//     before any other task of the run.
//   - --tags always runs exactly these checks: no task of the bundle is
//     tagged always (TestNoTaskTaggedAlways), and the run asserts that no
//     other task started. Tasks of dynamically included roles are skipped.
//   - validate_argument_spec is an action plugin: it runs in the controller
//     process, executes no module and opens no connection (the hosts use
//     ansible_connection: local anyway). --check is an extra guard, and
//     Ansible's own state lives in the test's temporary directory.
func TestMissingVariableFailsValidation(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	for _, pb := range playbooks {
		t.Run(pb.file, func(t *testing.T) {
			t.Parallel()
			vars := pb.vars()
			delete(vars, pb.missing)
			r := run(t, bin, dir, vars, "--check", "--tags", "always", pb.file)
			if r.err == nil {
				t.Fatalf("run without %s succeeded:\n%s", pb.missing, r.stdout)
			}
			evs := events(t, r.stdout)
			first := validationTask(pb.engine + "_" + pb.steps[0])
			var failed []event
			for _, e := range evs {
				if e.Event == "task_start" && !isValidation(e.Task) {
					t.Errorf("task %q started; only argument-spec checks may run", e.Task)
				}
				if e.Event == "result" && e.Status == "failed" {
					failed = append(failed, e)
				}
			}
			if len(failed) == 0 {
				t.Fatalf("no task failed:\n%s%s", r.stdout, r.stderr)
			}
			for _, e := range failed {
				if e.Task != first || e.Step != pb.steps[0] {
					t.Errorf("failed in step %q task %q, want the first check %q", e.Step, e.Task, first)
				}
				if !strings.Contains(e.Msg, "missing required arguments: "+pb.missing) {
					t.Errorf("failure does not name %s: %q", pb.missing, e.Msg)
				}
			}
		})
	}
}

// With every variable the provider sends, every step's argument-spec check
// passes (see TestMissingVariableFailsValidation for why --tags always
// --check is safe). A variant sends no database (JSON null).
func TestAllVariablesPassValidation(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	type variant struct {
		name string
		vars map[string]any
		skip map[string]bool // steps whose role is off (its play condition)
	}
	for _, pb := range playbooks {
		variants := []variant{{"all", pb.vars(), nil}}
		switch pb.engine {
		case "patroni":
			v := pb.vars()
			v["erawan_database"] = nil
			v["erawan_backup"] = nil
			v["erawan_restore"] = nil
			variants = append(variants, variant{"no_database", v, map[string]bool{"database": true, "pgbackrest": true, "stanza": true, "backup_off": true,
				"restore": true, "restore_end": true}})
			if pb.file == pgcluster.PlaybookUpdate {
				variants[0].skip = map[string]bool{"backup_off": true} // backups kept
				variants = append(variants, variant{"backup_off", patroniBackupOffVars(), map[string]bool{"pgbackrest": true, "stanza": true}})
			}
		case "mysql":
			v := pb.vars()
			v["erawan_mysql_database"] = nil
			v["erawan_mysql_router"] = false
			v["erawan_mysql_rotate_admin"] = false
			v["erawan_mysql_management"] = "adminapi"
			v["erawan_mysql_scripts"] = map[string]string{"create_cluster": "print('ERAWAN_STATUS {}')"}
			variants = append(variants, variant{"no_database", v, map[string]bool{"database": true, "router": true, "passwords": true}})
		}
		for _, vr := range variants {
			t.Run(pb.file+"/"+vr.name, func(t *testing.T) {
				t.Parallel()
				r := run(t, bin, dir, vr.vars, "--check", "--tags", "always", pb.file)
				if r.err != nil {
					t.Fatalf("%v\n%s%s", r.err, r.stdout, r.stderr)
				}
				ok := map[string]bool{}
				for _, e := range events(t, r.stdout) {
					if e.Event == "task_start" && !isValidation(e.Task) {
						t.Errorf("task %q started; only argument-spec checks may run", e.Task)
					}
					if e.Event == "result" && e.Status != "ok" && e.Status != "skipped" {
						t.Errorf("%s on %s: %s %s", e.Task, e.Host, e.Status, e.Msg)
					}
					if e.Event == "result" && e.Status == "ok" && e.Task == validationTask(pb.engine+"_"+e.Step) {
						ok[e.Step] = true
					}
				}
				for _, s := range pb.steps {
					if !ok[s] && !vr.skip[s] {
						t.Errorf("step %s: its role's argument-spec check did not pass", s)
					}
				}
			})
		}
	}
}

// The argument-spec check is the first task of every playbook, so a run
// with a missing variable stops before any other task.
func TestFirstTaskIsValidation(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	for _, pb := range playbooks {
		t.Run(pb.file, func(t *testing.T) {
			t.Parallel()
			r := run(t, bin, dir, pb.vars(), "--list-tasks", pb.file)
			if r.err != nil {
				t.Fatalf("%v\n%s%s", r.err, r.stdout, r.stderr)
			}
			var tasks []string
			inTasks := false
			for _, l := range strings.Split(string(r.stdout), "\n") {
				switch strings.TrimSpace(l) {
				case "tasks:":
					inTasks = true
					continue
				case "":
					inTasks = false
				}
				if inTasks {
					tasks = append(tasks, strings.SplitN(strings.TrimSpace(l), "\t", 2)[0])
				}
			}
			want := validationTask(pb.engine + "_" + pb.steps[0])
			if len(tasks) == 0 || tasks[0] != want {
				t.Fatalf("first task %q, want %q\n%s", first(tasks), want, r.stdout)
			}
		})
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
