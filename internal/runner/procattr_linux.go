package runner

import "syscall"

// procAttr starts ansible-playbook in its own process group (so a cancel
// kills its ssh children too) and has the kernel kill it with SIGKILL when
// the provider dies, even by kill -9.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
