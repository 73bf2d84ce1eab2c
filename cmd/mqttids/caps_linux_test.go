package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDropCapabilitiesEveryBuild is issue 12 item 13: a plain go build
// (cgo on) kept every capability after start-up ("keeping capabilities":
// Go refuses all-thread syscalls with cgo). capture/live's dropcaps helper
// and capthreads (every thread, and one started after the drop) are built
// with and without cgo; both must end with only CAP_NET_RAW on every thread.
func TestDropCapabilitiesEveryBuild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to have capabilities to drop")
	}
	if testing.Short() {
		t.Skip("builds helper binaries")
	}
	for _, cgo := range []string{"0", "1"} {
		t.Run("CGO_ENABLED="+cgo, func(t *testing.T) {
			if cgo == "1" {
				if _, err := exec.LookPath("gcc"); err != nil {
					t.Skip("no C compiler")
				}
			}
			dir := t.TempDir()
			for _, h := range []struct{ name, pkg string }{
				{"dropcaps", "mqttids/capture/live/testdata/dropcaps"},
				{"capthreads", "mqttids/cmd/mqttids/testdata/capthreads"},
			} {
				bin := filepath.Join(dir, h.name)
				build := exec.Command("go", "build", "-o", bin, h.pkg)
				build.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
				if out, err := build.CombinedOutput(); err != nil {
					t.Fatalf("build %s: %v\n%s", h.name, err, out)
				}
			}
			out, err := exec.Command(filepath.Join(dir, "dropcaps")).CombinedOutput()
			if err != nil {
				t.Fatalf("dropcaps: %v\n%s", err, out)
			}
			// CAP_NET_RAW is bit 13: 0x2000.
			for _, want := range []string{
				"CapInh:\t0000000000000000", "CapPrm:\t0000000000002000", "CapEff:\t0000000000002000",
				"CapBnd:\t0000000000002000", "CapAmb:\t0000000000000000",
				"raw socket after: ok", "bind port 1: refused", "rcvbufforce: refused",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("dropcaps lacks %q:\n%s", want, out)
				}
			}
			out, err = exec.Command(filepath.Join(dir, "capthreads")).CombinedOutput()
			if err != nil {
				t.Fatalf("capthreads: %v\n%s", err, out)
			}
			t.Logf("capthreads:\n%s", out)
			only := "CapPrm: 0000000000002000 CapEff: 0000000000002000"
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if strings.Contains(l, "Cap") && !strings.HasSuffix(l, only) {
					t.Errorf("a thread keeps more than CAP_NET_RAW: %s", l)
				}
			}
			if !strings.Contains(string(out), "new thread: "+only) {
				t.Errorf("no report of a thread started after the drop:\n%s", out)
			}
		})
	}
}
