#!/usr/bin/env bash
# make bench: on the lab, the wall time of creating the 3-node demo cluster,
# the wall time of `terraform plan` against it, and how many SSH connections
# one plan opens per host (counted from the provider's own debug log line
# "ssh connection opened"). Destroys the cluster afterwards.
set -euo pipefail
cd "$(dirname "$0")/../examples/demo"
: "${TF_CLI_CONFIG_FILE:?set by make bench}" "${LAB_JSON:?set by make bench}"
vars=(-input=false -var "lab_file=$LAB_JSON")
now() { date +%s.%N; }

terraform destroy -auto-approve "${vars[@]}" >/dev/null 2>&1 || true
t0=$(now)
terraform apply -auto-approve "${vars[@]}" >/dev/null
t1=$(now)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$log" terraform plan "${vars[@]}" -detailed-exitcode >/dev/null && plan_rc=0 || plan_rc=$?
t2=$(now)
t3=$(now)
terraform plan "${vars[@]}" >/dev/null
t4=$(now)

echo "create (3 nodes):          $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s"
echo "plan (with debug log):     $(awk "BEGIN{printf \"%.2f\", $t2-$t1}") s  (exit $plan_rc: 0 = no changes)"
echo "plan:                      $(awk "BEGIN{printf \"%.2f\", $t4-$t3}") s"
echo "SSH connections per host in one plan:"
grep -o 'ssh connection opened.*"host":"[^"]*"' "$log" | grep -o '"host":"[^"]*"' | sort | uniq -c | sed 's/^/  /'
terraform destroy -auto-approve "${vars[@]}" >/dev/null
