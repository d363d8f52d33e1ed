package sshclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testServer is a small real SSH server on loopback: public-key auth,
// "exec" answering with the command text, and direct-tcpip forwarding.
type testServer struct {
	ln       net.Listener
	hostKey  ssh.Signer
	accepted atomic.Int32
}

func newSigner(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	return s, pem.EncodeToMemory(blk)
}

func startServer(t *testing.T, addr string, clientPub ssh.PublicKey, hostKey ssh.Signer, moreHostKeys ...ssh.Signer) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, hostKey: hostKey}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientPub.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	for _, k := range moreHostKeys {
		cfg.AddHostKey(k)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *testServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	s.accepted.Add(1)
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, _ := nc.Accept()
			go func() {
				for r := range creqs {
					// The fake server ignores write errors below: the
					// client may already have gone, and the test checks
					// what the client received.
					if r.Type != "exec" {
						_ = r.Reply(false, nil)
						continue
					}
					_ = r.Reply(true, nil)
					cmd := string(r.Payload[4:])
					_, _ = io.WriteString(ch, "ran: "+cmd)
					status := make([]byte, 4)
					binary.BigEndian.PutUint32(status, 0)
					_, _ = ch.SendRequest("exit-status", false, status)
					ch.Close()
				}
			}()
		case "direct-tcpip":
			var p struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip payload: "+err.Error()) // the client sees the rejection
				continue
			}
			target, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
			if err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, err.Error()) // the client sees the rejection
				continue
			}
			ch, creqs, _ := nc.Accept()
			go ssh.DiscardRequests(creqs)
			// Copy errors just end the forward, as in a real server.
			go func() { _, _ = io.Copy(ch, target); _ = ch.CloseWrite() }()
			go func() { _, _ = io.Copy(target, ch); target.Close() }()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "no") // the client sees the rejection
		}
	}
}

func (s *testServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func setup(t *testing.T) (clientKey []byte, clientPub ssh.PublicKey, dir string) {
	signer, pemKey := newSigner(t)
	return pemKey, signer.PublicKey(), t.TempDir()
}

func TestAcceptNewRecordsThenMismatchFails(t *testing.T) {
	key, pub, dir := setup(t)
	hostKey, _ := newSigner(t)
	srv := startServer(t, "127.0.0.1:0", pub, hostKey)
	kh := filepath.Join(dir, "known_hosts")
	pool, err := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv.port()}, KnownHostsFile: kh, HostKeyPolicy: PolicyAcceptNew}, AgentSocket: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pool.Run(context.Background(), "127.0.0.1", "hostname", nil)
	if err != nil || string(out) != "ran: hostname" {
		t.Fatalf("run: %q %v", out, err)
	}
	pool.Close()
	rec, _ := os.ReadFile(kh)
	if !strings.Contains(string(rec), "ssh-ed25519") {
		t.Fatalf("accept-new did not record the key: %q", rec)
	}

	// The same address now presents another key: always an error, naming
	// the host and both fingerprints, and never retried.
	srv.ln.Close()
	otherKey, _ := newSigner(t)
	srv2 := startServer(t, srv.ln.Addr().String(), pub, otherKey)
	pool2, _ := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv2.port()}, KnownHostsFile: kh, HostKeyPolicy: PolicyAcceptNew}, AgentSocket: "/nonexistent"})
	defer pool2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pool2.Client(ctx, "127.0.0.1")
	var mm *HostKeyMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("want a host key mismatch, got %v", err)
	}
	if mm.Presented != ssh.FingerprintSHA256(otherKey.PublicKey()) || mm.Recorded[0] != ssh.FingerprintSHA256(hostKey.PublicKey()) ||
		!strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("mismatch error lacks host or fingerprints: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("a mismatch must fail at once, not retry until the deadline")
	}
}

func TestStrictRejectsUnknownHost(t *testing.T) {
	key, pub, dir := setup(t)
	hostKey, _ := newSigner(t)
	srv := startServer(t, "127.0.0.1:0", pub, hostKey)
	kh := filepath.Join(dir, "known_hosts")
	mustWrite(t, kh, "")
	pool, _ := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv.port()}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
	defer pool.Close()
	_, err := pool.Client(context.Background(), "127.0.0.1")
	var uh *UnknownHostError
	if !errors.As(err, &uh) || !strings.Contains(err.Error(), "accept-new") {
		t.Fatalf("want an unknown-host error with the fix, got %v", err)
	}
	if rec, _ := os.ReadFile(kh); len(rec) != 0 {
		t.Fatal("strict must not record keys")
	}
}

func knownHostsFor(t *testing.T, dir string, port int, hostKey ssh.PublicKey) string {
	t.Helper()
	kh := filepath.Join(dir, "known_hosts")
	line := "[127.0.0.1]:" + strconv.Itoa(port) + " " + string(ssh.MarshalAuthorizedKey(hostKey))
	mustWrite(t, kh, line)
	return kh
}

// mustWrite writes data to path (mode 0600), failing the test on error.
func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOneConnectionPerHost(t *testing.T) {
	key, pub, dir := setup(t)
	hostKey, _ := newSigner(t)
	srv := startServer(t, "127.0.0.1:0", pub, hostKey)
	kh := knownHostsFor(t, dir, srv.port(), hostKey.PublicKey())
	pool, _ := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv.port()}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := pool.Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := pool.DialCount()["127.0.0.1"]; n != 1 || srv.accepted.Load() != 1 {
		t.Fatalf("20 concurrent commands opened %d connections (server saw %d), want 1", n, srv.accepted.Load())
	}
}

func TestRetriesWhileHostBoots(t *testing.T) {
	key, pub, dir := setup(t)
	hostKey, _ := newSigner(t)
	// Reserve a port, free it, and start the server on it a little later.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	kh := knownHostsFor(t, dir, port, hostKey.PublicKey())
	pool, _ := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: port}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
	defer pool.Close()
	go func() {
		time.Sleep(1200 * time.Millisecond)
		startServer(t, addr, pub, hostKey)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := pool.Run(ctx, "127.0.0.1", "true", nil); err != nil {
		t.Fatalf("no retry while the host was booting: %v", err)
	}
	// And a host that never comes gives up at the deadline.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	pool2, _ := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: 1}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
	if _, err := pool2.Client(ctx2, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("want a give-up error, got %v", err)
	}
}

func TestBastionAndPortForward(t *testing.T) {
	key, pub, dir := setup(t)
	bastionKey, _ := newSigner(t)
	targetKey, _ := newSigner(t)
	bastion := startServer(t, "127.0.0.1:0", pub, bastionKey)
	target := startServer(t, "127.0.0.1:0", pub, targetKey)
	kh := filepath.Join(dir, "known_hosts")
	mustWrite(t, kh,
		"[127.0.0.1]:"+strconv.Itoa(bastion.port())+" "+string(ssh.MarshalAuthorizedKey(bastionKey.PublicKey()))+
			"[127.0.0.1]:"+strconv.Itoa(target.port())+" "+string(ssh.MarshalAuthorizedKey(targetKey.PublicKey())))
	pool, err := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: target.port()}, KnownHostsFile: kh,
		Bastion: &Endpoint{Host: "127.0.0.1", Port: bastion.port()}}, AgentSocket: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	out, err := pool.Run(context.Background(), "127.0.0.1", "id", nil)
	if err != nil || string(out) != "ran: id" {
		t.Fatalf("through the bastion: %q %v", out, err)
	}
	if bastion.accepted.Load() != 1 || target.accepted.Load() != 1 {
		t.Fatalf("bastion saw %d, target %d connections", bastion.accepted.Load(), target.accepted.Load())
	}
	// HTTP through the target's connection (direct-tcpip), as Read does for Patroni.
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hl.Close()
	go func() {
		c, err := hl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		if _, err := c.Read(buf); err != nil {
			t.Errorf("fake HTTP server: reading the request: %v", err)
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"); err != nil {
			t.Errorf("fake HTTP server: writing the response: %v", err)
		}
	}()
	resp, err := pool.HTTPClient("127.0.0.1", 5*time.Second).Get("http://" + hl.Addr().String() + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("forwarded body %q", b)
	}
}
