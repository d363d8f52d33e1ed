#!/usr/bin/env bash
# make bench, on the lab: the wall time of creating a 3-node cluster, of
# adding BENCH_TENANTS (default 20) HAProxy tenants on node4, of one
# `terraform plan` over all of it, and how many SSH connections that plan
# opened per host (from the provider's debug log line "ssh connection
# opened"); then, when the lab has MySQL hosts, the wall time of creating a
# 3-member erawan_mysql_cluster and of a `terraform plan` against it.
# Destroys everything afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/bench"
: "${TF_CLI_CONFIG_FILE:?set by make bench}" "${LAB_JSON:?set by make bench}"
vars=(-input=false -var "lab_file=$LAB_JSON" -var "tenants=${BENCH_TENANTS:-20}")
now() { date +%s.%N; }
secs() { awk "BEGIN{printf \"%.2f\", $2-$1}"; }
log=$(mktemp)
cleanup() { rm -f "$log"; terraform destroy -auto-approve "${vars[@]}" >/dev/null || echo "bench: destroy failed" >&2; }
trap cleanup EXIT

terraform destroy -auto-approve "${vars[@]}" >/dev/null 2>&1 || true
t0=$(now); terraform apply -auto-approve "${vars[@]}" -target=erawan_patroni_cluster.bench >/dev/null
t1=$(now); terraform apply -auto-approve "${vars[@]}" -target=erawan_haproxy_tenant.t -target=data.erawan_patroni_cluster.bench >/dev/null
t2=$(now); TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$log" terraform plan "${vars[@]}" -detailed-exitcode >/dev/null && rc=0 || rc=$?
t3=$(now); terraform plan "${vars[@]}" >/dev/null
t4=$(now)

echo "create, 3-node cluster:               $(secs "$t0" "$t1") s"
echo "create, ${BENCH_TENANTS:-20} HAProxy tenants on one host: $(secs "$t1" "$t2") s"
echo "plan (debug log on; exit $rc, 0 = no changes): $(secs "$t2" "$t3") s"
echo "plan:                                 $(secs "$t3" "$t4") s"
echo "SSH connections opened by that one plan, per host:"
grep -o 'ssh connection opened.*' "$log" | grep -o 'host=[0-9a-f.:]*' | sort | uniq -c | sed 's/^/  /'

# MySQL last: the plans above saw it as not yet created (no host touched).
if [ "$(grep -c '"image": "mysql"' "$LAB_JSON")" -ge 3 ]; then
  m0=$(now); terraform apply -auto-approve "${vars[@]}" -target='erawan_mysql_cluster.bench[0]' >/dev/null
  m1=$(now); terraform plan "${vars[@]}" -target='erawan_mysql_cluster.bench[0]' -detailed-exitcode >/dev/null && rc=0 || rc=$?
  m2=$(now)
  echo "create, 3-member MySQL cluster:       $(secs "$m0" "$m1") s"
  echo "plan, MySQL cluster (exit $rc, 0 = no changes): $(secs "$m1" "$m2") s"
else
  echo "MySQL: the lab has no MySQL hosts (make lab-up LAB_MYSQL_NODES=3)"
fi

# Backups and restore (#10): its own configuration and clusters.
"$here/bench/backup.sh"
