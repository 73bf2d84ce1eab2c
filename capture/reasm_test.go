package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// recSink records delivered bytes, gaps as "[gap N]".
type recSink struct {
	b         bytes.Buffer
	conflicts int
}

func (r *recSink) deliver(d []byte) { r.b.Write(d) }
func (r *recSink) gap(n int)        { fmt.Fprintf(&r.b, "[gap %d]", n) }
func (r *recSink) overlap()         { r.conflicts++ }

type seg struct {
	seq  uint32
	data string
	fin  bool
}

func newLimits(maxFlow, maxTotal int) *reasmLimits {
	var total int
	var dropped uint64
	var dropBy [dropReasons]uint64
	return &reasmLimits{maxFlow: maxFlow, maxTotal: maxTotal, maxSegs: maxOOOSegments, total: &total, pool: &segPool{}, dropped: &dropped, dropBy: &dropBy}
}

func TestReassembly(t *testing.T) {
	const isn = 0xfffffff0 // sequence numbers wrap inside the stream
	tests := []struct {
		name     string
		maxFlow  int
		segs     []seg
		want     string
		finDone  bool
		buffered int
	}{
		{name: "in order", segs: []seg{{isn, "abc", false}, {isn + 3, "def", false}}, want: "abcdef"},
		{name: "out of order", segs: []seg{{isn, "ab", false}, {isn + 4, "ef", false}, {isn + 2, "cd", false}}, want: "abcdef"},
		{name: "reverse", segs: []seg{{isn, "a", false}, {isn + 3, "d", false}, {isn + 2, "c", false}, {isn + 1, "b", false}}, want: "abcd"},
		{name: "retransmission of delivered bytes ignored", segs: []seg{{isn, "abcd", false}, {isn, "XXXX", false}, {isn + 2, "XXef", false}}, want: "abcdef"},
		{name: "overlap of buffered bytes: first seen wins", segs: []seg{{isn, "a", false}, {isn + 2, "cd", false}, {isn + 1, "BXXe", false}}, want: "aBcde"},
		{name: "buffered segment covered by a longer one", segs: []seg{{isn, "a", false}, {isn + 3, "d", false}, {isn + 2, "CDEF", false}, {isn + 1, "b", false}}, want: "abCdEF"},
		{name: "byte by byte", segs: []seg{{isn, "a", false}, {isn + 1, "b", false}, {isn + 2, "c", false}}, want: "abc"},
		{name: "fin after data", segs: []seg{{isn, "ab", false}, {isn + 2, "", true}}, want: "ab", finDone: true},
		{name: "fin before missing data", segs: []seg{{isn, "a", false}, {isn + 2, "c", true}}, want: "a", buffered: 1},
		{name: "fin after hole filled", segs: []seg{{isn, "a", false}, {isn + 2, "c", true}, {isn + 1, "b", false}}, want: "abc", finDone: true},
		{name: "cap: hole given up", maxFlow: segBufSize(4) + segOverhead, segs: []seg{{isn, "a", false}, {isn + 3, "dddd", false}, {isn + 7, "e", false}}, want: "a[gap 2]dddde"},
		{name: "cap: oversize segment delivered after a gap", maxFlow: 2, segs: []seg{{isn, "a", false}, {isn + 5, "fghij", false}}, want: "a[gap 4]fghij"},
		{name: "old segment far behind ignored", segs: []seg{{isn, "ab", false}, {isn - 1000, "zz", false}}, want: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxFlow := tt.maxFlow
			if maxFlow == 0 {
				maxFlow = 1 << 20
			}
			lim := newLimits(maxFlow, 1<<30)
			var h half
			var out recSink
			for _, s := range tt.segs {
				h.segment(s.seq, []byte(s.data), s.fin, lim, &out)
			}
			if got := out.b.String(); got != tt.want {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
			if h.finDone != tt.finDone {
				t.Errorf("finDone %v, want %v", h.finDone, tt.finDone)
			}
			held, cost := 0, 0
			for i := range h.ooo {
				held += len(h.ooo[i].data)
				cost += cap(h.ooo[i].buf) + segOverhead
			}
			if held != tt.buffered || h.oooBytes != cost || *lim.total != cost {
				t.Errorf("buffered %d bytes costing %d (accounted %d, total %d), want %d bytes", held, cost, h.oooBytes, *lim.total, tt.buffered)
			}
			h.flush(&out, lim)
			h.release(lim)
			if *lim.total != 0 {
				t.Errorf("total %d after release", *lim.total)
			}
		})
	}
}

func TestReassemblyTotalCap(t *testing.T) {
	c := segBufSize(4) + segOverhead // what a small segment costs
	lim := newLimits(100*c, c+c/2)
	var a, b half
	var outA, outB recSink
	a.segment(0, []byte("x"), false, lim, &outA)
	a.segment(2, []byte("zzzz"), false, lim, &outA) // 4 buffered
	b.segment(0, []byte("x"), false, lim, &outB)
	b.segment(5, []byte("yyy"), false, lim, &outB) // over the total: b gives up its hole
	if got := outB.b.String(); got != "x[gap 4]yyy" {
		t.Errorf("b delivered %q", got)
	}
	if *lim.total != c {
		t.Errorf("total %d, want %d", *lim.total, c)
	}
}

// TestReassemblyPermutations is the property test: any permutation and
// duplication of a stream's segments within the buffer yields the stream.
func TestReassemblyPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for iter := 0; iter < 2000; iter++ {
		n := 1 + rng.IntN(300)
		stream := make([]byte, n)
		for i := range stream {
			stream[i] = byte(rng.IntN(256))
		}
		isn := rng.Uint32()
		var segs []seg
		for off := 0; off < n; {
			l := 1 + rng.IntN(min(40, n-off))
			segs = append(segs, seg{isn + uint32(off), string(stream[off : off+l]), false})
			off += l
		}
		// The first segment stays first (it defines the start mid-stream).
		rest := segs[1:]
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		for k := rng.IntN(4); k > 0; k-- {
			d := segs[rng.IntN(len(segs))]
			// a duplicate may also be a sub-range of the original
			lo := rng.IntN(len(d.data))
			segs = append(segs, seg{d.seq + uint32(lo), d.data[lo:], false})
		}
		rng.Shuffle(len(segs)-1, func(i, j int) { segs[i+1], segs[j+1] = segs[j+1], segs[i+1] })
		lim := newLimits(1<<20, 1<<30)
		var h half
		var out recSink
		for _, s := range segs {
			h.segment(s.seq, []byte(s.data), false, lim, &out)
		}
		if !bytes.Equal(out.b.Bytes(), stream) {
			t.Fatalf("iteration %d: delivered %d bytes, want %d (segments %d)", iter, out.b.Len(), n, len(segs))
		}
		if *lim.total != 0 {
			t.Fatalf("iteration %d: %d bytes still buffered", iter, *lim.total)
		}
	}
}

func TestSegPool(t *testing.T) {
	var p segPool
	b := p.get(300)
	if len(b) != 512 {
		t.Fatalf("len %d, want 512", len(b))
	}
	p.put(b)
	if c := p.get(400); &c[0] != &b[0] {
		t.Error("buffer not reused")
	}
	if big := p.get(1 << 20); len(big) != 1<<20 {
		t.Errorf("len %d", len(big))
	}
}

// TestReassemblyReversedBounded: one-byte segments in reverse order behind
// a hole (issue 12, item 2). Before, all 4,999 were buffered (and each
// insertion walked and moved the whole buffer); now at most
// maxOOOSegments (1024) are held, the hole before them is given up as a
// gap and the rest, now behind the stream, are ignored.
func TestReassemblyReversedBounded(t *testing.T) {
	const n = 5000
	lim := newLimits(1<<30, 1<<30)
	var h half
	var out recSink
	h.segment(0, []byte{'x'}, false, lim, &out)
	most := 0
	for k := n - 1; k >= 1; k-- {
		h.segment(uint32(k), []byte{'x'}, false, lim, &out)
		most = max(most, len(h.ooo))
	}
	if most > 1024 {
		t.Fatalf("%d segments buffered in one direction, want at most 1024", most)
	}
	want := "x[gap 3975]" + strings.Repeat("x", 1024)
	if got := out.b.String(); got != want {
		t.Errorf("delivered %.40q… (%d bytes), want %.40q… (%d bytes)", got, len(got), want, len(want))
	}
}

// TestReassemblyDropReasons checks the drop counters by cap.
func TestReassemblyDropReasons(t *testing.T) {
	lim := newLimits(1<<30, 1<<30)
	lim.maxSegs = 3
	var h half
	var out recSink
	h.segment(0, []byte("a"), false, lim, &out)
	for _, k := range []uint32{9, 7, 5, 3} { // the 4th buffered segment is one too many
		h.segment(k, []byte("z"), false, lim, &out)
	}
	if *lim.dropped != 1 || lim.dropBy[dropSegments] != 1 {
		t.Errorf("dropped %d, by segments %d; want 1, 1", *lim.dropped, lim.dropBy[dropSegments])
	}
	// the hole before 5 given up: 5 delivered, 7 and 9 still buffered
	if got := out.b.String(); got != "a[gap 4]z" {
		t.Errorf("delivered %q", got)
	}
	if len(h.ooo) != 2 {
		t.Errorf("%d segments still buffered, want 2", len(h.ooo))
	}
}

// TestReassemblyWindow drives insertAt's double-ended window through
// inserts at the front, the back and the middle against a plain sorted
// slice.
func TestReassemblyWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 200; iter++ {
		lim := newLimits(1<<30, 1<<30)
		lim.maxSegs = 1 << 20
		var h half
		var out recSink
		h.segment(0, []byte("a"), false, lim, &out)
		var want []uint32
		used := map[uint32]bool{}
		for k := 0; k < 300; k++ {
			var s uint32
			switch rng.IntN(3) {
			case 0:
				s = 2 + uint32(rng.IntN(100000))*2
			case 1:
				s = 2 + uint32(k)*2
			default:
				s = 200000 - uint32(k)*2
			}
			if used[s] {
				continue
			}
			used[s] = true
			h.segment(s, []byte("b"), false, lim, &out)
			i, _ := slices.BinarySearch(want, s)
			want = slices.Insert(want, i, s)
			var got []uint32
			for _, sg := range h.ooo {
				got = append(got, sg.seq)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("iteration %d step %d: buffered %v, want %v", iter, k, got, want)
			}
		}
		h.release(lim)
		if *lim.total != 0 {
			t.Fatalf("total %d after release", *lim.total)
		}
	}
}

// TestReassemblyMemoryCap: the caps count the memory held, not payload
// bytes (issue 12, item 3). 400 directions each get 1,000 one-byte
// segments in reverse order behind a hole, under an 8 MiB total cap.
// Before, 399,600 bytes were accounted for ~125 MB of buffers and
// bookkeeping; now the heap held stays within the cap (plus the pool's
// bounded free lists), and the accounting equals the buffers' capacity
// plus the per-segment overhead.
func TestReassemblyMemoryCap(t *testing.T) {
	const flows, segs, maxTotal = 400, 1000, 8 << 20
	lim := newLimits(1<<30, maxTotal)
	halves := make([]half, flows)
	var out recSink
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for f := range halves {
		h := &halves[f]
		h.segment(0, []byte{'x'}, false, lim, &out)
		for k := segs; k >= 2; k-- {
			h.segment(uint32(k), []byte{'x'}, false, lim, &out)
		}
		out.b.Reset()
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	held := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	const slack = segMaxFreeBytes + 1<<20 // the pool's free lists, the halves themselves
	if held > maxTotal+slack {
		t.Errorf("heap grew by %d bytes, want at most %d (the %d-byte cap plus %d)", held, maxTotal+slack, maxTotal, slack)
	}
	sum := 0
	for f := range halves {
		h := &halves[f]
		for i := range h.ooo {
			sum += cap(h.ooo[i].buf) + segOverhead
		}
		if len(h.back) > 4*len(h.ooo) && len(h.back) > 16 {
			t.Fatalf("flow %d: window of %d slots for %d segments", f, len(h.back), len(h.ooo))
		}
	}
	if sum != *lim.total || sum > maxTotal {
		t.Errorf("buffers and bookkeeping %d bytes, accounted %d, cap %d", sum, *lim.total, maxTotal)
	}
	t.Logf("heap +%d bytes, accounted %d, cap %d", held, *lim.total, maxTotal)
	runtime.KeepAlive(halves)
}

// TestReassemblyOverlapConflicts: a segment whose overlap with buffered
// bytes differs is reported once (issue 12, item 5); identical
// retransmissions and new bytes are not.
func TestReassemblyOverlapConflicts(t *testing.T) {
	lim := newLimits(1<<20, 1<<30)
	var h half
	var out recSink
	h.segment(0, []byte("a"), false, lim, &out)
	h.segment(2, []byte("cdef"), false, lim, &out)
	h.segment(2, []byte("cdef"), false, lim, &out) // identical copy
	h.segment(4, []byte("efgh"), false, lim, &out) // agrees, adds "gh"
	if out.conflicts != 0 || h.conflicts != 0 {
		t.Fatalf("%d conflicts for agreeing copies", out.conflicts)
	}
	h.segment(3, []byte("XYZW"), false, lim, &out) // differs over 3 buffered ranges: one conflict
	h.segment(9, []byte("i"), false, lim, &out)
	h.segment(8, []byte("HI"), false, lim, &out) // "H" new, "I" differs
	if out.conflicts != 2 || h.conflicts != 2 {
		t.Errorf("%d conflicts (half %d), want 2", out.conflicts, h.conflicts)
	}
	h.segment(1, []byte("b"), false, lim, &out)
	if got := out.b.String(); got != "abcdefghHi" {
		t.Errorf("delivered %q, want first seen bytes", got)
	}
}
