package detect

import (
	"testing"
	"time"
)

func TestPeerQuantiles(t *testing.T) {
	var p peerDist
	now := int64(time.Hour)
	if q := p.quantile(false, true, now); q != 0 {
		t.Fatalf("empty distribution: %v", q)
	}
	for i := range 1000 { // 990 keys at 10/s, 10 at 1000/s
		v := uint32(10)
		if i%100 == 0 {
			v = 1000
		}
		p.add(v, v*50, now)
	}
	for _, tc := range []struct {
		bytes, q99 bool
		lo, hi     float64
	}{
		{false, false, 10, 10 * 1.25},
		{false, true, 10, 10 * 1.25}, // exactly 1 % is not above the 99th percentile
		{true, false, 500, 500 * 1.25},
	} {
		if q := p.quantile(tc.bytes, tc.q99, now); q < tc.lo || q > tc.hi {
			t.Errorf("bytes=%v q99=%v: %v, want %v..%v", tc.bytes, tc.q99, q, tc.lo, tc.hi)
		}
	}
	for range 20 {
		p.add(1000, 1000, now)
	}
	if q := p.quantile(false, true, now+int64(time.Second)); q < 1000 || q > 1250 {
		t.Errorf("after 2%% at 1000/s: p99 %v", q)
	}
	// 30 min later every slice has expired.
	if q := p.quantile(false, true, now+int64(31*time.Minute)); q != 0 {
		t.Errorf("expired samples still count: %v", q)
	}
}

func TestPeerBins(t *testing.T) {
	prev := 0
	for v := uint32(1); v < 1<<31; v += v/7 + 1 {
		b := peerBin(v)
		if b < prev {
			t.Fatalf("bin of %d is %d, below the bin of a smaller count", v, b)
		}
		prev = b
		if up := peerBinValue(b); float64(v) >= up || up > 1.25*float64(v)+0.25 {
			t.Fatalf("count %d in bin %d with upper edge %v", v, b, up)
		}
	}
}
