package topology

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func m(name, addr string) Member { return Member{Name: name, Address: addr} }

func TestDiff(t *testing.T) {
	cur := []Member{m("a", "1"), m("b", "2"), m("c", "3")}
	for _, c := range []struct {
		name    string
		desired []Member
		added   []string
		removed []Member
	}{
		{"same", cur, nil, nil},
		{"reordered", []Member{m("c", "3"), m("a", "1"), m("b", "2")}, nil, nil},
		{"add one", append(append([]Member{}, cur...), m("d", "4")), []string{"d"}, nil},
		{"remove the first", cur[1:], nil, []Member{m("a", "1")}},
		{"replace", []Member{m("a", "1"), m("x", "9")}, []string{"x"}, []Member{m("b", "2"), m("c", "3")}},
		{"from nothing", nil, nil, cur},
	} {
		got := Diff(cur, c.desired)
		if !reflect.DeepEqual(got.Added, c.added) || !reflect.DeepEqual(got.Removed, c.removed) {
			t.Errorf("%s: got %+v, want added %v removed %v", c.name, got, c.added, c.removed)
		}
	}
}

func TestMoves(t *testing.T) {
	cur := []Member{m("a", "1"), m("b", "2")}
	got := Moves(cur, []Member{m("b", "7"), m("a", "1"), m("c", "3"), m("a", "")})
	if len(got) != 1 || got[0] != (Move{Index: 0, Name: "b", From: "2", To: "7"}) {
		t.Fatalf("moves %+v", got)
	}
}

func groupsOf(desired []Member, ch *Change) map[string]string {
	out := map[string]string{}
	for _, h := range Hosts(desired, ch) {
		out[h.Name] = strings.Join(h.Groups, ",")
	}
	return out
}

func TestHostsGroups(t *testing.T) {
	desired := []Member{m("a", "1"), m("b", "2"), m("c", "3")}
	create := groupsOf(desired, nil)
	want := map[string]string{"a": "erawan_members,erawan_anchor", "b": "erawan_members,erawan_joiners", "c": "erawan_members,erawan_joiners"}
	if !reflect.DeepEqual(create, want) {
		t.Errorf("create %v", create)
	}
	// The first member is new: the anchor is the first one that exists.
	update := groupsOf(desired, &Change{Added: []string{"a"}, Removed: []Member{m("z", "9")}})
	want = map[string]string{"a": "erawan_members,erawan_joiners,erawan_added", "b": "erawan_members,erawan_anchor",
		"c": "erawan_members", "z": "erawan_removed"}
	if !reflect.DeepEqual(update, want) {
		t.Errorf("update %v", update)
	}
	if Anchor(desired, &Change{Added: []string{"a", "b", "c"}}) != "a" || Anchor(nil, nil) != "" {
		t.Error("anchor of an all-new or empty member list")
	}
}

func TestReached(t *testing.T) {
	if !(NodeStatus{}).Reached() || (NodeStatus{SSHError: errors.New("x")}).Reached() {
		t.Error("Reached follows SSHError")
	}
	if got := Addresses([]Member{m("a", "1"), m("b", "2")}); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Error(got)
	}
}

// Every probe waits until all have started: run one after another, the
// first would see its own deadline pass instead.
func TestProbeRunsInParallelWithDeadlines(t *testing.T) {
	members := []Member{m("a", "1"), m("b", "2"), m("c", "3")}
	var started sync.WaitGroup
	started.Add(len(members))
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	got := Probe(context.Background(), members, 5*time.Second, func(ctx context.Context, n Member) string {
		started.Done()
		select {
		case <-all:
			_, hasDeadline := ctx.Deadline()
			return n.Name + ":" + map[bool]string{true: "together", false: "no deadline"}[hasDeadline]
		case <-ctx.Done():
			return n.Name + ":" + ctx.Err().Error()
		}
	})
	if strings.Join(got, ",") != "a:together,b:together,c:together" {
		t.Errorf("results %v", got)
	}
}

// MarkerIDScript, run by sh on markers as Ansible's to_nice_json writes
// them, prints only the id; ParseMarkerLine reads it back.
func TestMarkerIDScript(t *testing.T) {
	file := t.TempDir() + "/erawan.json"
	read := func() (string, bool, bool) {
		out, err := exec.Command("sh", "-c", MarkerIDScript(file)).Output()
		if err != nil {
			t.Fatal(err)
		}
		value, ok := strings.CutPrefix(strings.TrimRight(string(out), "\n"), "marker\t")
		if !ok {
			t.Fatalf("output %q", out)
		}
		return ParseMarkerLine(value)
	}
	if o, present, known := read(); o != "" || present || !known {
		t.Errorf("no file: %q %v %v", o, present, known)
	}
	for content, want := range map[string]string{
		"{\n    \"database_password\": \"s3cret\",\n    \"id\": \"orders-1a2b\",\n    \"name\": \"orders\"\n}\n": "orders-1a2b",
		"{\"garbage\": true}\n": "",
	} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command("sh", "-c", MarkerIDScript(file)).Output()
		if strings.Contains(string(out), "s3cret") {
			t.Errorf("the script printed more than the id: %q", out)
		}
		if o, present, known := read(); o != want || !present || known != (want != "") {
			t.Errorf("%q: owner %q present %v known %v", content, o, present, known)
		}
	}
}
