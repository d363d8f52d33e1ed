package pgbackrest

import (
	"os"
	"slices"
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
	if s.StatusCode != StatusOK || s.StatusMessage != "ok" || s.WALMin != "000000010000000000000003" || s.WALMax != "00000001000000000000000E" {
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
	if e, ok := s.Earliest(); !ok || !e.Equal(full.StartedAt) {
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
