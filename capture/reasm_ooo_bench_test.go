package capture

import "testing"

// BenchmarkReasmReversed feeds one direction 100,000 one-byte segments in
// reverse order after a first in-order byte (issue 12, item 2: the hole
// stays open until a cap gives it up, every later segment lands in front
// of the buffered ones). Uncapped lifts the segment count cap to show the
// insertion itself (binary search, double-ended window):
//
//	go test ./capture -run '^$' -bench ReasmReversed -benchtime 1x -benchmem
//
// Measured on the shared 2-core machine (2026-12-01), one pass each:
// before (sorted slice walked and memmoved per insert, no count cap)
// 96.5 s/op, 58.2 MB/op, 100,064 allocs/op; after 1.36 ms/op, 0.56 MB/op,
// 1,056 allocs/op (≈ 71,000× faster; the count cap gives the hole up
// after 1,024 segments and the rest fall behind the stream); Uncapped,
// all 100,000 buffered, ≈ 40 ms/op.
func BenchmarkReasmReversed(b *testing.B) { benchReversed(b, maxOOOSegments) }

func BenchmarkReasmReversedUncapped(b *testing.B) { benchReversed(b, 1<<30) }

func benchReversed(b *testing.B, maxSegs int) {
	const n = 100_000
	payload := []byte{'x'}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		lim := newLimits(1<<30, 1<<30)
		lim.maxSegs = maxSegs
		var h half
		var out recSink
		h.segment(0, payload, false, lim, &out)
		for k := n; k > 1; k-- {
			h.segment(uint32(k), payload, false, lim, &out)
		}
		h.flush(&out, lim)
		h.release(lim)
	}
}
