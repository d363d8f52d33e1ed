// Package topology holds what both cluster engines (Patroni and MySQL Group
// Replication) share about members: a member's name and address, the
// per-node reachability that every probe starts from, the member diff of an
// update, and the inventory groups the playbooks run on.
package topology

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

// Member is one cluster member: a stable member name and its address.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// NodeStatus is the part of a probe's result every engine has: the member
// probed, the SSH error when the node could not be reached, and who owns
// the cluster marker of this name on the node.
type NodeStatus struct {
	Member
	SSHError error
	// Owner is the resource id in the node's marker for this cluster name,
	// "" when the node has no such marker; OwnerKnown is false when the
	// marker could not be read (Owner then says nothing).
	Owner      string
	OwnerKnown bool
}

// MarkerIDScript is a shell line, run as root, that prints
// "marker<TAB><id>" for the cluster marker at path (the value of its "id"
// key as Ansible's to_nice_json writes it; empty when none is found) or
// "marker<TAB>absent" without the file. It prints only the id, so the
// marker's other fields (passwords among them) never leave the node. path
// must be built from a validated cluster name.
func MarkerIDScript(path string) string {
	return `if test -e ` + path + `; then printf 'marker\t%s\n' "$(sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' ` + path +
		` | head -n 1)"; else printf 'marker\tabsent\n'; fi`
}

// ParseMarkerLine reads the value after "marker<TAB>" that MarkerIDScript
// printed: present says the file exists, owner is its id, and known is
// false when the file exists but its id could not be read.
func ParseMarkerLine(value string) (owner string, present, known bool) {
	value = strings.TrimSpace(value)
	if value == "absent" {
		return "", false, true
	}
	return value, true, value != ""
}

// Owns reports that the node's marker holds id.
func (s NodeStatus) Owns(id string) bool { return s.OwnerKnown && s.Owner == id }

// Foreign reports that the node's marker holds another resource's id.
func (s NodeStatus) Foreign(id string) bool { return s.OwnerKnown && s.Owner != "" && s.Owner != id }

// Reached reports whether the node answered over SSH.
func (s NodeStatus) Reached() bool { return s.SSHError == nil }

// Status returns s itself; an engine's status type that embeds NodeStatus
// gets it too, for Statuses and Reachable.
func (s NodeStatus) Status() NodeStatus { return s }

// Statuses returns the reachability part of an engine's node statuses.
func Statuses[T interface{ Status() NodeStatus }](nodes []T) []NodeStatus {
	out := make([]NodeStatus, len(nodes))
	for i, n := range nodes {
		out[i] = n.Status()
	}
	return out
}

// ByName indexes node statuses by member name.
func ByName[T interface{ Status() NodeStatus }](nodes []T) map[string]T {
	out := make(map[string]T, len(nodes))
	for _, n := range nodes {
		out[n.Status().Name] = n
	}
	return out
}

// Reachable counts the nodes that answered.
func Reachable[T interface{ Status() NodeStatus }](nodes []T) int {
	n := 0
	for _, s := range nodes {
		if s.Status().Reached() {
			n++
		}
	}
	return n
}

// Probe runs probe on every member in parallel, each with its own deadline
// of perHost, and returns the results in the members' order.
func Probe[T any](ctx context.Context, members []Member, perHost time.Duration, probe func(context.Context, Member) T) []T {
	out := make([]T, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			hctx, cancel := context.WithTimeout(ctx, perHost)
			defer cancel()
			out[i] = probe(hctx, m)
		})
	}
	wg.Wait()
	return out
}

// Change is the member diff of an in-place update, matched by member name.
type Change struct {
	Added   []string // names of members to add, in desired order
	Removed []Member // members to remove, in current order
	// Gone are members to remove whose hosts do not answer: they are in no
	// inventory group (nothing is attempted on them) and are removed through
	// the members that stay.
	Gone []Member
}

// GoneNames returns the names of the gone members (never nil).
func (c *Change) GoneNames() []string {
	out := []string{}
	if c != nil {
		for _, m := range c.Gone {
			out = append(out, m.Name)
		}
	}
	return out
}

// Diff compares the current members with the desired ones by name.
func Diff(current, desired []Member) Change {
	var ch Change
	for _, n := range desired {
		if !slices.ContainsFunc(current, func(m Member) bool { return m.Name == n.Name }) {
			ch.Added = append(ch.Added, n.Name)
		}
	}
	for _, n := range current {
		if !slices.ContainsFunc(desired, func(m Member) bool { return m.Name == n.Name }) {
			ch.Removed = append(ch.Removed, n)
		}
	}
	return ch
}

// Move is a member whose name stays while its address changes, which no
// engine can do in place.
type Move struct {
	Index    int // index in the desired list
	Name     string
	From, To string
}

// Moves lists the members of desired that exist in current at another
// address. Desired entries with an empty address (not known yet) are skipped.
func Moves(current, desired []Member) []Move {
	var out []Move
	for i, n := range desired {
		for _, c := range current {
			if c.Name == n.Name && c.Address != n.Address && n.Address != "" {
				out = append(out, Move{Index: i, Name: n.Name, From: c.Address, To: n.Address})
			}
		}
	}
	return out
}

// Renames lists the desired members that take the address of a current
// member under a new name while that member's name is gone from desired: a
// rename in place. Index is the position in desired; From holds the old
// name and To the shared address.
func Renames(current, desired []Member) []Move {
	names := map[string]bool{}
	for _, n := range desired {
		names[n.Name] = true
	}
	var out []Move
	for i, n := range desired {
		for _, c := range current {
			if c.Address == n.Address && c.Name != n.Name && !names[c.Name] && n.Address != "" {
				out = append(out, Move{Index: i, Name: n.Name, From: c.Name, To: n.Address})
			}
		}
	}
	return out
}

// Inventory groups the playbooks run on, the same for every engine.
const (
	// GroupMembers holds every desired member.
	GroupMembers = "erawan_members"
	// GroupAnchor holds the one member that anchors a run: cluster-wide
	// steps run there. At create it is the first member (the one that
	// bootstraps); at update, the first desired member that already exists.
	// It need not be Patroni's leader or the MySQL primary.
	GroupAnchor = "erawan_anchor"
	// GroupJoiners holds the members that join the anchor in this run: every
	// other member at create, the added members at update.
	GroupJoiners = "erawan_joiners"
	// GroupAdded holds the members an update adds.
	GroupAdded = "erawan_added"
	// GroupRemoved holds the members an update removes (not in GroupMembers).
	GroupRemoved = "erawan_removed"
)

// Anchor returns the name of the anchor member: the first desired member
// that is not being added (the first member when all are, or at create).
func Anchor(desired []Member, ch *Change) string {
	for _, n := range desired {
		if ch == nil || !slices.Contains(ch.Added, n.Name) {
			return n.Name
		}
	}
	if len(desired) > 0 {
		return desired[0].Name
	}
	return ""
}

// Hosts renders the inventory of a create (ch nil) or an update.
func Hosts(desired []Member, ch *Change) []runner.Host {
	anchor := Anchor(desired, ch)
	hosts := make([]runner.Host, 0, len(desired))
	for _, n := range desired {
		added := ch != nil && slices.Contains(ch.Added, n.Name)
		g := []string{GroupMembers}
		switch {
		case n.Name == anchor:
			g = append(g, GroupAnchor)
		case ch == nil || added:
			g = append(g, GroupJoiners)
		}
		if added {
			g = append(g, GroupAdded)
		}
		hosts = append(hosts, runner.Host{Name: n.Name, Address: n.Address, Groups: g})
	}
	if ch != nil {
		for _, n := range ch.Removed {
			hosts = append(hosts, runner.Host{Name: n.Name, Address: n.Address, Groups: []string{GroupRemoved}})
		}
	}
	return hosts
}

// Addresses returns the members' addresses, in order.
func Addresses(members []Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Address
	}
	return out
}
