package bpf

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// skipIfRefused skips when the kernel refuses BPF (no privilege, old
// kernel); any other error fails.
func skipIfRefused(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		t.Fatalf("verifier rejected the program: %+v", ve)
	}
	if errors.Is(err, ebpf.ErrNotSupported) || isPermission(err) {
		t.Skipf("kernel refused BPF: %v", err)
	}
	t.Fatal(err)
}

func TestFilterLoadAndMaps(t *testing.T) {
	f, err := NewFilter(FilterOptions{Ports: []uint16{1883, 1884}, MaxFlows: 128, MaxSources: 128})
	skipIfRefused(t, err)
	defer f.Close()
	if f.FD() <= 0 {
		t.Fatalf("FD = %d", f.FD())
	}
	if err := f.AddPort(1885); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stats()
	if err != nil || st != (FilterStats{}) {
		t.Fatalf("Stats = %+v, %v; want zero", st, err)
	}
	n, err := f.SourceCounts(nil)
	if err != nil || len(n) != 0 {
		t.Fatalf("SourceCounts = %v, %v; want none", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.AddPort(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddPort after Close = %v, want ErrClosed", err)
	}
}
