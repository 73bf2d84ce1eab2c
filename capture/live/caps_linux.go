package live

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// DropCapabilities keeps only the capabilities in keep (unix.CAP_*) in the
// effective, permitted and inheritable sets of every thread of the
// process, clears the ambient set and, when CAP_SETPCAP is held, the
// bounding set too (so an exec cannot regain them). Call it once the
// sockets are open, the programs loaded and attached: what is open stays
// usable. Typical keep sets: none for a sensor that only reads; CAP_BPF to
// keep updating maps is not needed for maps already open.
//
// Capabilities are per thread, so every change is made on all threads at
// once, through libcap's psx: without cgo it is syscall.AllThreadsSyscall;
// with cgo, which Go refuses AllThreadsSyscall (ENOTSUP), psx's C side
// interrupts every thread of the combined Go and C runtimes to make the
// same call. The result does not depend on the build mode.
func DropCapabilities(keep ...int) error {
	var mask [2]uint32
	for _, c := range keep {
		if c < 0 || c >= 64 {
			return fmt.Errorf("drop capabilities: capability %d out of range", c)
		}
		mask[c/32] |= 1 << (uint(c) % 32)
	}
	// The bounding set first: dropping from it needs CAP_SETPCAP, which
	// the capset below removes.
	if hasCap(unix.CAP_SETPCAP) {
		for c := 0; c <= unix.CAP_LAST_CAP; c++ {
			if mask[c/32]&(1<<(uint(c)%32)) != 0 {
				continue
			}
			_, _, e := psx.Syscall3(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0)
			if e != 0 && e != unix.EINVAL { // EINVAL: capability unknown to this kernel
				return fmt.Errorf("drop capabilities: bounding set cap %d: %w", c, e)
			}
		}
	}
	_, _, e := psx.Syscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0)
	if e != 0 && e != unix.EINVAL {
		return fmt.Errorf("drop capabilities: clear ambient: %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop capabilities: capget: %w", err)
	}
	for i := range data {
		data[i].Effective &= mask[i]
		data[i].Permitted &= mask[i]
		data[i].Inheritable &= mask[i]
	}
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	_, _, e = psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if e != 0 {
		return fmt.Errorf("drop capabilities: capset: %w", e)
	}
	return nil
}

func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}
