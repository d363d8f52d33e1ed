package ansible_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgcluster"
)

// The stages of the move to TLS in place (patroni_tls move.yml), as the
// templates render them for a cluster with TLS and require_tls: etcd's
// "dual" stage serves clients over TLS and plaintext with peers still
// plaintext, its final one TLS only; Patroni's "server" stage reaches etcd
// over TLS and turns ssl on while the REST API, replication and pg_hba stay
// plaintext, its final one has all of them over TLS.
func TestTLSMoveStagesRender(t *testing.T) {
	bin := ansiblePlaybook(t)
	dir := extract(t)
	out := t.TempDir()
	play := `- hosts: pg1
  gather_facts: false
  tasks:
    - ansible.builtin.template:
        src: roles/patroni_configure/templates/patroni.yml.j2
        dest: "{{ erawan_out }}/patroni-{{ item }}.yml"
        mode: "0600"
      vars: {erawan_pg_tls_stage: "{{ item }}"}
      loop: [server, final]
    - ansible.builtin.template:
        src: roles/patroni_etcd/templates/etcd.env.j2
        dest: "{{ erawan_out }}/etcd-{{ item }}.env"
        mode: "0600"
      vars: {erawan_etcd_tls_stage: "{{ item }}", erawan_etcd_initial_state: existing, erawan_etcd_initial_cluster: "pg1=https://127.0.0.1:2380"}
      loop: [dual, final]
`
	if err := os.WriteFile(filepath.Join(dir, "bundle", "render_stages.yml"), []byte(play), 0o600); err != nil {
		t.Fatal(err)
	}
	old, next := patroniSpec(), patroniSpec()
	old.TLS, old.Backup = nil, nil
	next.TLS = &pgcluster.TLS{RequireTLS: true, CAPEM: "ca"}
	vars := asMap(next.Vars(old, nil))
	if vars["erawan_pg_tls_move"] != true {
		t.Fatalf("an update from a spec without TLS to one with TLS must be a move: %v", vars["erawan_pg_tls_move"])
	}
	vars["erawan_out"] = out
	if r := run(t, bin, dir, vars, "render_stages.yml"); r.err != nil {
		t.Fatalf("rendering: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	check := func(name string, want, not []string) {
		t.Helper()
		text := read(name)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, text)
			}
		}
		for _, n := range not {
			if strings.Contains(text, n) {
				t.Errorf("%s has %q:\n%s", name, n, text)
			}
		}
	}
	check("etcd-dual.env", []string{
		"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379,http://127.0.0.1:2379,https://127.0.0.1:2379,https://127.0.0.1:2379\n",
		"ETCD_LISTEN_PEER_URLS=http://127.0.0.1:2380\n", "ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:2379\n",
		"ETCD_PEER_CERT_FILE=", "ETCD_CLIENT_CERT_AUTH=true", "ETCD_INITIAL_CLUSTER_STATE=existing",
	}, nil)
	check("etcd-final.env", []string{"ETCD_LISTEN_PEER_URLS=https://", "ETCD_LISTEN_CLIENT_URLS=https://127.0.0.1:2379,https://127.0.0.1:2379\n"}, []string{"http://"})
	check("patroni-server.yml", []string{"protocol: https", "ssl: \"on\"", "cacert:", "- host replication replicator 127.0.0.2/32", "- host all all 10.0.0.0/24"},
		[]string{"certfile:", "hostssl", "sslmode"})
	check("patroni-final.yml", []string{"certfile:", "protocol: https", "- hostssl replication replicator 127.0.0.2/32", "- hostssl all all 10.0.0.0/24", "\"sslmode\": \"verify-full\""},
		[]string{"- host "})
}
