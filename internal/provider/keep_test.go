package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
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
		e := patroniEngine{}
		e.keepOnFailure(keep, model("new"), c.completed, true, nil)
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

// A cluster imported with its database (no password in state: PostgreSQL
// keeps only a verifier) plans no new owner password; a database added now
// gets one generated.
func TestImportedDatabaseKeepsPassword(t *testing.T) {
	db := types.ObjectValueMust(patroniDatabaseAttrTypes, map[string]attr.Value{"name": types.StringValue("app"), "owner": types.StringValue("app")})
	model := func(database types.Object) *patroniClusterModel {
		m := woModel("", "", 0)
		m.Database = database
		return m
	}
	plan, state, config := model(db), model(db), model(db)
	e := patroniEngine{}
	if e.planSecrets(plan, state, config, &diag.Diagnostics{}) || !plan.DatabasePassword.IsNull() {
		t.Fatalf("an imported database plans a new owner password: %v", plan.DatabasePassword)
	}
	plan, state = model(db), model(types.ObjectNull(patroniDatabaseAttrTypes))
	if !e.planSecrets(plan, state, config, &diag.Diagnostics{}) || !plan.DatabasePassword.IsUnknown() {
		t.Fatalf("a database added now plans no generated password: %v", plan.DatabasePassword)
	}
	v, err := (&pgcluster.Spec{Name: "o", Database: &pgcluster.Database{Name: "app", Owner: "app"}}).Vars(nil, nil)
	if err != nil || v.Database.PasswordVerifier != "" {
		t.Fatalf("without a password the playbook must leave the owner's alone: %v %q", err, v.Database.PasswordVerifier)
	}
}
