// Package nodelock holds locks on the nodes themselves, so that two
// Terraform runs from different states, workspaces or machines never change
// one cluster (or one proxy host) at once.
//
// A lock on a host is an flock(2) on /run/erawan/locks/<key>.lock held by a
// shell that lives exactly as long as one SSH session of the holder: the
// session's stdin stays open while the lock is held, and its end (Release, a
// killed provider, a lost connection) ends the shell and so frees the lock.
// A lock file left behind never blocks: only a live flock does. Beside it,
// <key>.holder records who holds it (Holder, one JSON line), which a
// contender reads to name the holder in its error.
package nodelock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Dir is where the lock files live on a node: a tmpfs, so a reboot frees
// every lock.
const Dir = "/run/erawan/locks"

// keyRE is what a lock key may be: it names the files under Dir.
var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Holder says who holds a lock. It is written on the node when the lock is
// taken and shown to contenders.
type Holder struct {
	ControlHost string    `json:"control_host"` // os.Hostname() of the machine running Terraform
	PID         int       `json:"pid"`          // the provider process
	ParentPID   int       `json:"parent_pid"`   // normally Terraform
	Operation   string    `json:"operation"`    // create, update or delete
	ResourceID  string    `json:"resource_id"`  // the holding resource's id
	Started     time.Time `json:"started"`      // when the lock was taken (UTC)
}

// NewHolder describes this process running operation on resource id.
func NewHolder(operation, id string) Holder {
	h, _ := os.Hostname()
	return Holder{ControlHost: h, PID: os.Getpid(), ParentPID: os.Getppid(), Operation: operation, ResourceID: id}
}

func (h Holder) String() string {
	return fmt.Sprintf("the %s of %s by process %d (parent %d) on %s, since %s",
		h.Operation, h.ResourceID, h.PID, h.ParentPID, h.ControlHost, h.Started.UTC().Format(time.RFC3339))
}

// Dialer gives the SSH connection to a host (an *sshclient.Pool).
type Dialer interface {
	Client(ctx context.Context, host string) (*ssh.Client, error)
}

// Options says what to lock.
type Options struct {
	// Key names the lock, such as "patroni-orders" or "haproxy"; it must
	// match [A-Za-z0-9][A-Za-z0-9_.-]{0,127} (MySQL cluster names keep their case).
	Key string
	// Hosts are locked in sorted order (so two contenders cannot deadlock).
	Hosts  []string
	Holder Holder
	// Timeout is how long to wait for a held lock, for all hosts together;
	// 0 fails at once.
	Timeout time.Duration
	// Sudo prefixes the remote command ("" for root, "sudo -n ").
	Sudo string
	// Poll is the interval between attempts on a held lock (default 1s).
	Poll time.Duration
	// SkipUnreachable leaves out hosts that cannot be connected to within
	// ConnectTimeout (default 20s) instead of failing; they are listed in
	// Lock.Skipped. At least one host must still be locked.
	SkipUnreachable bool
	ConnectTimeout  time.Duration
	// NeverSkip, when set, marks connection errors that fail Acquire even
	// with SkipUnreachable (host key errors: the host answered, but not as
	// the host known_hosts records).
	NeverSkip func(error) bool
	// OnWait, when set, is called once per host when its lock is found held.
	OnWait func(host string, holder *Holder)
}

// HeldError is a lock that stayed held for the whole timeout.
type HeldError struct {
	Host   string
	Key    string
	Holder *Holder // nil when the holder record could not be read
	Waited time.Duration
}

func (e *HeldError) Error() string {
	who := "another run (its holder record is not readable)"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	return fmt.Sprintf("lock %s on %s is held by %s; waited %s (lock_timeout)", e.Key, e.Host, who, e.Waited.Round(time.Second))
}

// Lock is a set of held host locks.
type Lock struct {
	Key string
	// Skipped holds the hosts left out as unreachable, with why.
	Skipped map[string]error
	// Waited is how long acquiring took in all.
	Waited time.Duration

	mu   sync.Mutex
	held []*hostLock
}

type hostLock struct {
	host     string
	sess     *ssh.Session
	stdin    io.WriteCloser
	done     chan error // the session's end
	released bool
}

// script takes the lock named $1 in directory $2 and holds it until stdin closes. The first
// stdin line is the holder record. It prints LOCKED once held, or BUSY and
// the current holder record and exits 75 when the lock is held.
const script = `set -u
umask 077
mkdir -p "$2" || exit 70
f="$2/$1"
exec 9>>"$f.lock" || exit 70
if ! flock -n 9; then echo BUSY; cat "$f.holder" 2>/dev/null; exit 75; fi
IFS= read -r h || exit 71
printf "%s\n" "$h" >"$f.holder.tmp" && mv -f "$f.holder.tmp" "$f.holder"
echo LOCKED
cat >/dev/null 9>&-
rm -f "$f.holder"
`

// Acquire takes the lock on every host of o.Hosts, waiting up to o.Timeout
// while another run holds one. On error it holds nothing. Errors: a
// *HeldError when the timeout passes, or a connection/command error naming
// the host.
func Acquire(ctx context.Context, d Dialer, o Options) (*Lock, error) {
	if !keyRE.MatchString(o.Key) {
		return nil, fmt.Errorf("invalid lock key %q", o.Key)
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 20 * time.Second
	}
	if o.Holder.Started.IsZero() {
		o.Holder.Started = time.Now().UTC()
	}
	record, err := json.Marshal(o.Holder)
	if err != nil {
		return nil, err
	}
	hosts := slices.Clone(o.Hosts)
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	start := time.Now()
	deadline := start.Add(o.Timeout)
	l := &Lock{Key: o.Key, Skipped: map[string]error{}}
	for _, host := range hosts {
		cctx := ctx
		var cancel context.CancelFunc = func() {}
		if o.SkipUnreachable {
			cctx, cancel = context.WithTimeout(ctx, o.ConnectTimeout)
		}
		c, err := d.Client(cctx, host)
		cancel()
		if err != nil {
			if o.SkipUnreachable && ctx.Err() == nil && (o.NeverSkip == nil || !o.NeverSkip(err)) {
				l.Skipped[host] = err
				continue
			}
			_ = l.Release()
			return nil, fmt.Errorf("locking %s: %w", host, err)
		}
		hl, err := acquireHost(ctx, c, host, o, record, start, deadline)
		if err != nil {
			_ = l.Release()
			return nil, err
		}
		l.held = append(l.held, hl)
	}
	if len(l.held) == 0 {
		return nil, fmt.Errorf("lock %s: no host could be reached (%s)", o.Key, skippedList(l.Skipped))
	}
	l.Waited = time.Since(start)
	return l, nil
}

func skippedList(m map[string]error) string {
	var out []string
	for h, err := range m {
		out = append(out, fmt.Sprintf("%s: %v", h, err))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

func acquireHost(ctx context.Context, c *ssh.Client, host string, o Options, record []byte, start, deadline time.Time) (*hostLock, error) {
	waited := false
	for {
		hl, holder, err := try(ctx, c, host, o, record)
		if err == nil {
			return hl, nil
		}
		if !errors.Is(err, errBusy) {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, &HeldError{Host: host, Key: o.Key, Holder: holder, Waited: time.Since(start)}
		}
		if !waited && o.OnWait != nil {
			o.OnWait(host, holder)
		}
		waited = true
		wait := min(o.Poll, time.Until(deadline))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s on %s: %w", o.Key, host, ctx.Err())
		case <-time.After(wait):
		}
	}
}

var errBusy = errors.New("lock busy")

// try makes one attempt. It returns errBusy and the holder record (nil when
// unreadable) when another session holds the lock.
func try(ctx context.Context, c *ssh.Client, host string, o Options, record []byte) (*hostLock, *Holder, error) {
	sess, err := c.NewSession()
	if err != nil {
		return nil, nil, fmt.Errorf("locking %s: ssh session: %w", host, err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	var stderr strings.Builder
	sess.Stderr = &stderr
	cmd := o.Sudo + "sh -c '" + script + "' erawan-lock " + o.Key + " " + Dir
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("locking %s: %w", host, err)
	}
	if _, err := stdin.Write(append(record, '\n')); err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("locking %s: %w", host, err)
	}
	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 2)
	r := bufio.NewReader(stdout)
	go func() {
		for range 2 {
			s, err := r.ReadString('\n')
			lines <- line{strings.TrimRight(s, "\n"), err}
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	first := func() (line, error) {
		select {
		case l := <-lines:
			return l, nil
		case <-ctx.Done():
			sess.Close()
			return line{}, fmt.Errorf("locking %s: %w", host, ctx.Err())
		}
	}
	l, err := first()
	if err != nil {
		return nil, nil, err
	}
	switch l.s {
	case "LOCKED":
		go func() { done <- sess.Wait() }()
		return &hostLock{host: host, sess: sess, stdin: stdin, done: done}, nil, nil
	case "BUSY":
		var holder *Holder
		if l2, err := first(); err == nil && l2.s != "" {
			var h Holder
			if json.Unmarshal([]byte(l2.s), &h) == nil {
				holder = &h
			}
		}
		_ = sess.Wait()
		sess.Close()
		return nil, holder, errBusy
	default:
		werr := sess.Wait()
		sess.Close()
		return nil, nil, fmt.Errorf("locking %s: the lock command failed (%v): %s", host, werr, strings.TrimSpace(stderr.String()))
	}
}

// Lost lists the hosts whose lock ended before Release (a lost SSH
// connection, or the node's shell killed): the run no longer excluded others
// there from that moment.
func (l *Lock) Lost() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, hl := range l.held {
		select {
		case err := <-hl.done:
			hl.done <- err // keep it for Release
			if !hl.released {
				out = append(out, hl.host)
			}
		default:
		}
	}
	return out
}

// Release frees every held lock and waits (up to 10s per host) for the
// node to confirm. It is safe to call twice and on nil. It returns an error
// naming the hosts whose lock had already been lost.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	lost := l.Lost()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, hl := range l.held {
		if hl.released {
			continue
		}
		hl.released = true
		_ = hl.stdin.Close()
		select {
		case err := <-hl.done:
			_ = err // the shell's exit status; its end is what frees the lock
		case <-time.After(10 * time.Second):
		}
		hl.sess.Close()
	}
	if len(lost) > 0 {
		return fmt.Errorf("lock %s was lost before the end of the run on %s (its SSH session ended)", l.Key, strings.Join(lost, ", "))
	}
	return nil
}
