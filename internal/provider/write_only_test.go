package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// fakePrivate is private state in memory.
type fakePrivate map[string][]byte

func (p fakePrivate) GetKey(_ context.Context, k string) ([]byte, diag.Diagnostics) { return p[k], nil }
func (p fakePrivate) SetKey(_ context.Context, k string, v []byte) diag.Diagnostics {
	p[k] = v
	return nil
}

func woModel(value, wo string, version int64) *patroniClusterModel {
	m := &patroniClusterModel{}
	for _, p := range m.passwords() {
		*p.value, *p.wo, *p.version = types.StringNull(), types.StringNull(), types.Int64Null()
	}
	if value != "" {
		m.SuperuserPassword = types.StringValue(value)
	}
	if wo != "" {
		m.SuperuserPasswordWO, m.SuperuserPasswordWOVersion = types.StringValue(wo), types.Int64Value(version)
	}
	return m
}

// An update's write-only secret: the value state does not hold is filled
// from the configuration while the version stays, and left unknown for the
// engine to rotate when the version changes; the model saved holds none.
func TestWriteOnlyUpdate(t *testing.T) {
	e := patroniEngine{}
	state, config := woModel("", "pw-one-123456", 1), woModel("", "pw-one-123456", 1)
	plan := woModel("", "", 0)
	plan.SuperuserPasswordWOVersion = types.Int64Value(1)
	fillWriteOnlyState(e.writeOnly(state), e.writeOnly(config))
	resolveWriteOnlyPlan(e.writeOnly(plan), e.writeOnly(state), e.writeOnly(config))
	if state.SuperuserPassword.ValueString() != "pw-one-123456" || plan.SuperuserPassword.ValueString() != "pw-one-123456" {
		t.Fatalf("same version: state %v plan %v", state.SuperuserPassword, plan.SuperuserPassword)
	}
	state, config = woModel("", "pw-one-123456", 1), woModel("", "pw-two-123456", 2)
	plan = woModel("", "", 0)
	plan.SuperuserPasswordWOVersion = types.Int64Value(2)
	fillWriteOnlyState(e.writeOnly(state), e.writeOnly(config))
	resolveWriteOnlyPlan(e.writeOnly(plan), e.writeOnly(state), e.writeOnly(config))
	if !state.SuperuserPassword.IsNull() || !plan.SuperuserPassword.IsUnknown() {
		t.Fatalf("new version: state %v plan %v", state.SuperuserPassword, plan.SuperuserPassword)
	}
	rot := e.resolveSecrets(plan, state, config, &diag.Diagnostics{})
	if plan.SuperuserPassword.ValueString() != "pw-two-123456" || rot["postgres"] == "" {
		t.Fatalf("the engine did not rotate to the new value: %v %v", plan.SuperuserPassword, rot)
	}
	stripWriteOnly(e.writeOnly(plan), e.writeOnly(config))
	if !plan.SuperuserPassword.IsNull() {
		t.Fatalf("the saved model holds the write-only value: %v", plan.SuperuserPassword)
	}
	// A generated password (no _wo) stays in the model.
	m, cfg := woModel("generated-1234", "", 0), woModel("", "", 0)
	stripWriteOnly(e.writeOnly(m), e.writeOnly(cfg))
	if m.SuperuserPassword.ValueString() != "generated-1234" {
		t.Fatal("a generated password was stripped")
	}
}

// The private state keeps salted hashes, never the value, and a plan warns
// when the value changed without its version.
func TestWriteOnlyHashes(t *testing.T) {
	e := patroniEngine{}
	p := fakePrivate{}
	config := woModel("", "pw-one-123456", 1)
	if d := recordWriteOnly(context.Background(), p, e.writeOnly(config)); d.HasError() {
		t.Fatal(d)
	}
	if len(p[woHashKey]) == 0 || contains(p[woHashKey], "pw-one-123456") {
		t.Fatalf("private state: %s", p[woHashKey])
	}
	state, plan := woModel("", "", 0), woModel("", "", 0)
	state.SuperuserPasswordWOVersion, plan.SuperuserPasswordWOVersion = types.Int64Value(1), types.Int64Value(1)
	var d diag.Diagnostics
	warnWriteOnlyChanged(context.Background(), p, e.writeOnly(plan), e.writeOnly(state), e.writeOnly(config), &d)
	if d.WarningsCount() != 0 {
		t.Fatalf("the same value warned: %v", d)
	}
	changed := woModel("", "pw-other-12345", 1)
	warnWriteOnlyChanged(context.Background(), p, e.writeOnly(plan), e.writeOnly(state), e.writeOnly(changed), &d)
	if d.WarningsCount() != 1 {
		t.Fatalf("a changed value did not warn: %v", d)
	}
	plan.SuperuserPasswordWOVersion = types.Int64Value(2)
	d = nil
	warnWriteOnlyChanged(context.Background(), p, e.writeOnly(plan), e.writeOnly(state), e.writeOnly(changed), &d)
	if d.WarningsCount() != 0 {
		t.Fatalf("a rotation (new version) warned: %v", d)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// A password given write-only whose _wo leaves the configuration is refused
// at plan time: state holds no copy to apply.
func TestWriteOnlyDropped(t *testing.T) {
	e := patroniEngine{}
	p := fakePrivate{}
	if d := recordWriteOnly(context.Background(), p, e.writeOnly(woModel("", "pw-one-123456", 1))); d.HasError() {
		t.Fatal(d)
	}
	state := woModel("", "", 0)
	var d diag.Diagnostics
	refuseDroppedWriteOnly(context.Background(), p, e.writeOnly(state), e.writeOnly(woModel("", "", 0)), &d)
	if d.ErrorsCount() != 1 || !strings.Contains(d.Errors()[0].Detail(), "superuser_password was given write-only") {
		t.Fatalf("dropping superuser_password_wo: %v", d)
	}
	d = nil
	refuseDroppedWriteOnly(context.Background(), p, e.writeOnly(state), e.writeOnly(woModel("", "pw-one-123456", 1)), &d)
	refuseDroppedWriteOnly(context.Background(), fakePrivate{}, e.writeOnly(state), e.writeOnly(woModel("", "", 0)), &d)
	if d.HasError() {
		t.Fatalf("kept, or never given: %v", d)
	}
}

// A _wo added to a cluster whose password was generated, without a new
// version, is not applied: the generated password the nodes use stays in
// state and in the update's spec, and the plan warns.
func TestWriteOnlyAddedWithoutVersion(t *testing.T) {
	e := patroniEngine{}
	state, config := woModel("generated-1234", "", 0), woModel("", "", 0)
	config.SuperuserPasswordWO = types.StringValue("pw-new-123456")
	plan := woModel("generated-1234", "", 0) // UseStateForUnknown
	stripWriteOnly(e.writeOnly(plan), e.writeOnly(config))
	var d diag.Diagnostics
	warnWriteOnlyNotApplied(e.writeOnly(plan), e.writeOnly(config), &d)
	if plan.SuperuserPassword.ValueString() != "generated-1234" || d.WarningsCount() != 1 {
		t.Fatalf("plan %v, warnings %v", plan.SuperuserPassword, d)
	}
	fillWriteOnlyState(e.writeOnly(state), e.writeOnly(config))
	resolveWriteOnlyPlan(e.writeOnly(plan), e.writeOnly(state), e.writeOnly(config))
	if plan.SuperuserPassword.ValueString() != "generated-1234" {
		t.Fatalf("the update would apply %v", plan.SuperuserPassword)
	}
	stripWriteOnly(e.writeOnly(plan), e.writeOnly(config))
	if plan.SuperuserPassword.ValueString() != "generated-1234" {
		t.Fatal("the generated password the nodes use left state")
	}
	// A state from an earlier release holding the write-only value itself: stripped.
	legacy := woModel("pw-new-123456", "", 0)
	stripWriteOnly(e.writeOnly(legacy), e.writeOnly(config))
	if !legacy.SuperuserPassword.IsNull() {
		t.Fatal("an earlier release's copy of the write-only value stayed in state")
	}
}
