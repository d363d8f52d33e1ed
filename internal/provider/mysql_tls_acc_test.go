package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// The MySQL lifecycle's tls blocks: 2-day node certificates renewed within a
// day of expiry, then a renewal window longer than the time left, which
// makes every certificate due (as accTLS and accRenewTLS for Patroni).
const (
	myNoTLS    = "tls = { enabled = false }"
	myTLS      = "tls = { validity_days = 2, renew_before_days = 1 }"
	myRenewTLS = "tls = { validity_days = 5, renew_before_days = 3 }"
	myTLSDir   = "/etc/mysql/erawan-accCluster-tls"
)

// caVerifier is a TLS client configuration that verifies the server's
// chain against caPEM and, when name is set, that the certificate names
// it (an IP address SAN). Through HAProxy the test does not know which
// member answers, so it checks the chain alone there.
func caVerifier(caPEM, name string) (*tls.Config, error) {
	if caPEM == "" { // a cluster without its CA yet: encrypted, nothing to verify against
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, nil //nolint:gosec // the servers' own self-signed certificates
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("ca_certificate holds no PEM certificate")
	}
	if name != "" {
		return &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}, nil
	}
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the chain check below
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}, nil
}

// appDBVerified opens a connection as the application user to addr:port
// over TLS verified against the cluster CA (name: see caVerifier).
func appDBVerified(s *terraform.State, addr string, port int, name string) (*sql.DB, error) {
	tc, err := caVerifier(myAttr(s, "ca_certificate"), name)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = "appuser", myAttr(s, "database_password")
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", fmt.Sprintf("%s:%d", addr, port), "appdb"
	cfg.Timeout, cfg.ReadTimeout, cfg.TLS = 5*time.Second, 10*time.Second, tc
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, db.Ping()
}

// checkMySQLTLS asserts the TLS of cluster accCluster on every member in
// state: the server, group communication, the recovery channel and clone
// use the node certificate and the CA; the key is 0600 and owned by mysql;
// a client verifying the address and the chain against ca_certificate
// connects; certificates_expire_at is about wantDays ahead.
func checkMySQLTLS(t *testing.T, pool *sshclient.Pool, wantDays float64) resource.TestCheckFunc {
	t.Helper()
	return func(s *terraform.State) error {
		if _, err := pki.ParseCertificate(myAttr(s, "ca_certificate")); err != nil {
			return fmt.Errorf("ca_certificate: %v", err)
		}
		exp, err := time.Parse(time.RFC3339, myAttr(s, "certificates_expire_at"))
		if days := time.Until(exp).Hours() / 24; err != nil || days < wantDays-0.1 || days > wantDays+0.01 {
			return fmt.Errorf("certificates_expire_at %q: want about %v days ahead (%v)", myAttr(s, "certificates_expire_at"), wantDays, err)
		}
		want := strings.Join([]string{"VERIFY_IDENTITY", "1", "1", myTLSDir + "/ca.crt", myTLSDir + "/node.crt", myTLSDir + "/ca.crt", myTLSDir + "/node.crt", "600 mysql"}, " ")
		for name, m := range myMembers(s) {
			out, err := pool.Run(context.Background(), m[2], `mysql -N -B -e "SELECT @@group_replication_ssl_mode, @@group_replication_recovery_use_ssl, `+
				`@@group_replication_recovery_ssl_verify_server_cert, @@group_replication_recovery_ssl_ca, @@ssl_cert, @@clone_ssl_ca, @@clone_ssl_cert" | tr '\t' ' '; `+
				`stat -c '%a %U' `+myTLSDir+`/node.key`, nil)
			if got := strings.Join(strings.Fields(string(out)), " "); err != nil || got != want {
				return fmt.Errorf("%s: TLS settings %q (%v), want %q", name, got, err, want)
			}
			db, err := appDBVerified(s, m[2], 3306, m[2])
			if err != nil {
				return fmt.Errorf("%s: a client verifying %s against ca_certificate: %v", name, m[2], err)
			}
			var cipher, cert string
			err = db.QueryRow("SELECT VARIABLE_VALUE FROM performance_schema.session_status WHERE VARIABLE_NAME = 'Ssl_cipher'").Scan(&cipher)
			db.Close()
			if err != nil || cipher == "" {
				return fmt.Errorf("%s: the verified session has no cipher (%v)", name, err)
			}
			// The served certificate is the file's (ALTER INSTANCE RELOAD TLS took).
			if out, err := pool.Run(context.Background(), m[2], "openssl x509 -noout -enddate -in "+myTLSDir+"/node.crt", nil); err == nil {
				cert = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "notAfter="))
			}
			served, err := pool.Run(context.Background(), m[2], `mysql -N -B -e "SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'" | cut -f2`, nil)
			if got := strings.Join(strings.Fields(string(served)), " "); err != nil || got != strings.Join(strings.Fields(cert), " ") {
				return fmt.Errorf("%s serves a certificate expiring %q, but node.crt expires %q (%v)", name, got, cert, err)
			}
		}
		return nil
	}
}

// startMySQLLoop creates table loop_t and starts a client that inserts a
// row through the tenant's read-write port on proxy every interval, each
// time on a new connection whose server certificate is verified against
// the cluster CA (the chain: through HAProxy the member is not known;
// caPEM "" before the cluster has one: nothing is verified).
func startMySQLLoop(t *testing.T, proxy, caPEM, password string, interval time.Duration) *writeLoop {
	t.Helper()
	tc, err := caVerifier(caPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "appuser", password, "tcp", proxy+":7000", "appdb"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout, cfg.TLS = 3*time.Second, 3*time.Second, 3*time.Second, tc
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write := func(stmt string) error {
		db := sql.OpenDB(conn)
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, stmt)
		return err
	}
	if err := write("CREATE TABLE IF NOT EXISTS loop_t (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3))"); err != nil {
		t.Fatalf("client loop: creating its table through %s:7000: %v", proxy, err)
	}
	w := startLoop(interval, func() error { return write("INSERT INTO loop_t () VALUES ()") })
	t.Cleanup(func() { _, _, _, _ = w.finish() })
	return w
}

// groupJoins counts, on each of hosts, how often its own server has joined
// a group: the lines of its error log that declare this server online
// ("This server was declared online..." or "The member with address
// <host>:3306 was declared online..."), not those of the other members.
func groupJoins(t *testing.T, pool *sshclient.Pool, hosts []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range hosts {
		b, err := pool.Run(context.Background(), h, "grep -cE 'This server was declared online|member with address "+h+":3306 was declared online' /var/log/mysql/error.log || true", nil)
		if err != nil {
			t.Fatalf("reading the error log of %s: %v", h, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("error log of %s: %q", h, b)
		}
		out[h] = n
	}
	return out
}

// finishRollingRestart stops the client loop of a rolling restart (what:
// "renewal", "move to TLS"), prints its figures, and checks that writes
// paused under 15 s and that Group Replication rejoined at least restarts
// times on every member since before (groupJoins); a member that did not
// shows its TLS state and Group Replication log.
func finishRollingRestart(t *testing.T, pool *sshclient.Pool, what string, loop *writeLoop, addrs []string, before map[string]int, restarts int) error {
	t.Helper()
	ok, failed, longest, firstErr := loop.finish()
	t.Logf("figure: MySQL %s: the client loop wrote %d rows through the read-write port; %d writes failed, longest write pause %.1f s (first error: %v)", what, ok, failed, longest.Seconds(), firstErr)
	if ok == 0 || longest > 15*time.Second {
		return fmt.Errorf("during the %s %d of %d writes failed, with a pause of %.1f s (want under 15 s); first: %v", what, failed, ok+failed, longest.Seconds(), firstErr)
	}
	after := groupJoins(t, pool, addrs)
	for _, h := range addrs {
		if after[h] < before[h]+restarts {
			out, _ := pool.Run(context.Background(), h, `mysql -N -B -e "SELECT @@ssl_cert, @@group_replication_ssl_mode, MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID=@@server_uuid"; grep group_replication /var/log/mysql/error.log | tail -n 8`, nil)
			return fmt.Errorf("Group Replication rejoined %d times on %s during the %s, want %d:\n%s", after[h]-before[h], h, what, restarts, out)
		}
	}
	return nil
}
