// Package secrets generates the provider's passwords and random
// identifiers from crypto/rand, and hashes PostgreSQL passwords into
// SCRAM-SHA-256 verifiers so a plaintext never has to reach a server.
package secrets

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
)

const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// GeneratePassword returns n characters from crypto/rand over an
// unambiguous alphanumeric alphabet (about 5.8 bits each; n=32 gives ~187
// bits). It fails only when the system's random source does.
func GeneratePassword(n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		x, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", err
		}
		b[i] = passwordAlphabet[x.Int64()]
	}
	return string(b), nil
}

// ClusterID returns "<name>-<12 hex digits>", the unique id of one cluster
// resource, written to every node's marker.
func ClusterID(name string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return name + "-" + hex.EncodeToString(b)
}

// UUID returns a random (version 4) UUID in its canonical text form.
func UUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ScramVerifier returns the PostgreSQL SCRAM-SHA-256 verifier of password
// (RFC 7677, 4096 iterations, 16-byte random salt), in the form PostgreSQL
// accepts in ALTER ROLE ... PASSWORD.
func ScramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, 4096)
}

func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, enc(salt), enc(stored[:]), enc(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
