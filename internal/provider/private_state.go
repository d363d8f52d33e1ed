package provider

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// Private state keys of the cluster resources.
const (
	// progressKey holds createProgress: which create steps completed.
	progressKey = "create_progress"
	// driftKey holds the engine's typed drift that the last Read saw, as
	// JSON; ModifyPlan turns it into a planned repair and Update into a run.
	driftKey = "drift"
)

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// createProgress is kept in private state: which create steps completed.
type createProgress struct {
	Completed []string `json:"completed"`
	Done      bool     `json:"done"`
}

// readProgress returns the create progress; an imported or older state
// without one counts as complete. Step names of earlier releases are mapped
// to today's through legacy.
func readProgress(ctx context.Context, p privateGetter, legacy map[string]string) createProgress {
	b, _ := p.GetKey(ctx, progressKey)
	var cp createProgress
	if len(b) == 0 || json.Unmarshal(b, &cp) != nil {
		return createProgress{Done: true}
	}
	for i, s := range cp.Completed {
		if now, ok := legacy[s]; ok {
			cp.Completed[i] = now
		}
	}
	return cp
}

func writeProgress(ctx context.Context, p privateSetter, cp createProgress) diag.Diagnostics {
	b, _ := json.Marshal(cp) // a struct of strings and a bool always marshals
	return p.SetKey(ctx, progressKey, b)
}

// driftReport is an engine's typed drift (pgcluster.Drift, mysqlgr.Drift).
type driftReport interface {
	Empty() bool
	Sentences() []string
}

// readDrift decodes the stored drift into a fresh D. Nothing stored, or a
// record of an earlier release (a list of sentences), gives the zero D: the
// next Read records it again.
func readDrift[D driftReport](ctx context.Context, p privateGetter) D {
	var d D
	b, _ := p.GetKey(ctx, driftKey)
	if len(b) > 0 {
		_ = json.Unmarshal(b, &d)
	}
	return d
}

func writeDrift(ctx context.Context, p privateSetter, d driftReport) diag.Diagnostics {
	b, err := json.Marshal(d)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Recording drift failed", err.Error())
		return diags
	}
	return p.SetKey(ctx, driftKey, b)
}
