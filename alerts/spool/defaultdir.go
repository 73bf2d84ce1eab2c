package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

// StateDir is the service's state directory (StateDirectory=mqttids in
// docs/deploy/mqttids.service).
const StateDir = "/var/lib/mqttids"

// DefaultDir is the base folder of the spools when none is configured:
// StateDir/spool when StateDir belongs to the effective user (the unit's
// DynamicUser) or, as root, when its parent exists (Open creates it, 0700);
// otherwise the user's cache directory, os.UserCacheDir()/mqttids/spool.
// Never a shared temporary directory, where another user could prepare the
// folder first. It creates nothing.
func DefaultDir() (string, error) {
	return defaultDir(StateDir, os.Geteuid() == 0)
}

func defaultDir(state string, root bool) (string, error) {
	if stateDirOwned(state) {
		return filepath.Join(state, "spool"), nil
	}
	if root {
		if _, err := os.Lstat(state); os.IsNotExist(err) {
			if fi, err := os.Stat(filepath.Dir(state)); err == nil && fi.IsDir() {
				return filepath.Join(state, "spool"), nil
			}
		}
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("spool: no default directory (%w): set --output-spool-dir", err)
	}
	return filepath.Join(c, "mqttids", "spool"), nil
}
