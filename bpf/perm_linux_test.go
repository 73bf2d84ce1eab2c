package bpf

import (
	"errors"

	"github.com/cilium/ebpf"

	"golang.org/x/sys/unix"
)

func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

// refused says the kernel declined an operation (not a bug of ours).
func refused(err error) bool {
	return isPermission(err) || errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP)
}
