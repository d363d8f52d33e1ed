//go:build !linux

package runner

import "syscall"

// procAttr starts ansible-playbook in its own process group (so a cancel
// kills its ssh children too). Outside Linux there is no parent-death
// signal: a provider killed with kill -9 leaves its run to finish alone
// (main's exitWithParent still ends a provider whose Terraform is gone).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
