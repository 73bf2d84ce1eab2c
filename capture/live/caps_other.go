//go:build !linux

package live

// DropCapabilities returns ErrNotSupported: capabilities are Linux-only.
func DropCapabilities(keep ...int) error { return ErrNotSupported }
