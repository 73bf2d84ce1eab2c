//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// oNoFollow makes an open fail on a symbolic link: a segment or cursor
// swapped for a link must not make the sensor write through it.
const oNoFollow = syscall.O_NOFOLLOW

// ErrInsecureDir is returned by Open for a spool directory another user
// could write to or replace.
var ErrInsecureDir = errors.New("insecure spool directory")

// checkDir refuses a spool directory that is a symbolic link, is not owned
// by the effective user or is writable by group or others, and one with an
// ancestor that someone but the effective user or root owns or that others
// may write to without the sticky bit (they could rename the spool away and
// put their own in its place).
func checkDir(dir string) error {
	euid := uint32(os.Geteuid())
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("spool %s: %w: a symbolic link", dir, ErrInsecureDir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("spool %s: %w: not a directory", dir, ErrInsecureDir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != euid {
		return fmt.Errorf("spool %s: %w: owned by uid %d, not by uid %d that runs mqttids", dir, ErrInsecureDir, st.Uid, euid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("spool %s: %w: mode %v is writable by group or others (want 0700)", dir, ErrInsecureDir, fi.Mode().Perm())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for p := parent; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Uid != euid && st.Uid != 0 {
				return fmt.Errorf("spool %s: %w: its parent %s is owned by uid %d", dir, ErrInsecureDir, p, st.Uid)
			}
			if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
				return fmt.Errorf("spool %s: %w: its parent %s (mode %v) is writable by group or others", dir, ErrInsecureDir, p, fi.Mode().Perm())
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// syncDir makes a file created, renamed or removed in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

// stateDirOwned reports whether dir exists (through links) and belongs to
// the effective user.
func stateDirOwned(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uint32(os.Geteuid())
}
