package mysqlgr

import (
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/testspec"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

const probeOnline = "marker\tprodCluster-1\ncheck\tactive\nrouter\tinactive\nmysqlsh\tno\n" +
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

	down, err := ParseProbe("marker\tprodCluster-1\ncheck\tinactive\nrouter\tinactive\nmysqlsh\tno\nmysqlerror\tERROR 2002 (HY000): Can't connect\n")
	if err != nil {
		t.Fatal(err)
	}
	if down.MySQLUp || !strings.Contains(down.MySQLError, "2002") {
		t.Errorf("mysql down: %+v", down)
	}
	tlsProbe, err := ParseProbe("marker\tabsent\ncertfile\tpresent\ncert\t-----BEGIN CERTIFICATE-----\ncert\tAAAA\ncert\t-----END CERTIFICATE-----\n" +
		"keymatch\tno\nself\tu\t9.7.4\t\nsslcert\t/etc/mysql/erawan-x-tls/node.crt\nsslexp\tDec  4 02:16:07 2027 GMT\n")
	if err != nil || !tlsProbe.CertFile || tlsProbe.CertPEM != "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" ||
		!tlsProbe.ServedExpiry.Equal(time.Date(2027, 12, 4, 2, 16, 7, 0, time.UTC)) || !tlsProbe.KeyMismatch || tlsProbe.SSLCert != "/etc/mysql/erawan-x-tls/node.crt" {
		t.Errorf("TLS lines: %+v %v", tlsProbe, err)
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

var testNodes = []topology.Member{{Name: "db1", Address: "10.0.0.21"}, {Name: "db2", Address: "10.0.0.22"}, {Name: "db3", Address: "10.0.0.23"}}

// observation builds an Observation the way Observe does, from probe
// outputs ("" for an unreachable node), through the real NewObservation.
func observation(probes ...string) *Observation {
	var nodes []NodeStatus
	for i, raw := range probes {
		st := NodeStatus{NodeStatus: topology.NodeStatus{Member: testNodes[i]}}
		if raw == "" {
			st.SSHError = exec.ErrNotFound
		} else {
			st.Probe, st.SSHError = ParseProbe(raw)
		}
		nodes = append(nodes, st)
	}
	return NewObservation(nodes)
}

func selfProbe(uuid, members string) string {
	return "marker\tprodCluster-1\ncheck\tactive\nrouter\tinactive\nmysqlsh\tno\nself\t" + uuid + "\t9.7.4\tgroup-1\n" + members + ""
}

func TestDrift(t *testing.T) {
	want := testNodes
	healthy := "member\tu1\t10.0.0.21\t3306\tONLINE\tPRIMARY\t9.7.4\nmember\tu2\t10.0.0.22\t3306\tONLINE\tSECONDARY\t9.7.4\nmember\tu3\t10.0.0.23\t3306\tONLINE\tSECONDARY\t9.7.4\n"
	obs := observation(selfProbe("u1", healthy), selfProbe("u2", healthy), selfProbe("u3", healthy))
	if d := obs.Drift(want, "group-1", false); !d.Empty() {
		t.Errorf("healthy cluster drifts: %v", d)
	}
	if obs.Primary() != "10.0.0.21" {
		t.Errorf("primary %q", obs.Primary())
	}

	// db3 stopped Group Replication: the group no longer lists it.
	two := "member\tu1\t10.0.0.21\t3306\tONLINE\tPRIMARY\t9.7.4\nmember\tu2\t10.0.0.22\t3306\tONLINE\tSECONDARY\t9.7.4\n"
	obs = observation(selfProbe("u1", two), selfProbe("u2", two), selfProbe("u3", "member\tu3\t10.0.0.23\t3306\tOFFLINE\t\t9.7.4\n"))
	d := obs.Drift(want, "group-1", false).Sentences()
	if len(d) != 1 || !strings.Contains(d[0], "db3") || !strings.Contains(d[0], "OFFLINE") {
		t.Errorf("stopped member: %v", d)
	}

	// The check service is down on db2, and db3 is unreachable (a warning, not drift).
	down := strings.Replace(selfProbe("u2", healthy), "check\tactive", "check\tinactive", 1)
	obs = observation(selfProbe("u1", healthy), down, "")
	d = obs.Drift(want, "group-1", false).Sentences()
	if len(d) != 1 || !strings.Contains(d[0], "primary-check service on db2") {
		t.Errorf("check down: %v", d)
	}

	// Nobody ONLINE, markers present: a complete outage, never "missing members".
	off := func(u string) string {
		return selfProbe(u, "member\t"+u+"\t10.0.0.2x\t3306\tOFFLINE\t\t9.7.4\n")
	}
	obs = observation(off("u1"), off("u2"), off("u3"))
	if !obs.CompleteOutage() {
		t.Error("no member ONLINE with markers is a complete outage")
	}
	if d := obs.Drift(want, "group-1", false).Sentences(); len(d) != 1 || !strings.Contains(d[0], "complete outage") {
		t.Errorf("outage drift: %v", d)
	}
	if obs.Gone("prodCluster-1") {
		t.Error("an outage is not a gone cluster")
	}
	gone := "marker\tabsent\ncheck\tinactive\nrouter\tinactive\nmysqlsh\tno\nself\tu\t9.7.4\t\n"
	if !observation(gone, gone, gone).Gone("prodCluster-1") {
		t.Error("no marker and no group on every node is gone")
	}
	if observation(gone, gone, "").Gone("prodCluster-1") {
		t.Error("an unreachable node keeps the resource")
	}
	// Another resource's marker of the same name: this one is gone, and
	// the other's nodes tell whose they are.
	other := strings.Replace(gone, "marker\tabsent", "marker\tprodCluster-other", 1)
	obs = observation(other, gone, gone)
	if !obs.Gone("prodCluster-1") || !obs.Nodes[0].Foreign("prodCluster-1") || obs.Nodes[0].Owns("prodCluster-1") {
		t.Errorf("another resource's marker: gone %v, node %+v", obs.Gone("prodCluster-1"), obs.Nodes[0].NodeStatus)
	}
	unreadable := strings.Replace(gone, "marker\tabsent", "marker\t", 1)
	if observation(unreadable, gone, gone).Gone("prodCluster-1") {
		t.Error("a marker whose id could not be read keeps the resource")
	}
}

func TestServerIDStable(t *testing.T) {
	a, b := ServerID("db1"), ServerID("db1")
	if a != b || a == ServerID("db2") || a == 0 {
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
		Nodes:     testNodes,
		MySQLPort: 3306, GroupPort: 33061, PrimaryCheckPort: 9200, Management: ModeGroupReplication, ClusterAdminUser: "clusteradmin",
		AdminPassword: "s3cret'pw", Database: &Database{Name: "appdb", User: "appuser", SSLRequired: true}, DatabasePassword: "dbpw"}
}

// The variables of an update that removes db0 (the inventory groups are
// topology's, tested there).
func TestVars(t *testing.T) {
	s := spec()
	v := s.Vars([]topology.Member{{Name: "db0", Address: "10.0.0.20"}}, true)
	if v.GroupSeeds != "10.0.0.21:33061,10.0.0.22:33061,10.0.0.23:33061" {
		t.Errorf("seeds %v", v.GroupSeeds)
	}
	if v.IPAllowlist != "10.0.0.21,10.0.0.22,10.0.0.23,127.0.0.1" {
		t.Errorf("allowlist %v", v.IPAllowlist)
	}
	if v.AdminPasswordSQL != `'s3cret\'pw'` {
		t.Errorf("quoted password %v", v.AdminPasswordSQL)
	}
	if v.Members["db2"].ServerID != ServerID("db2") || v.Members["db2"].Address != "10.0.0.22" {
		t.Errorf("db2: %v", v.Members["db2"])
	}
	if len(v.RemovedAddresses) != 1 || v.RemovedAddresses[0] != "10.0.0.20" || !v.RotateAdmin {
		t.Errorf("removed %v", v.RemovedAddresses)
	}
	secrets := strings.Join(s.Secrets(), "\n")
	for _, want := range []string{"s3cret'pw", `'s3cret\'pw'`, "dbpw"} {
		if !strings.Contains(secrets, want) {
			t.Errorf("Secrets() lacks %q", want)
		}
	}
	if _, ok := v.Scripts["create_cluster"]; ok {
		t.Error("group_replication mode renders no MySQL Shell scripts")
	}
	if v.TLS.Enabled || len(v.TLS.Certs) != 0 || v.Marker.TLS {
		t.Errorf("a spec without TLS gives the run none: %+v", v.TLS)
	}
	s.TLS = &TLS{CAPEM: "CA", Certs: map[string]string{"db2": "CERT"}}
	v = s.Vars(nil, false)
	if !v.TLS.Enabled || v.TLS.CAPEM != "CA" || v.TLS.Certs["db2"] != "CERT" || v.TLS.PendingKeys["db2"] != pki.PendingKey(s.ID, "db2") ||
		!v.Marker.TLS || v.TLSDir != "/etc/mysql/erawan-"+s.Name+"-tls" {
		t.Errorf("TLS vars %+v dir %s marker %v", v.TLS, v.TLSDir, v.Marker.TLS)
	}
}

// Spec.Equal decides whether Update runs a playbook: a field it does not
// compare would make a change of that field silently do nothing.
func TestSpecEqualCoversEveryField(t *testing.T) {
	full := func() *Spec {
		s := spec()
		s.Router, s.RouterRWPort, s.RouterROPort, s.RouterPassword = true, 6446, 6447, "routerpw"
		s.TLS = &TLS{CAPEM: "ca", Certs: map[string]string{"db1": "cert"}}
		return s
	}
	testspec.EqualCoversEveryField(t, full, (*Spec).Equal, nil)
	a, b := spec(), spec()
	a.Database, b.Database, b.DatabasePassword = nil, nil, "other"
	if !a.Equal(b) {
		t.Error("without a database its password is not an input")
	}
}

// The marker line of ProbeScript, run by sh on a marker as Ansible's
// to_nice_json writes it, reports its id; without the file, "absent".
func TestProbeScriptReadsMarkerID(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/erawan.json"
	line := strings.SplitN(ProbeScript("prodCluster"), "\n", 2)[0]
	line = strings.ReplaceAll(line, "/etc/erawan/mysql-prodCluster/erawan.json", file)
	run := func() string {
		out, err := exec.Command("sh", "-c", line).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if got := run(); got != "marker\tabsent\n" {
		t.Errorf("no marker: %q", got)
	}
	if err := os.WriteFile(file, []byte("{\n    \"cluster_admin_password\": \"x\",\n    \"id\": \"prodCluster-1a2b\",\n    \"name\": \"prodCluster\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := ParseProbe(run() + "self\tu\t9.7.4\t\n")
	if err != nil || p.MarkerID != "prodCluster-1a2b" || !p.MarkerPresent {
		t.Errorf("marker: %+v %v", p, err)
	}
}
