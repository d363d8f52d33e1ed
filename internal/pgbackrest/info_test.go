package pgbackrest

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// testdata/info.json is `pgbackrest --stanza=acc --output=json info` of
// pgBackRest 2.55.1 on the lab, after the first full backup and one
// differential backup of a PostgreSQL 17 cluster.
func TestParseInfo(t *testing.T) {
	out, err := os.ReadFile("testdata/info.json")
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := ParseInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := Find(stanzas, "acc")
	if !ok || len(stanzas) != 1 {
		t.Fatalf("stanzas %+v: want acc alone", stanzas)
	}
	if s.StatusCode != StatusOK || s.StatusMessage != "ok" || s.WALMin != "000000010000000000000003" || s.WALMax != "00000001000000000000000E" || s.ArchiveID != "17-1" {
		t.Errorf("stanza: %+v", s)
	}
	if len(s.Backups) != 2 {
		t.Fatalf("backups: %+v", s.Backups)
	}
	full, diff := s.Backups[0], s.Backups[1]
	want := Backup{Label: "20261206-200727F", Type: "full", StartedAt: time.Unix(1796587647, 0).UTC(), StoppedAt: time.Unix(1796587652, 0).UTC(),
		SizeBytes: 31179434, RepositorySizeBytes: 4040731, RepositoryDeltaBytes: 4040731, WALStart: "000000010000000000000008", WALStop: "000000010000000000000009"}
	if full.Label != want.Label || full.Type != want.Type || !full.StartedAt.Equal(want.StartedAt) || !full.StoppedAt.Equal(want.StoppedAt) ||
		full.SizeBytes != want.SizeBytes || full.RepositorySizeBytes != want.RepositorySizeBytes || full.RepositoryDeltaBytes != want.RepositoryDeltaBytes ||
		full.WALStart != want.WALStart || full.WALStop != want.WALStop || full.Reference != nil || full.Error {
		t.Errorf("full backup:\n got %+v\nwant %+v", full, want)
	}
	if diff.Type != "diff" || !slices.Equal(diff.Reference, []string{full.Label}) || diff.RepositoryDeltaBytes >= diff.RepositorySizeBytes {
		t.Errorf("diff backup: %+v", diff)
	}
	if n, ok := s.Newest(); !ok || n.Label != diff.Label {
		t.Errorf("newest: %+v", n)
	}
	if e, ok := s.Earliest(); !ok || !e.Equal(full.StoppedAt.Add(time.Second)) {
		t.Errorf("earliest: %v", e)
	}
}

// A stanza without backups (status 2), and one whose only backup has a
// checksum error, have no newest backup and no earliest restore point.
func TestNoValidBackup(t *testing.T) {
	stanzas, err := ParseInfo([]byte(`[{"name":"a","status":{"code":2,"message":"no valid backups"},"backup":[],"archive":[],"db":[{"id":1}]},
 {"name":"b","status":{"code":0,"message":"ok"},"backup":[{"label":"20260101-000000F","type":"full","error":true,"timestamp":{"start":1,"stop":2}}],
  "archive":[{"id":"16-1","min":"000000010000000000000001","max":"000000010000000000000002"},{"id":"17-2","min":"000000020000000000000001","max":"000000020000000000000004"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		s, ok := Find(stanzas, name)
		if !ok {
			t.Fatalf("no stanza %s", name)
		}
		if _, ok := s.Newest(); ok {
			t.Errorf("%s: a newest backup", name)
		}
		if _, ok := s.Earliest(); ok {
			t.Errorf("%s: an earliest restore point", name)
		}
	}
	if b, _ := Find(stanzas, "b"); b.WALMax != "000000020000000000000004" {
		t.Errorf("the archive of the newest database: %s", b.WALMax)
	}
	if _, ok := Find(stanzas, "c"); ok {
		t.Error("found a stanza that is not there")
	}
	if _, err := ParseInfo([]byte("ERROR: [055]")); err == nil {
		t.Error("no error for output that is not JSON")
	}
}

// The commands refuse what a shell command cannot carry safely, and the
// WAL time is read from stat's output.
func TestInfoCommands(t *testing.T) {
	cmd, err := InfoCommand("/var/lib/pgbackrest", "orders")
	if err != nil || cmd != "runuser -u pgbackrest -- pgbackrest --config=/dev/null --log-level-file=off --log-level-console=warn --repo1-path=/var/lib/pgbackrest --stanza=orders --output=json info" {
		t.Fatalf("%q %v", cmd, err)
	}
	for _, c := range [][2]string{{"/var/lib/pgbackrest", "orders; reboot"}, {"/var/lib/pg backrest", "orders"}, {"relative", "orders"}, {"/var/lib/pgbackrest", ""}} {
		if _, err := InfoCommand(c[0], c[1]); err == nil {
			t.Errorf("InfoCommand(%q, %q) accepted", c[0], c[1])
		}
	}
	s := Stanza{Name: "acc", ArchiveID: "17-1", WALMax: "00000001000000000000000E"}
	cmd, err = WALTimeCommand("/var/lib/pgbackrest", s)
	if err != nil || cmd != "stat -c %Y /var/lib/pgbackrest/archive/acc/17-1/0000000100000000/00000001000000000000000E-*" {
		t.Fatalf("%q %v", cmd, err)
	}
	for _, bad := range []Stanza{{Name: "acc", ArchiveID: "17-1"}, {Name: "acc", ArchiveID: "17-1; reboot", WALMax: s.WALMax}, {Name: "a c", ArchiveID: "17-1", WALMax: s.WALMax}} {
		if _, err := WALTimeCommand("/var/lib/pgbackrest", bad); err == nil {
			t.Errorf("WALTimeCommand(%+v) accepted", bad)
		}
	}
	at, err := ParseWALTime([]byte("1796587700\n1796587712\n"))
	if err != nil || !at.Equal(time.Unix(1796587712, 0)) {
		t.Errorf("ParseWALTime: %v %v", at, err)
	}
	for _, out := range []string{"", "stat: cannot statx", "17965877x"} {
		if _, err := ParseWALTime([]byte(out)); err == nil {
			t.Errorf("ParseWALTime(%q) accepted", out)
		}
	}
}

// The probe reports a stopped server or timer and a stanza that is not ok,
// and nothing for a repository host as the playbooks leave it.
func TestProbeFindings(t *testing.T) {
	cmd, err := ProbeCommand("acc", "/var/lib/pgbackrest", []string{"diff"})
	want := "systemctl is-active erawan-pgbackrest-repository.acc.service || true\nsystemctl is-active erawan-pgbackrest-repository.acc-diff.timer || true\n" +
		"r=$(systemctl show -p Result --value erawan-pgbackrest-repository.acc-diff.service 2>/dev/null); echo \"${r:-unknown}\"\necho '" + probeSeparator + "'\n"
	if err != nil || !strings.HasPrefix(cmd, want) || !strings.Contains(cmd, "--stanza=acc --output=json info") {
		t.Fatalf("%q %v", cmd, err)
	}
	js, err := os.ReadFile("testdata/info.json")
	if err != nil {
		t.Fatal(err)
	}
	probe := func(server, timer string, info []byte) []byte {
		return append([]byte(server+"\n"+timer+"\nsuccess\n"+probeSeparator+"\n"), info...)
	}
	if f, failed, err := ProbeFindings(probe("active", "active", js), "acc", "10.0.0.5", []string{"diff"}); err != nil || len(f) != 0 || len(failed) != 0 {
		t.Errorf("healthy: %v %v %v", f, failed, err)
	}
	lastFailed := bytes.Replace(probe("active", "active", js), []byte("success"), []byte("exit-code"), 1)
	if f, failed, err := ProbeFindings(lastFailed, "acc", "10.0.0.5", []string{"diff"}); err != nil || len(f) != 0 || len(failed) != 1 ||
		!strings.Contains(failed[0], "the last scheduled diff backup on 10.0.0.5 failed (erawan-pgbackrest-repository.acc-diff.service: exit-code)") {
		t.Errorf("last run failed: %v %q %v", f, failed, err)
	}
	f, _, err := ProbeFindings(probe("inactive", "failed", js), "acc", "10.0.0.5", []string{"diff"})
	if err != nil || len(f) != 2 || !strings.Contains(f[0], "erawan-pgbackrest-repository.acc.service) is inactive") || !strings.Contains(f[1], "scheduled diff backups") {
		t.Errorf("stopped: %q %v", f, err)
	}
	missing := []byte(`[{"name":"acc","status":{"code":1,"message":"missing stanza path"},"backup":[],"archive":[]}]`)
	if f, _, err := ProbeFindings(probe("active", "active", missing), "acc", "10.0.0.5", []string{"diff"}); err != nil || len(f) != 1 || !strings.Contains(f[0], "missing stanza path") {
		t.Errorf("missing stanza: %q %v", f, err)
	}
	for _, bad := range [][]byte{[]byte("active\n"), probe("active", "", js), probe("active", "active", []byte("ERROR"))} {
		if _, _, err := ProbeFindings(bad, "acc", "10.0.0.5", []string{"diff"}); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
