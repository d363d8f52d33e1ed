package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/runner"
)

// runFailure reports a failed playbook run of every resource: its summary
// names the operation and the object ("Patroni cluster \"orders\"",
// "HAProxy tenant \"orders\" on 10.0.0.5"); a runner failure adds the step,
// host, task and the redacted output tail.
func runFailure(diags *diag.Diagnostics, op, object string, err error) {
	detail := err.Error()
	var f *runner.Failure
	if errors.As(err, &f) {
		detail = fmt.Sprintf("Step: %s\nHost: %s\nTask: %s\n\n%s", f.Step, f.Host, f.Task, f.Output)
	}
	diags.AddError(fmt.Sprintf("%s of %s failed", op, object), detail)
}

// ansibleLogger streams runner events to tflog: steps at INFO, tasks and
// results at DEBUG, failures at WARN (already redacted by the runner).
func ansibleLogger(ctx context.Context, key, value string) func(runner.Event) {
	return func(ev runner.Event) {
		switch ev.Event {
		case "step_start":
			tflog.Info(ctx, "step started", map[string]any{key: value, "step": ev.Step})
		case "task_start":
			tflog.Debug(ctx, "task started", map[string]any{key: value, "step": ev.Step, "task": ev.Task})
		case "result":
			fields := map[string]any{key: value, "step": ev.Step, "task": ev.Task, "host": ev.Host, "status": ev.Status}
			if ev.Status == "failed" || ev.Status == "unreachable" {
				fields["msg"] = ev.Msg
				tflog.Warn(ctx, "task failed", fields)
			} else {
				tflog.Debug(ctx, "task result", fields)
			}
		}
	}
}

// configuredClients returns the provider's clients from a Configure
// request's ProviderData: nil before the provider is configured, and an
// error for data of another type.
func configuredClients(data any, diags *diag.Diagnostics) *clients {
	if data == nil {
		return nil
	}
	c, ok := data.(*clients)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *provider.clients, got %T. This is a bug in the provider.", data))
		return nil
	}
	return c
}
