package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/nodelock"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// lockNodes takes lock key on hosts for operation (create, update, delete)
// of resource id, waiting up to the provider's lock_timeout. With
// skipUnreachable, hosts that cannot be reached are left out with a warning
// (a dead member being removed, a teardown of a lost node). On failure it
// adds an error naming object and the holder, and returns nil.
func (c *clients) lockNodes(ctx context.Context, key string, hosts []string, operation, id, object string, skipUnreachable bool, diags *diag.Diagnostics) *nodelock.Lock {
	l, err := nodelock.Acquire(ctx, c.pool, nodelock.Options{
		Key: key, Hosts: hosts, Holder: nodelock.NewHolder(operation, id), Timeout: c.lockTimeout,
		Sudo: c.sudo(), SkipUnreachable: skipUnreachable, NeverSkip: sshclient.IsHostKeyError,
		OnWait: func(host string, h *nodelock.Holder) {
			who := "another run"
			if h != nil {
				who = h.String()
			}
			tflog.Info(ctx, "waiting for a lock held by another run", map[string]any{"lock": key, "host": host, "holder": who, "lock_timeout": c.lockTimeout.String()})
		},
	})
	if err != nil && sshclient.IsHostKeyError(err) {
		diags.AddError(fmt.Sprintf("%s: a host key could not be verified", object),
			fmt.Sprintf("The %s did not start, and nothing was changed: %v.", operation, err))
		return nil
	}
	if err != nil {
		var held *nodelock.HeldError
		if !errors.As(err, &held) {
			diags.AddError(fmt.Sprintf("%s: its nodes could not be locked", object),
				fmt.Sprintf("The %s did not start, and nothing was changed: %v.", operation, err))
			return nil
		}
		diags.AddError(fmt.Sprintf("%s is locked by another run", object),
			fmt.Sprintf("The %s did not start, and nothing was changed: %v.\n\nWait for the other run to finish, or raise lock_timeout (now %s) in the provider block or ERAWAN_LOCK_TIMEOUT.",
				operation, err, c.lockTimeout))
		return nil
	}
	for _, h := range slices.Sorted(maps.Keys(l.Skipped)) {
		diags.AddWarning(fmt.Sprintf("%s: %s is unreachable", object, h),
			fmt.Sprintf("The %s could not lock %s (%v) and goes on without it.", operation, h, l.Skipped[h]))
	}
	tflog.Debug(ctx, "lock held", map[string]any{"lock": key, "hosts": len(hosts) - len(l.Skipped), "waited_ms": l.Waited.Milliseconds()})
	return l
}

// unlock releases l, warning when it was lost during the run.
func unlock(ctx context.Context, l *nodelock.Lock, object string, diags *diag.Diagnostics) {
	if err := l.Release(); err != nil {
		diags.AddWarning(fmt.Sprintf("%s: the lock was lost during the run", object),
			err.Error()+". Another run may have changed these nodes at the same time; run terraform plan to check.")
	}
	tflog.Debug(ctx, "lock released", map[string]any{"lock": l.Key})
}

// durationValidator accepts a non-negative Go duration such as "10m".
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return `a non-negative Go duration such as "10m", "90s" or "0s"`
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a non-negative Go duration such as \"10m\", \"90s\" or \"0s\".", req.ConfigValue.ValueString()))
	}
}
