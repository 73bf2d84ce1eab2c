//go:build !unix

package spool

import (
	"errors"
	"os"
)

// oNoFollow: no such flag here.
const oNoFollow = 0

// ErrInsecureDir is returned by Open for a spool directory another user
// could write to or replace (only checked on Unix).
var ErrInsecureDir = errors.New("insecure spool directory")

// checkDir checks only that dir is a directory: ownership and modes are
// Unix notions.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("spool " + dir + ": not a directory")
	}
	return nil
}

func syncDir(string) error { return nil }

func stateDirOwned(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}
