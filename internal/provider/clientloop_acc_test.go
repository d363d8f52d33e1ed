package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/jackc/pgx/v5"
)

// loopTarget is where a client loop writes: a member's address, the
// superuser password and the cluster CA, taken from state by capture.
type loopTarget struct {
	host, password, caPEM string
}

// capture records the leader's address, the superuser password and the CA
// of the state into t, for a loop that a later step starts in PreConfig
// (which sees no state).
func (lt *loopTarget) capture(s *terraform.State) error {
	ms, err := members(s)
	if err != nil {
		return err
	}
	m, ok := ms[stateAttr(s, "leader")]
	if !ok {
		return fmt.Errorf("no leader among %v", ms)
	}
	lt.host, lt.password, lt.caPEM = m[2], stateAttr(s, "superuser_password"), stateAttr(s, "ca_certificate")
	return nil
}

// writeLoop is a client that runs write every interval until stopped; each
// write opens a new connection, so a server that cannot serve for a moment
// (or its certificate) shows as a failed write. It records how many writes
// succeeded and failed and the longest outage (from a failed write to the
// next one that succeeds).
type writeLoop struct {
	stop, done chan struct{}
	stopOnce   sync.Once

	mu       sync.Mutex
	ok, fail int
	longest  time.Duration
	firstErr error
}

// startLoop starts write every interval.
func startLoop(interval time.Duration, write func() error) *writeLoop {
	w := &writeLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval, write)
	return w
}

// startWriteLoop creates the table client_loop on the PostgreSQL member
// lt.host and starts a loop that inserts a row into it through a new
// connection (sslmode=verify-full against the cluster CA) every interval.
func startWriteLoop(t *testing.T, lt loopTarget, interval time.Duration) *writeLoop {
	t.Helper()
	cfg := loopConfig(t, lt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("client loop: connecting to %s: %v", lt.host, err)
	}
	_, err = c.Exec(ctx, "create table if not exists client_loop (at timestamptz not null default now())")
	c.Close(ctx)
	if err != nil {
		t.Fatalf("client loop: creating its table on %s: %v", lt.host, err)
	}
	w := startLoop(interval, func() error { return writeOnce(cfg) })
	t.Cleanup(func() { _, _, _, _ = w.finish() })
	return w
}

func loopConfig(t *testing.T, lt loopTarget) *pgx.ConnConfig {
	t.Helper()
	dsn := fmt.Sprintf("host=%s port=5432 dbname=postgres connect_timeout=5 sslmode=prefer", lt.host)
	if lt.caPEM != "" {
		caFile := filepath.Join(t.TempDir(), "loop-ca.crt")
		if err := os.WriteFile(caFile, []byte(lt.caPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		dsn = fmt.Sprintf("host=%s port=5432 dbname=postgres connect_timeout=5 sslmode=verify-full sslrootcert=%s", lt.host, caFile)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = "postgres", lt.password
	return cfg
}

func (w *writeLoop) run(interval time.Duration, write func() error) {
	defer close(w.done)
	var downSince time.Time
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := write()
		now := time.Now()
		w.mu.Lock()
		switch {
		case err != nil:
			w.fail++
			if w.firstErr == nil {
				w.firstErr = err
			}
			if downSince.IsZero() {
				downSince = now
			}
		default:
			w.ok++
			if !downSince.IsZero() {
				w.longest = max(w.longest, now.Sub(downSince))
				downSince = time.Time{}
			}
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			w.mu.Lock()
			if !downSince.IsZero() { // still down when stopped
				w.longest = max(w.longest, time.Since(downSince))
			}
			w.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

func writeOnce(cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "insert into client_loop default values")
	return err
}

// finish stops the loop and returns what it saw; it may be called again
// (t.Cleanup stops a loop that a failed step left running).
func (w *writeLoop) finish() (ok, fail int, longest time.Duration, firstErr error) {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ok, w.fail, w.longest, w.firstErr
}
