#!/usr/bin/env bash
# make bench, backups (#10), on the lab: a 3-node cluster backing up into
# node4, filled by pgbench to BENCH_PGBENCH_SCALE (default 64, about 1 GB);
# then the WAL archive lag under BENCH_LOAD_SECONDS (default 30) of pgbench
# writes (segments written but not yet archived, sampled every second on
# the leader), the wall time of an on-demand full backup
# (erawan_patroni_backup), and of a one-node cluster restored from the
# stanza to the end of its archive. Destroys the clusters afterwards; the
# stanzas stay in node4's repository (under BENCH_REPO_KEEP=0 they are
# removed).
set -euo pipefail
cd "$(dirname "$0")/backup"
: "${TF_CLI_CONFIG_FILE:?set by make bench}" "${LAB_JSON:?set by make bench}"
scale=${BENCH_PGBENCH_SCALE:-64}
load=${BENCH_LOAD_SECONDS:-30}
vars=(-input=false -var "lab_file=$LAB_JSON")
now() { date +%s.%N; }
secs() { awk "BEGIN{printf \"%.1f\", $2-$1}"; }
lab() { python3 -c 'import json, sys; print(eval("l" + sys.argv[2], {"l": json.load(open(sys.argv[1]))}))' "$LAB_JSON" "$1"; }
key=$(lab '["ssh_private_key_file"]')
known=$(lab '["known_hosts_file"]')
user=$(lab '["ssh_user"]')
repo=$(lab '["hosts"][3]["address"]')
on() { local h=$1; shift; ssh -i "$key" -o UserKnownHostsFile="$known" -o BatchMode=yes "$user@$h" "$@"; }
cleanup() {
  terraform destroy -auto-approve "${vars[@]}" -var backup=true -var restore=true >/dev/null || echo "bench: destroy failed" >&2
  if [ "${BENCH_REPO_KEEP:-0}" = 0 ]; then on "$repo" 'rm -rf /var/lib/pgbackrest/backup/bk /var/lib/pgbackrest/archive/bk' || true; fi
}
trap cleanup EXIT

terraform destroy -auto-approve "${vars[@]}" -var backup=true -var restore=true >/dev/null 2>&1 || true
on "$repo" 'rm -rf /var/lib/pgbackrest/backup/bk /var/lib/pgbackrest/archive/bk' || true
terraform apply -auto-approve "${vars[@]}" >/dev/null
leader=$(terraform output -raw leader)
laddr=$(terraform output -raw leader_address)
psql="runuser -u postgres -- /usr/lib/postgresql/17/bin/psql -X -A -t -q -h /var/run/postgresql -p 5460 -d postgres"
pgbench="runuser -u postgres -- /usr/lib/postgresql/17/bin/pgbench -h /var/run/postgresql -p 5460"

p0=$(now); on "$laddr" "$pgbench -i -q -s $scale postgres" >/dev/null 2>&1
p1=$(now)
size=$(on "$laddr" "$psql -c \"select pg_size_pretty(pg_database_size('postgres'))\"")
echo "backup: pgbench -i -s $scale on the leader $leader: $(secs "$p0" "$p1") s, database $size"

# The WAL archive lag under load: segments between the current one and the
# last archived one, each second.
on "$laddr" "$pgbench -c 4 -j 2 -T $load -N postgres" >/dev/null 2>&1 &
bench_pid=$!
lags=()
while kill -0 "$bench_pid" 2>/dev/null; do
  lag=$(on "$laddr" "$psql -c \"select coalesce(('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 9))::bit(64)::bigint - ('x' || substr(last_archived_wal, 9))::bit(64)::bigint, -1) from pg_stat_archiver\"" 2>/dev/null || echo -1)
  lags+=("$lag")
  sleep 1
done
wait "$bench_pid" || true
printf '%s\n' "${lags[@]}" | awk -v s="$load" '$1 >= 0 { n++; t += $1; if ($1 > m) m = $1 } END { if (n) printf "backup: WAL archive lag under %d s of pgbench -N (4 clients): mean %.1f, max %d segments of 16 MB (%d samples)\n", s, t/n, m, n; else print "backup: no lag sample" }'

b0=$(now); terraform apply -auto-approve "${vars[@]}" -var backup=true >/dev/null
b1=$(now)
echo "backup: on-demand full backup (erawan_patroni_backup), database $size: $(secs "$b0" "$b1") s, $(terraform state show 'erawan_patroni_backup.full[0]' | grep -E 'repository_size_bytes|^ *size_bytes' | tr -s ' ' | tr '\n' ' ')"
r0=$(now); terraform apply -auto-approve "${vars[@]}" -var backup=true -var restore=true >/dev/null
r1=$(now)
echo "backup: create of a one-node cluster restored from that stanza (to the end of its archive): $(secs "$r0" "$r1") s"
