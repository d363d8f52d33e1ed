package sshclient

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host key policies accepted by Settings.HostKeyPolicy.
const (
	// PolicyStrict accepts only host keys already recorded in the known_hosts file.
	PolicyStrict = "strict"
	// PolicyAcceptNew records keys of hosts seen for the first time and rejects
	// any later mismatch.
	PolicyAcceptNew = "accept-new"
)

// HostKeyMismatchError reports a host whose presented key differs from the
// key recorded in known_hosts. It is never recoverable by policy.
type HostKeyMismatchError struct {
	Host      string
	Presented string   // SHA256 fingerprint of the key the host presented
	Recorded  []string // SHA256 fingerprints recorded for the host
	File      string
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the host presented %s but %s records %s; "+
		"if the host was rebuilt on purpose, remove its old line from that file (ssh-keygen -R %s -f %s)",
		e.Host, e.Presented, e.File, strings.Join(e.Recorded, ", "), e.Host, e.File)
}

// UnknownHostError reports a host with no recorded key under the strict policy.
type UnknownHostError struct {
	Host      string
	Presented string
	File      string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("host %s is not in %s (it presented %s); add its key to that file, "+
		"or set ssh.host_key_policy = \"accept-new\" to record keys of new hosts", e.Host, e.File, e.Presented)
}

// KnownHostsError is a known_hosts file that cannot be read or parsed. No
// retry can fix it, so a connection fails at once.
type KnownHostsError struct {
	File string
	Err  error
}

func (e *KnownHostsError) Error() string {
	return fmt.Sprintf("known_hosts file %s: %v (fix or create the file, or set ssh.host_key_policy = \"accept-new\" to have it created)", e.File, e.Err)
}

func (e *KnownHostsError) Unwrap() error { return e.Err }

// hostKeyChecker verifies host keys against one known_hosts file. With the
// accept-new policy it appends keys of unknown hosts to the file, under an
// exclusive flock(2) and only when no other process recorded the host in
// the meantime. It is safe for concurrent use.
type hostKeyChecker struct {
	file   string
	policy string
	mu     sync.Mutex
}

func newHostKeyChecker(file, policy string) (*hostKeyChecker, error) {
	if file == "" {
		return nil, errors.New("no known_hosts file configured")
	}
	switch policy {
	case "", PolicyStrict:
		policy = PolicyStrict
	case PolicyAcceptNew:
	default:
		return nil, fmt.Errorf("unknown host key policy %q (want %q or %q)", policy, PolicyStrict, PolicyAcceptNew)
	}
	if policy == PolicyAcceptNew {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(file, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return nil, err
		}
		f.Close()
	}
	return &hostKeyChecker{file: file, policy: policy}, nil
}

// check verifies key against the file as it is now (re-read on each call, so
// keys recorded by another connection or process are seen). It returns the
// knownhosts KeyError for a key the file does not hold.
func (c *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := knownhosts.New(c.file)
	if err != nil {
		return &KnownHostsError{File: c.file, Err: err}
	}
	return cb(hostname, remote, key)
}

// Callback is an ssh.HostKeyCallback.
func (c *hostKeyChecker) Callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.verdict(hostname, key, c.check(hostname, remote, key))
	if err == nil || c.policy != PolicyAcceptNew {
		return err
	}
	if _, ok := err.(*UnknownHostError); !ok {
		return err
	}
	return c.record(hostname, remote, key)
}

// verdict turns a knownhosts result into this package's errors.
func (c *hostKeyChecker) verdict(hostname string, key ssh.PublicKey, err error) error {
	var keyErr *knownhosts.KeyError
	if err == nil || !errors.As(err, &keyErr) {
		return err
	}
	presented := ssh.FingerprintSHA256(key)
	if len(keyErr.Want) > 0 {
		rec := make([]string, 0, len(keyErr.Want))
		for _, k := range keyErr.Want {
			rec = append(rec, ssh.FingerprintSHA256(k.Key))
		}
		return &HostKeyMismatchError{Host: hostname, Presented: presented, Recorded: rec, File: c.file}
	}
	return &UnknownHostError{Host: hostname, Presented: presented, File: c.file}
}

// record appends key for hostname (accept-new) while holding an exclusive
// flock on the file, after reading it again: another process (a second
// provider, an ssh client) may have recorded the host meanwhile, and then
// its key decides.
func (c *hostKeyChecker) record(hostname string, remote net.Addr, key ssh.PublicKey) error {
	f, err := os.OpenFile(c.file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording host key of %s: %w", hostname, err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("recording host key of %s: locking %s: %w", hostname, c.file, err)
	}
	err = c.verdict(hostname, key, c.check(hostname, remote, key))
	if _, unknown := err.(*UnknownHostError); !unknown {
		return err // recorded by another process meanwhile: accepted, or a mismatch
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
	if _, err := fmt.Fprintln(f, line); err != nil {
		return fmt.Errorf("recording host key of %s: %w", hostname, err)
	}
	return nil
}

// algorithms lists the host key algorithms to offer to hostname (host:port):
// those of the key types the file records for it, so a host known by one
// type (say ed25519) is asked for that type and never reads as a mismatch
// because it preferred another. Nil when the file records none (a new host
// under accept-new), leaving Go's defaults.
func (c *hostKeyChecker) algorithms(hostname string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keyErr *knownhosts.KeyError
	if !errors.As(c.check(hostname, probeAddr(hostname), probeKey), &keyErr) {
		return nil
	}
	var out []string
	for _, k := range keyErr.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// algorithmsFor maps a key type to the signature algorithms that use it.
func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// probeKey is a key no host has: checking it lists the recorded keys.
var probeKey = func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
}()

// probeAddr is the remote address knownhosts matches for hostname (host:port);
// only its IP matters, for entries written by IP.
func probeAddr(hostname string) net.Addr {
	host, port, err := net.SplitHostPort(hostname)
	if err != nil {
		return &net.TCPAddr{}
	}
	p, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: p}
}

// IsHostKeyError reports whether err comes from host key verification: a
// key that differs from known_hosts, a host known_hosts lacks (strict), or a
// known_hosts file that cannot be read. Such a host is not "unreachable":
// treating it so would let whoever answers at its address steer the
// provider, so callers fail instead of skipping it.
func IsHostKeyError(err error) bool {
	var mm *HostKeyMismatchError
	var uh *UnknownHostError
	var kh *KnownHostsError
	return errors.As(err, &mm) || errors.As(err, &uh) || errors.As(err, &kh)
}
