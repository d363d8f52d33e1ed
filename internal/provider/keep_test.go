package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
)

// A failed update keeps in state only the new passwords whose step
// completed before the failure; the others stay as they were.
func TestPatroniKeepOnFailure(t *testing.T) {
	model := func(v string) *patroniClusterModel {
		m := &patroniClusterModel{}
		for _, p := range m.passwords() {
			*p.value = types.StringValue(p.attr + "-" + v)
		}
		return m
	}
	cases := []struct {
		completed []string
		newer     []string // attributes expected to hold the new value
	}{
		{nil, nil},
		{[]string{pgcluster.StepPreflight, pgcluster.StepMembership}, nil},
		{[]string{pgcluster.StepPreflight, pgcluster.StepPasswords}, []string{"superuser_password", "replication_password", "rewind_password"}},
		{[]string{pgcluster.StepPreflight, pgcluster.StepPasswords, pgcluster.StepConverge}, []string{"superuser_password", "replication_password", "rewind_password", "restapi_password"}},
		{pgcluster.UpdateSteps, []string{"superuser_password", "replication_password", "rewind_password", "restapi_password", "database_password"}},
	}
	for _, c := range cases {
		keep := model("old")
		patroniEngine{}.keepOnFailure(keep, model("new"), c.completed, true, nil)
		for _, p := range keep.passwords() {
			want := p.attr + "-old"
			for _, n := range c.newer {
				if n == p.attr {
					want = p.attr + "-new"
				}
			}
			if p.value.ValueString() != want {
				t.Errorf("completed %v: %s = %q, want %q", c.completed, p.attr, p.value.ValueString(), want)
			}
		}
	}
}
