// Package sshclient is the one SSH layer of the provider. Every direct probe
// (preflight, Read, the data source, SFTP) goes through a Pool, which keeps at
// most one connection per host for the life of a provider instance, verifies
// host keys against a known_hosts file, supports an ssh-agent, inline or file
// keys and a bastion (jump) host, and retries connects while a host boots.
package sshclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Config holds the settings of a Pool: the shared SSH settings and what only
// the Go SSH layer needs.
type Config struct {
	Settings
	// AgentSocket is the ssh-agent socket; empty means $SSH_AUTH_SOCK.
	AgentSocket string
	// DialTimeout bounds one TCP connect + handshake attempt (default 10s).
	DialTimeout time.Duration
	// OnDial, when set, is called each time a new connection to a host is
	// established (used for logging and for counting connections).
	OnDial func(host string)
}

// Pool is a per-provider-instance set of SSH connections keyed by host.
type Pool struct {
	cfg     Config
	checker *hostKeyChecker
	auth    []ssh.AuthMethod
	agentC  io.Closer

	mu      sync.Mutex
	conns   map[string]*hostConn
	bastion *hostConn
	dials   map[string]int
}

type hostConn struct {
	mu     sync.Mutex // serialises dialling for one host
	client *ssh.Client
}

// alive returns the pooled client if its transport still answers (a dead
// one fails a global request at once), else drops it and returns nil.
// The caller holds hc.mu.
func (hc *hostConn) alive() *ssh.Client {
	if hc.client == nil {
		return nil
	}
	if _, _, err := hc.client.SendRequest("keepalive@erawan", true, nil); err == nil {
		return hc.client
	}
	hc.client.Close()
	hc.client = nil
	return nil
}

// New checks the configuration and builds a Pool. It does not connect.
func New(cfg Config) (*Pool, error) {
	cfg.Settings = cfg.WithDefaults()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	checker, err := newHostKeyChecker(cfg.KnownHostsFile, cfg.HostKeyPolicy)
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, checker: checker, conns: map[string]*hostConn{}, dials: map[string]int{}}
	p.auth, p.agentC, err = authMethods(cfg.Endpoint, cfg.AgentSocket)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Config returns the pool's settings with defaults applied.
func (p *Pool) Config() Config { return p.cfg }

func authMethods(e Endpoint, agentSocket string) ([]ssh.AuthMethod, io.Closer, error) {
	var methods []ssh.AuthMethod
	key := []byte(e.PrivateKey)
	if len(key) == 0 && e.PrivateKeyFile != "" {
		b, err := os.ReadFile(expandHome(e.PrivateKeyFile))
		if err != nil {
			return nil, nil, fmt.Errorf("reading private key file: %w", err)
		}
		key = b
	}
	if len(key) > 0 {
		signer, err := ssh.ParsePrivateKey(key)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing private key: %w (passphrase-protected keys must be loaded into ssh-agent instead)", err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	var closer io.Closer
	if agentSocket == "" {
		agentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if agentSocket != "" {
		if conn, err := net.Dial("unix", agentSocket); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			closer = conn
		}
	}
	if len(methods) == 0 {
		return nil, nil, errors.New("no SSH credentials: set ssh.private_key or ssh.private_key_file, or run an ssh-agent (SSH_AUTH_SOCK)")
	}
	return methods, closer, nil
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

// ExpandHome replaces a leading "~/" with the user's home directory.
func ExpandHome(p string) string { return expandHome(p) }

// clientConfig is the handshake configuration for user at addr (host:port):
// it offers only the host key algorithms known_hosts records for addr.
func (p *Pool) clientConfig(user, addr string, auth []ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              user,
		Auth:              auth,
		HostKeyCallback:   p.checker.Callback,
		HostKeyAlgorithms: p.checker.algorithms(addr),
		Timeout:           p.cfg.DialTimeout,
	}
}

// DialCount returns how many connections the pool has opened to each host
// (the bastion, when used, is counted under its own address).
func (p *Pool) DialCount() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.dials))
	for k, v := range p.dials {
		out[k] = v
	}
	return out
}

// Client returns the pooled connection to host, connecting if needed. While
// the host refuses or times out it retries with backoff until ctx ends.
// Authentication and host-key errors are returned at once.
func (p *Pool) Client(ctx context.Context, host string) (*ssh.Client, error) {
	p.mu.Lock()
	hc, ok := p.conns[host]
	if !ok {
		hc = &hostConn{}
		p.conns[host] = hc
	}
	p.mu.Unlock()

	hc.mu.Lock()
	defer hc.mu.Unlock()
	if c := hc.alive(); c != nil {
		return c, nil
	}
	backoff := 500 * time.Millisecond
	for {
		c, err := p.dial(ctx, host)
		if err == nil {
			hc.client = c
			p.mu.Lock()
			p.dials[host]++
			p.mu.Unlock()
			if p.cfg.OnDial != nil {
				p.cfg.OnDial(host)
			}
			return c, nil
		}
		if !retryable(err) {
			return nil, fmt.Errorf("ssh %s@%s: %w", p.cfg.User, host, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh %s@%s: %w (gave up: %v)", p.cfg.User, host, err, ctx.Err())
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

func retryable(err error) bool {
	if IsHostKeyError(err) {
		return false
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return false
	}
	return true
}

func (p *Pool) dial(ctx context.Context, host string) (*ssh.Client, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(p.cfg.Port))
	cc := p.clientConfig(p.cfg.User, addr, p.auth)
	if p.cfg.Bastion == nil {
		d := net.Dialer{Timeout: p.cfg.DialTimeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return handshake(ctx, conn, addr, cc)
	}
	b, err := p.bastionClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("bastion: %w", err)
	}
	conn, err := b.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("through bastion %s: %w", p.cfg.Bastion.Host, err)
	}
	return handshake(ctx, conn, addr, cc)
}

func handshake(ctx context.Context, conn net.Conn, addr string, cc *ssh.ClientConfig) (*ssh.Client, error) {
	deadline := time.Now().Add(cc.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cc)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func (p *Pool) bastionClient(ctx context.Context) (*ssh.Client, error) {
	p.mu.Lock()
	if p.bastion == nil {
		p.bastion = &hostConn{}
	}
	hc := p.bastion
	p.mu.Unlock()
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if c := hc.alive(); c != nil {
		return c, nil
	}
	b := *p.cfg.Bastion // user and port defaulted by New
	auth := p.auth
	if b.PrivateKey != "" || b.PrivateKeyFile != "" {
		var err error
		auth, _, err = authMethods(b, p.cfg.AgentSocket)
		if err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := handshake(ctx, conn, addr, p.clientConfig(b.User, addr, auth))
	if err != nil {
		return nil, err
	}
	hc.client = c
	p.mu.Lock()
	p.dials[b.Host]++
	p.mu.Unlock()
	return c, nil
}

// CommandError is a remote command that exited non-zero.
type CommandError struct {
	Host     string
	ExitCode int
	Stderr   string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("command on %s exited %d: %s", e.Host, e.ExitCode, strings.TrimSpace(e.Stderr))
}

// Run executes cmd on host through the pooled connection and returns its
// standard output. A non-zero exit gives a *CommandError. Secrets must be
// passed on stdin, never in cmd.
func (p *Pool) Run(ctx context.Context, host, cmd string, stdin []byte) ([]byte, error) {
	c, err := p.Client(ctx, host)
	if err != nil {
		return nil, err
	}
	s, err := c.NewSession()
	if err != nil {
		return nil, fmt.Errorf("ssh session on %s: %w", host, err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != nil {
		s.Stdin = bytes.NewReader(stdin)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		return nil, fmt.Errorf("command on %s: %w", host, ctx.Err())
	}
	if err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return out.Bytes(), &CommandError{Host: host, ExitCode: ee.ExitStatus(), Stderr: errb.String()}
		}
		return out.Bytes(), fmt.Errorf("command on %s: %w", host, err)
	}
	return out.Bytes(), nil
}

// HTTPClient returns an HTTP client whose connections are tunnelled through
// the SSH connection to host (direct-tcpip), so addresses that only the node
// can reach (its REST port on its own address or 127.0.0.1) work from here.
func (p *Pool) HTTPClient(host string, timeout time.Duration) *http.Client {
	return p.HTTPSClient(host, timeout, nil)
}

// HTTPSClient is HTTPClient with the TLS configuration cfg for https URLs
// (nil: Go's defaults). The TLS session runs end to end between this
// process and the node's service, inside the SSH tunnel.
func (p *Pool) HTTPSClient(host string, timeout time.Duration, cfg *tls.Config) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := p.Client(ctx, host)
			if err != nil {
				return nil, err
			}
			return c.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
		MaxIdleConns:      0,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// SFTP opens an SFTP session on the pooled connection to host. Close it when done.
func (p *Pool) SFTP(ctx context.Context, host string) (*sftp.Client, error) {
	c, err := p.Client(ctx, host)
	if err != nil {
		return nil, err
	}
	return sftp.NewClient(c)
}

// Close closes every connection.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, hc := range p.conns {
		if hc.client != nil {
			hc.client.Close()
			hc.client = nil
		}
	}
	if p.bastion != nil && p.bastion.client != nil {
		p.bastion.client.Close()
	}
	if p.agentC != nil {
		p.agentC.Close()
	}
	return nil
}
