package lab

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// options rebuilds the Options a lab was booted with from its lab.json.
func (f *File) options() (*Options, error) {
	if f.dir == "" {
		return nil, fmt.Errorf("this lab file was not read with Load, so its directory is unknown")
	}
	if f.Bridge == "" {
		return nil, fmt.Errorf("%s/lab.json records no bridge (written before power control existed): run make lab-up again", f.dir)
	}
	o := &Options{Dir: f.dir, Bridge: f.Bridge, MachinePrefix: f.MachinePrefix, Log: io.Discard}
	o.defaults()
	return o, nil
}

func (f *File) host(name string) (Host, error) {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("the lab has no host %q", name)
}

// PowerOff cuts a host's power. First its link on the bridge goes down, so
// its peers hear nothing more from it (no FIN, no RST: they must time out,
// as after a real power cut); then its container's init is killed with
// SIGKILL, which kills every process in the container at once, with no
// clean shutdown. Its disk (the overlay's upper layer) stays, so PowerOn
// boots it again with the data it had; writes a process had not synced are
// kept too, in the control host's page cache, which a real cut would lose.
// It waits until the host's systemd-nspawn has exited.
func (f *File) PowerOff(name string) error {
	o, err := f.options()
	if err != nil {
		return err
	}
	if _, err := f.host(name); err != nil {
		return err
	}
	pid := running(o, name)
	if pid == 0 {
		return fmt.Errorf("%s is not running", name)
	}
	init, err := containerInit(pid)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	iface := "vb-" + o.MachinePrefix + name
	if len(iface) > 15 { // systemd-nspawn truncates the host-side veth name to IFNAMSIZ-1
		iface = iface[:15]
	}
	if out, err := exec.Command("ip", "link", "set", iface, "down").CombinedOutput(); err != nil {
		return fmt.Errorf("%s: ip link set %s down: %v: %s", name, iface, err, out)
	}
	if err := syscall.Kill(init, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: killing its init (pid %d): %w", name, init, err)
	}
	for i := 0; i < 100 && running(o, name) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if running(o, name) > 0 {
		return fmt.Errorf("%s: systemd-nspawn (pid %d) is still running 10s after its init was killed", name, pid)
	}
	return nil
}

// PowerOn boots a powered-off host again on the disk it had, with the same
// identity and host key, and waits until its systemd reports running and
// SSH answers.
func (f *File) PowerOn(ctx context.Context, name string) error {
	o, err := f.options()
	if err != nil {
		return err
	}
	h, err := f.host(name)
	if err != nil {
		return err
	}
	if running(o, name) > 0 {
		return fmt.Errorf("%s is already running", name)
	}
	if err := boot(o, h); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	one := *f
	one.Hosts = []Host{h}
	return waitSSH(ctx, o, &one)
}

// Dir is the lab's state directory, where lab.json is.
func (f *File) Dir() string { return f.dir }
