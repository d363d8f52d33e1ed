package provider

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/mysqlgr"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Delete skips nodes when the create never completed preflightStep, which
// must be every engine's first create step.
func TestPreflightIsTheFirstCreateStep(t *testing.T) {
	if pgcluster.CreateSteps[0] != preflightStep || mysqlgr.CreateSteps[0] != preflightStep {
		t.Fatalf("first create steps %q, %q; want %q", pgcluster.CreateSteps[0], mysqlgr.CreateSteps[0], preflightStep)
	}
}

func TestFence(t *testing.T) {
	st := func(name, owner string, known bool, sshErr error) topology.NodeStatus {
		return topology.NodeStatus{Member: topology.Member{Name: name, Address: "10.0.0." + name[1:]}, Owner: owner, OwnerKnown: known, SSHError: sshErr}
	}
	r := NewPatroniClusterResource().(*patroniClusterResource)
	var diags diag.Diagnostics
	owned := r.fence([]topology.NodeStatus{
		st("n1", "dup-aaa", true, nil),              // ours
		st("n2", "dup-bbb", true, nil),              // another state's cluster of the same name
		st("n3", "", true, nil),                     // no marker: nothing of ours
		st("n4", "", false, nil),                    // unreadable: the playbook's fence decides
		st("n5", "", false, errors.New("no route")), // unreachable: the run fails there
	}, "dup-aaa", "tear down", &diags)
	if !owned["n1"] || owned["n2"] || owned["n3"] || !owned["n4"] || !owned["n5"] {
		t.Errorf("owned %v", owned)
	}
	if diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Detail(), "dup-bbb") ||
		!strings.Contains(diags.Warnings()[0].Summary(), "n2 (10.0.0.2)") {
		t.Errorf("warnings %v", diags)
	}
}
