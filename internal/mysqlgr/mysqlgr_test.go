package mysqlgr

import (
	"os/exec"
	"strings"
	"testing"
)

const probeOnline = "marker\tpresent\ncheck\tactive\nrouter\tinactive\nmysqlsh\tno\n" +
	"self\tuuid-1\t9.7.4-2\tgroup-1\n" +
	"member\tuuid-1\t10.0.0.21\t3306\tONLINE\tPRIMARY\t9.7.4\n" +
	"member\tuuid-2\t10.0.0.22\t3306\tONLINE\tSECONDARY\t9.7.4\n" +
	"member\tuuid-3\t10.0.0.23\t3306\tRECOVERING\tSECONDARY\t9.7.4\n" +
	""

func TestParseProbe(t *testing.T) {
	p, err := ParseProbe(probeOnline)
	if err != nil {
		t.Fatal(err)
	}
	if !p.MarkerPresent || !p.CheckActive || p.RouterActive || p.MySQLSh || !p.MySQLUp {
		t.Errorf("flags: %+v", p)
	}
	if p.ServerUUID != "uuid-1" || p.Version != "9.7.4-2" || p.GroupName != "group-1" || len(p.Members) != 3 {
		t.Errorf("fields: %+v", p)
	}
	if s := p.Self(); s == nil || s.Role != RolePrimary || s.State != StateOnline {
		t.Errorf("self: %+v", s)
	}
	if p.Members[2].State != StateRecovering || p.Members[2].Port != 3306 {
		t.Errorf("member 3: %+v", p.Members[2])
	}

	down, err := ParseProbe("marker\tpresent\ncheck\tinactive\nrouter\tinactive\nmysqlsh\tno\nmysqlerror\tERROR 2002 (HY000): Can't connect\n")
	if err != nil {
		t.Fatal(err)
	}
	if down.MySQLUp || !strings.Contains(down.MySQLError, "2002") {
		t.Errorf("mysql down: %+v", down)
	}
	if _, err := ParseProbe("marker\tabsent\n"); err == nil {
		t.Error("a probe without the mysql client's answer must fail")
	}
	if _, err := ParseProbe("self\tonly-two\n"); err == nil {
		t.Error("a malformed self line must fail")
	}
}

// The probe script is valid POSIX shell, checked with sh -n.
func TestProbeScriptParses(t *testing.T) {
	cmd := exec.Command("sh", "-n")
	cmd.Stdin = strings.NewReader(ProbeScript("prodCluster"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v: %s", err, out)
	}
}

func observation(probes ...string) *Observation {
	nodes := []Node{{"db1", "10.0.0.21"}, {"db2", "10.0.0.22"}, {"db3", "10.0.0.23"}}
	obs := &Observation{}
	for i, raw := range probes {
		st := NodeStatus{Node: nodes[i]}
		if raw == "" {
			st.SSHError = exec.ErrNotFound
		} else {
			st.Probe, _ = ParseProbe(raw)
		}
		obs.Nodes = append(obs.Nodes, st)
	}
	for _, s := range obs.Nodes {
		if s.Probe != nil && s.Probe.Self() != nil && s.Probe.Self().State == StateOnline {
			if obs.View == nil || s.Probe.Self().Role == RolePrimary {
				obs.View = s.Probe.Members
			}
		}
	}
	return obs
}

func selfProbe(uuid, state, role string, members string) string {
	return "marker\tpresent\ncheck\tactive\nrouter\tinactive\nmysqlsh\tno\nself\t" + uuid + "\t9.7.4\tgroup-1\n" + members + ""
}

func TestDrift(t *testing.T) {
	want := []Node{{"db1", "10.0.0.21"}, {"db2", "10.0.0.22"}, {"db3", "10.0.0.23"}}
	healthy := "member\tu1\t10.0.0.21\t3306\tONLINE\tPRIMARY\t9.7.4\nmember\tu2\t10.0.0.22\t3306\tONLINE\tSECONDARY\t9.7.4\nmember\tu3\t10.0.0.23\t3306\tONLINE\tSECONDARY\t9.7.4\n"
	obs := observation(selfProbe("u1", "ONLINE", "PRIMARY", healthy), selfProbe("u2", "", "", healthy), selfProbe("u3", "", "", healthy))
	if d := obs.Drift(want, "group-1", false); len(d) != 0 {
		t.Errorf("healthy cluster drifts: %v", d)
	}
	if obs.Primary() != "10.0.0.21" {
		t.Errorf("primary %q", obs.Primary())
	}

	// db3 stopped Group Replication: the group no longer lists it.
	two := "member\tu1\t10.0.0.21\t3306\tONLINE\tPRIMARY\t9.7.4\nmember\tu2\t10.0.0.22\t3306\tONLINE\tSECONDARY\t9.7.4\n"
	obs = observation(selfProbe("u1", "", "", two), selfProbe("u2", "", "", two), selfProbe("u3", "", "", "member\tu3\t10.0.0.23\t3306\tOFFLINE\t\t9.7.4\n"))
	d := obs.Drift(want, "group-1", false)
	if len(d) != 1 || !strings.Contains(d[0], "db3") || !strings.Contains(d[0], "OFFLINE") {
		t.Errorf("stopped member: %v", d)
	}

	// The check service is down on db2, and db3 is unreachable (a warning, not drift).
	down := strings.Replace(selfProbe("u2", "", "", healthy), "check\tactive", "check\tinactive", 1)
	obs = observation(selfProbe("u1", "", "", healthy), down, "")
	d = obs.Drift(want, "group-1", false)
	if len(d) != 1 || !strings.Contains(d[0], "primary-check service on db2") {
		t.Errorf("check down: %v", d)
	}

	// Nobody ONLINE, markers present: a complete outage, never "missing members".
	off := func(u string) string {
		return selfProbe(u, "", "", "member\t"+u+"\t10.0.0.2x\t3306\tOFFLINE\t\t9.7.4\n")
	}
	obs = observation(off("u1"), off("u2"), off("u3"))
	if !obs.CompleteOutage() {
		t.Error("no member ONLINE with markers is a complete outage")
	}
	if d := obs.Drift(want, "group-1", false); len(d) != 1 || !strings.Contains(d[0], "complete outage") {
		t.Errorf("outage drift: %v", d)
	}
	if obs.Gone() {
		t.Error("an outage is not a gone cluster")
	}
	gone := "marker\tabsent\ncheck\tinactive\nrouter\tinactive\nmysqlsh\tno\nself\tu\t9.7.4\t\n"
	if !observation(gone, gone, gone).Gone() {
		t.Error("no marker and no group on every node is gone")
	}
	if observation(gone, gone, "").Gone() {
		t.Error("an unreachable node keeps the resource")
	}
}

func TestServerIDStable(t *testing.T) {
	if ServerID("db1") != ServerID("db1") || ServerID("db1") == ServerID("db2") || ServerID("db1") == 0 {
		t.Error("server_id must be a stable, non-zero function of the name")
	}
}

func TestSQLString(t *testing.T) {
	for in, want := range map[string]string{`abc`: `'abc'`, `a'b`: `'a\'b'`, `a\b`: `'a\\b'`, "a\nb": `'a\nb'`} {
		if got := SQLString(in); got != want {
			t.Errorf("SQLString(%q) = %s, want %s", in, got, want)
		}
	}
	if SQLIdent("a`b") != "`a``b`" {
		t.Error(SQLIdent("a`b"))
	}
}

func spec() *Spec {
	return &Spec{Name: "prodCluster", ID: "prodCluster-1", GroupName: "11111111-2222-4333-8444-555555555555",
		Nodes:     []Node{{"db1", "10.0.0.21"}, {"db2", "10.0.0.22"}, {"db3", "10.0.0.23"}},
		MySQLPort: 3306, GroupPort: 33061, PrimaryCheckPort: 9200, Management: ModeGroupReplication, ClusterAdminUser: "clusteradmin",
		AdminPassword: "s3cret'pw", Database: &Database{Name: "appdb", User: "appuser", SSLRequired: true}, DatabasePassword: "dbpw"}
}

func TestHostsAndVars(t *testing.T) {
	s := spec()
	groups := map[string][]string{}
	for _, h := range s.Hosts(nil) {
		groups[h.Name] = h.Groups
	}
	if strings.Join(groups["db1"], ",") != "erawan_members,erawan_seed" || strings.Join(groups["db2"], ",") != "erawan_members,erawan_joiners" {
		t.Errorf("create groups: %v", groups)
	}
	// Update adding db3 and removing db0: the seed is the first member that stays.
	ch := &Change{Added: []string{"db1"}, Removed: []Node{{"db0", "10.0.0.20"}}}
	groups = map[string][]string{}
	for _, h := range s.Hosts(ch) {
		groups[h.Name] = h.Groups
	}
	if strings.Join(groups["db2"], ",") != "erawan_members,erawan_seed" || strings.Join(groups["db1"], ",") != "erawan_members,erawan_joiners,erawan_added" ||
		strings.Join(groups["db0"], ",") != "erawan_removed" || strings.Join(groups["db3"], ",") != "erawan_members" {
		t.Errorf("update groups: %v", groups)
	}
	v := s.Vars(ch)
	if v["erawan_mysql_group_seeds"] != "10.0.0.21:33061,10.0.0.22:33061,10.0.0.23:33061" {
		t.Errorf("seeds %v", v["erawan_mysql_group_seeds"])
	}
	if v["erawan_mysql_ip_allowlist"] != "10.0.0.21,10.0.0.22,10.0.0.23,127.0.0.1" {
		t.Errorf("allowlist %v", v["erawan_mysql_ip_allowlist"])
	}
	if v["erawan_mysql_admin_password_sql"] != `'s3cret\'pw'` {
		t.Errorf("quoted password %v", v["erawan_mysql_admin_password_sql"])
	}
	members := v["erawan_mysql_members"].(map[string]any)
	if members["db2"].(map[string]any)["server_id"] != ServerID("db2") {
		t.Errorf("server_id of db2: %v", members["db2"])
	}
	secrets := strings.Join(s.Secrets(), "\n")
	for _, want := range []string{"s3cret'pw", `'s3cret\'pw'`, "dbpw"} {
		if !strings.Contains(secrets, want) {
			t.Errorf("Secrets() lacks %q", want)
		}
	}
	if _, ok := v["erawan_mysql_scripts"].(map[string]string)["create_cluster"]; ok {
		t.Error("group_replication mode renders no MySQL Shell scripts")
	}
}
