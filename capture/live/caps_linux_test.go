package live

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDropCapabilities builds testdata/dropcaps with CGO_ENABLED=0 (Go
// refuses all-thread syscalls in a cgo binary, and the test binary may link
// cgo) and runs it as root.
func TestDropCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to have capabilities to drop")
	}
	if testing.Short() {
		t.Skip("builds a helper binary")
	}
	bin := filepath.Join(t.TempDir(), "dropcaps")
	build := exec.Command("go", "build", "-o", bin, "./testdata/dropcaps")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build helper: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	got := string(out)
	// CAP_NET_RAW is bit 13: 0x2000.
	for _, want := range []string{
		"CapInh:\t0000000000000000",
		"CapPrm:\t0000000000002000",
		"CapEff:\t0000000000002000",
		"CapBnd:\t0000000000002000",
		"CapAmb:\t0000000000000000",
		"raw socket after: ok",
		"bind port 1: refused",
		"rcvbufforce: refused",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("helper output lacks %q:\n%s", want, got)
		}
	}
}
