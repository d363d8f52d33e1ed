package provider

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/crypto/argon2"
)

// woSecret is one secret a user may give write-only: the computed attribute
// that holds a generated value (attr), its `<attr>_wo` input and
// `<attr>_wo_version`.
//
// The rule every cluster resource follows (clusterResource): while
// `<attr>_wo` is set, attr is null in plan and state, so the value never
// reaches state. Create and Update take it from the configuration, which
// Terraform sends on every apply; a salted Argon2id hash of each applied
// value is kept in private state (woHashKey), so a plan can tell that the
// value changed while `<attr>_wo_version` did not.
type woSecret struct {
	attr    string
	value   *types.String
	wo      *types.String
	version *types.Int64
}

// given reports whether the configuration holds the write-only value.
func (s woSecret) given() bool { return !s.wo.IsNull() && !s.wo.IsUnknown() }

// woHashKey is the private-state key of the applied write-only values'
// hashes: attr -> woHash.
const woHashKey = "write_only_hashes"

// woHash is a salted Argon2id hash of a write-only value (RFC 9106's second
// recommended parameters, scaled down: t=2, 19 MiB, as OWASP advises for
// stored password hashes).
type woHash struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

func hashWO(value string, salt []byte) []byte {
	return argon2.IDKey([]byte(value), salt, 2, 19*1024, 1, 32)
}

func newWOHash(value string) (woHash, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return woHash{}, err
	}
	return woHash{Salt: salt, Hash: hashWO(value, salt)}, nil
}

func (h woHash) matches(value string) bool {
	return len(h.Salt) > 0 && subtle.ConstantTimeCompare(h.Hash, hashWO(value, h.Salt)) == 1
}

func readWOHashes(ctx context.Context, p privateGetter) map[string]woHash {
	out := map[string]woHash{}
	if b, _ := p.GetKey(ctx, woHashKey); len(b) > 0 {
		_ = json.Unmarshal(b, &out) // an unreadable record is no record
	}
	return out
}

// fillWriteOnlyState puts into state the write-only values that state holds
// as null and that this plan does not rotate (version unchanged), so the
// engines' secret logic sees the values the nodes use.
func fillWriteOnlyState(state, config []woSecret) {
	for i, s := range state {
		if s.value.IsNull() && config[i].given() && config[i].version.Equal(*s.version) {
			*s.value = types.StringValue(config[i].wo.ValueString())
		}
	}
}

// resolveWriteOnlyPlan gives the planned write-only secrets (null in the
// plan) the value the update applies: unknown when the version changed, for
// the engine's resolveSecrets to rotate to the configuration's value, and
// otherwise the value state holds (see fillWriteOnlyState).
func resolveWriteOnlyPlan(plan, state, config []woSecret) {
	for i, s := range plan {
		if !config[i].given() {
			continue
		}
		if !s.version.Equal(*state[i].version) {
			*s.value = types.StringUnknown()
		} else {
			*s.value = *state[i].value
		}
	}
}

// stripWriteOnly nulls every secret given write-only, before the model is
// planned or saved, unless the model holds another value: a password
// generated earlier that the nodes still use, because `<attr>_wo` was added
// later without a new `<attr>_wo_version` and so was never applied. That one
// stays in state (warnWriteOnlyNotApplied says why).
func stripWriteOnly(m, config []woSecret) {
	for i, s := range m {
		if config[i].given() && (s.value.IsNull() || s.value.IsUnknown() || s.value.ValueString() == config[i].wo.ValueString()) {
			*s.value = types.StringNull()
		}
	}
}

// warnWriteOnlyNotApplied warns, after stripWriteOnly, for each write-only
// value that is not the password the nodes use (state still holds that one).
func warnWriteOnlyNotApplied(plan, config []woSecret, diags *diag.Diagnostics) {
	for i, s := range plan {
		if config[i].given() && !s.value.IsNull() && !s.value.IsUnknown() {
			diags.AddAttributeWarning(path.Root(s.attr+"_wo"), "Write-only value not applied",
				fmt.Sprintf("%s_wo was added after %s was generated, and %s_wo_version did not change, so the nodes keep the generated password (still in state). "+
					"Change %s_wo_version to rotate it to the value of %s_wo.", s.attr, s.attr, s.attr, s.attr, s.attr))
		}
	}
}

// recordWriteOnly stores the hashes of the write-only values just applied
// (dropping those no longer given).
func recordWriteOnly(ctx context.Context, p privateSetter, config []woSecret) diag.Diagnostics {
	hashes := map[string]woHash{}
	for _, s := range config {
		if s.given() {
			h, err := newWOHash(s.wo.ValueString())
			if err != nil {
				var d diag.Diagnostics
				d.AddError("Hashing a write-only value failed", err.Error())
				return d
			}
			hashes[s.attr] = h
		}
	}
	b, _ := json.Marshal(hashes)
	if len(hashes) == 0 {
		b = nil
	}
	return p.SetKey(ctx, woHashKey, b)
}

// warnWriteOnlyChanged warns when a write-only value differs from the one
// applied last while its version did not change: apply leaves the password
// as the nodes have it.
func warnWriteOnlyChanged(ctx context.Context, p privateGetter, plan, state, config []woSecret, diags *diag.Diagnostics) {
	hashes := readWOHashes(ctx, p)
	for i, s := range config {
		h, ok := hashes[s.attr]
		if !s.given() || !ok || !plan[i].version.Equal(*state[i].version) || h.matches(s.wo.ValueString()) {
			continue
		}
		diags.AddAttributeWarning(path.Root(s.attr+"_wo"), "Write-only value changed without a new version",
			fmt.Sprintf("%s_wo differs from the value applied last, but %s_wo_version did not change, so apply leaves %s as it is on the nodes. "+
				"Change %s_wo_version to rotate it.", s.attr, s.attr, s.attr, s.attr))
	}
}

// refuseDroppedWriteOnly adds an error for each secret that was given
// write-only (state holds none, private state its hash) and whose
// `<attr>_wo` is now gone from the configuration: the provider keeps no copy,
// so an apply would have no value to write.
func refuseDroppedWriteOnly(ctx context.Context, p privateGetter, state, config []woSecret, diags *diag.Diagnostics) {
	hashes := readWOHashes(ctx, p)
	for i, s := range config {
		if _, ok := hashes[s.attr]; !ok || s.given() || s.wo.IsUnknown() || !state[i].value.IsNull() {
			continue
		}
		diags.AddAttributeError(path.Root(s.attr+"_wo"), "Write-only value missing",
			fmt.Sprintf("%s was given write-only, so state holds no copy of it, and %s_wo is no longer in the configuration. "+
				"Keep %s_wo (the value the nodes use) in the configuration; to change the password, give the new value and change %s_wo_version.",
				s.attr, s.attr, s.attr, s.attr))
	}
}
