#!/usr/bin/python
# -*- coding: utf-8 -*-
# Part of terraform-provider-erawan.

DOCUMENTATION = r"""
module: erawan_http
short_description: One HTTP or HTTPS request, verified against a CA, with an optional client certificate
description:
  - A narrow stand-in for ansible.builtin.uri for the requests the Patroni roles make to Patroni's REST API.
  - ansible-core 2.14 (Debian 12's) cannot make any HTTPS request with ansible.builtin.uri on a node whose
    Python is 3.12 or later (Debian 13): its connection class passes cert_file, which http.client removed.
  - The result has the keys of ansible.builtin.uri that the roles read (status, content, json, url), and the
    task fails the same way when the status is not one of status_code.
options:
  url: {type: str, required: true, description: http:// or https:// URL.}
  method: {type: str, default: GET, description: HTTP method.}
  body: {type: raw, description: Request body; with body_format json, a value sent as JSON.}
  body_format: {type: str, default: raw, choices: [raw, json], description: How body is sent.}
  status_code: {type: list, elements: int, default: [200], description: Statuses that count as success.}
  return_content: {type: bool, default: false, description: Return the body as content.}
  url_username: {type: str, description: Basic auth user (sent with the request).}
  url_password: {type: str, description: Basic auth password.}
  force_basic_auth: {type: bool, default: false, description: Accepted for uri compatibility; basic auth is always sent when url_username is set.}
  ca_path: {type: path, description: CA certificate file (PEM) that verifies the server; the system's CAs without it.}
  client_cert: {type: path, description: Client certificate file (PEM).}
  client_key: {type: path, description: Client private key file (PEM).}
  timeout: {type: int, default: 30, description: Seconds for the whole request.}
"""

import base64
import json
import ssl
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            method=dict(type="str", default="GET"),
            body=dict(type="raw"),
            body_format=dict(type="str", default="raw", choices=["raw", "json"]),
            status_code=dict(type="list", elements="int", default=[200]),
            return_content=dict(type="bool", default=False),
            url_username=dict(type="str"),
            url_password=dict(type="str", no_log=True),
            force_basic_auth=dict(type="bool", default=False),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=False,
    )
    p = module.params
    headers = {}
    data = None
    if p["body"] is not None:
        if p["body_format"] == "json":
            body = p["body"] if isinstance(p["body"], str) else json.dumps(p["body"])
            headers["Content-Type"] = "application/json"
        else:
            body = p["body"] if isinstance(p["body"], str) else str(p["body"])
        data = body.encode("utf-8")
    if p["url_username"] is not None:
        token = "%s:%s" % (p["url_username"], p["url_password"] or "")
        headers["Authorization"] = "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    context = None
    if p["url"].startswith("https://"):
        context = ssl.create_default_context(cafile=p["ca_path"])
        if p["client_cert"]:
            context.load_cert_chain(p["client_cert"], p["client_key"])
    request = urllib.request.Request(p["url"], data=data, method=p["method"].upper(), headers=headers)
    result = dict(changed=False, url=p["url"], status=-1)
    try:
        with urllib.request.urlopen(request, timeout=p["timeout"], context=context) as response:
            result["status"] = response.status
            content = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        result["status"] = e.code
        content = e.read().decode("utf-8", "replace")
    except Exception as e:  # refused, timed out, TLS verification failed
        module.fail_json(msg="Status code was -1 and not %s: Request failed: %s" % (p["status_code"], e), **result)
    try:
        result["json"] = json.loads(content)
    except ValueError:
        pass
    if p["return_content"]:
        result["content"] = content
    if result["status"] not in p["status_code"]:
        module.fail_json(msg="Status code was %d and not %s: %s" % (result["status"], p["status_code"], content[:500]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
