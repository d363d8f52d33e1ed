package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/sshclient"
)

// Settings are the SSH settings of the lab's hosts: the login user (root)
// with the lab's key only, and host keys pinned in the lab's known_hosts
// file with the strict policy (the lab records every key before boot).
func (f *File) Settings() sshclient.Settings {
	return sshclient.Settings{
		Endpoint:       sshclient.Endpoint{User: f.SSHUser, PrivateKeyFile: f.SSHPrivateKeyFile},
		KnownHostsFile: f.KnownHostsFile,
		HostKeyPolicy:  sshclient.PolicyStrict,
	}
}

// waitSSH waits, at most three minutes in all, until every host accepts the
// lab key over SSH with its pinned host key and systemd reports the system
// running (or degraded).
func waitSSH(ctx context.Context, o *Options, f *File) error {
	// No ssh-agent (a socket that cannot be dialled): only the lab key logs in.
	pool, err := sshclient.New(sshclient.Config{Settings: f.Settings(), AgentSocket: os.DevNull, DialTimeout: 3 * time.Second})
	if err != nil {
		return err
	}
	defer pool.Close()
	deadline := time.Now().Add(3 * time.Minute)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, h := range f.Hosts {
		for {
			state, err := probe(pctx, pool, h.Address)
			if err == nil && (state == "running" || state == "degraded") {
				if state == "degraded" {
					o.logf("%s is up but degraded", h.Name)
				}
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s (%s) did not come up in time: state %q, %v; see %s", h.Name, h.Address, state, err,
					filepath.Join(hostDir(o, h.Name), "console.log"))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// probe returns what `systemctl is-system-running --wait` prints on the
// host; its exit code (non-zero when degraded) does not matter.
func probe(ctx context.Context, pool *sshclient.Pool, addr string) (string, error) {
	out, err := pool.Run(ctx, addr, "systemctl is-system-running --wait", nil)
	var ce *sshclient.CommandError
	if errors.As(err, &ce) {
		err = nil
	}
	return strings.TrimSpace(string(out)), err
}
