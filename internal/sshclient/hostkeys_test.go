package sshclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// A host with an ed25519 and an ECDSA key, recorded in known_hosts by one
// of them only: the client asks for that type and connects, whichever it is.
func TestOffersOnlyRecordedKeyTypes(t *testing.T) {
	key, pub, dir := setup(t)
	edKey, _ := newSigner(t)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ssh.NewSignerFromKey(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "127.0.0.1:0", pub, edKey, ecKey)
	for _, recorded := range []ssh.Signer{edKey, ecKey} {
		kh := knownHostsFor(t, dir, srv.port(), recorded.PublicKey())
		pool, err := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv.port()}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = pool.Client(ctx, "127.0.0.1")
		cancel()
		pool.Close()
		if err != nil {
			t.Fatalf("known_hosts records only the %s key: %v", recorded.PublicKey().Type(), err)
		}
	}
}

func TestAlgorithmsFor(t *testing.T) {
	if got := algorithmsFor(ssh.KeyAlgoRSA); strings.Join(got, ",") != "rsa-sha2-512,rsa-sha2-256,ssh-rsa" {
		t.Errorf("rsa: %v", got)
	}
	if got := algorithmsFor(ssh.KeyAlgoED25519); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Errorf("ed25519: %v", got)
	}
}

// Under strict, a known_hosts file that is missing or malformed fails at
// once with the file named, not after retrying until the deadline.
func TestStrictBadKnownHostsFailsAtOnce(t *testing.T) {
	key, pub, dir := setup(t)
	hostKey, _ := newSigner(t)
	srv := startServer(t, "127.0.0.1:0", pub, hostKey)
	malformed := filepath.Join(dir, "malformed")
	mustWrite(t, malformed, "127.0.0.1 ssh-ed25519 not-base64!!\n")
	for _, kh := range []string{filepath.Join(dir, "missing"), malformed} {
		pool, err := New(Config{Settings: Settings{Endpoint: Endpoint{PrivateKey: string(key), Port: srv.port()}, KnownHostsFile: kh}, AgentSocket: "/nonexistent"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err = pool.Client(ctx, "127.0.0.1")
		cancel()
		pool.Close()
		var khErr *KnownHostsError
		if !errors.As(err, &khErr) || !strings.Contains(err.Error(), kh) {
			t.Fatalf("%s: want a known_hosts error naming the file, got %v", filepath.Base(kh), err)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("%s: took %s: it retried", filepath.Base(kh), time.Since(start))
		}
	}
}

// Two processes (two checkers on one file) recording the same new host at
// once write one line between them.
func TestAcceptNewAppendsOnce(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	hostKey, _ := newSigner(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		c, err := newHostKeyChecker(kh, PolicyAcceptNew)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Callback("10.0.0.5:22", &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 22}, hostKey.PublicKey())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Fatalf("want 1 line, got %d:\n%s", n, data)
	}
}
