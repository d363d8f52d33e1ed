# Emits one JSON object per line on stdout for the Erawan provider's runner:
# play (step) starts, task starts, and per-host results. Results of tasks with
# no_log are censored by Ansible before they reach this plugin.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: erawan_json
type: stdout
short_description: JSON-lines events for terraform-provider-erawan
description: One JSON object per line with the step, host, task and status.
"""

import json
import sys

from ansible.plugins.callback import CallbackBase

TAIL = 4000


def _tail(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, default=str)
        except Exception:
            value = str(value)
    return value[-TAIL:]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "erawan_json"

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._step = ""
        self._task = ""

    def _emit(self, **event):
        sys.stdout.write(json.dumps(event, default=str) + "\n")
        sys.stdout.flush()

    def v2_playbook_on_play_start(self, play):
        self._step = play.get_name()
        self._emit(event="step_start", step=self._step)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task = task.get_name()
        self._emit(event="task_start", step=self._step, task=self._task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task = task.get_name()
        self._emit(event="task_start", step=self._step, task=self._task)

    def _result(self, status, result):
        r = result._result or {}
        host = result._host.get_name()
        delegated = r.get("_ansible_delegated_vars", {}).get("ansible_host") if isinstance(r.get("_ansible_delegated_vars"), dict) else None
        ev = dict(event="result", status=status, step=self._step, task=result._task.get_name() or self._task,
                  host=host, changed=bool(r.get("changed", False)))
        if delegated:
            ev["delegated_to"] = delegated
        if status in ("failed", "unreachable"):
            if r.get("censored"):
                ev["msg"] = r.get("censored")
            else:
                ev["msg"] = _tail(r.get("msg"))
                ev["stdout"] = _tail(r.get("stdout"))
                ev["stderr"] = _tail(r.get("stderr"))
                if r.get("rc") is not None:
                    ev["rc"] = r.get("rc")
                if not ev["msg"] and not ev["stdout"] and not ev["stderr"]:
                    ev["msg"] = _tail({k: v for k, v in r.items() if not k.startswith("_")})
        self._emit(**ev)

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_item_on_failed(self, result):
        pass

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        summary = {h: stats.summarize(h) for h in hosts}
        self._emit(event="stats", hosts=summary)

    def v2_playbook_on_no_hosts_matched(self):
        self._emit(event="no_hosts", step=self._step)

    def v2_runner_on_start(self, host, task):
        pass

    # Ansible warnings and deprecations go to stderr, which the runner keeps.
