package sshclient

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

// hostKeyChecker verifies host keys against one known_hosts file. With the
// accept-new policy it appends keys of unknown hosts to the file. It is safe
// for concurrent use.
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

// Callback is an ssh.HostKeyCallback. The file is re-read on each call so
// keys recorded by another connection are seen.
func (c *hostKeyChecker) Callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cb, err := knownhosts.New(c.file)
	if err != nil {
		return fmt.Errorf("reading known_hosts file %s: %w", c.file, err)
	}
	err = cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
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
	if c.policy != PolicyAcceptNew {
		return &UnknownHostError{Host: hostname, Presented: presented, File: c.file}
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
	f, err := os.OpenFile(c.file, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recording host key of %s: %w", hostname, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		return fmt.Errorf("recording host key of %s: %w", hostname, err)
	}
	return nil
}
