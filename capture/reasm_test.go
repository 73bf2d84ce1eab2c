package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// recSink records delivered bytes, gaps as "[gap N]".
type recSink struct{ b bytes.Buffer }

func (r *recSink) deliver(d []byte) { r.b.Write(d) }
func (r *recSink) gap(n int)        { fmt.Fprintf(&r.b, "[gap %d]", n) }

type seg struct {
	seq  uint32
	data string
	fin  bool
}

func newLimits(maxFlow, maxTotal int) *reasmLimits {
	var total int
	var dropped uint64
	return &reasmLimits{maxFlow: maxFlow, maxTotal: maxTotal, total: &total, pool: &segPool{}, dropped: &dropped}
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
		{name: "cap: hole given up", maxFlow: 4, segs: []seg{{isn, "a", false}, {isn + 3, "dddd", false}, {isn + 7, "e", false}}, want: "a[gap 2]dddde"},
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
			if h.oooBytes != tt.buffered || *lim.total != tt.buffered {
				t.Errorf("buffered %d (total %d), want %d", h.oooBytes, *lim.total, tt.buffered)
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
	lim := newLimits(100, 6)
	var a, b half
	var outA, outB recSink
	a.segment(0, []byte("x"), false, lim, &outA)
	a.segment(2, []byte("zzzz"), false, lim, &outA) // 4 buffered
	b.segment(0, []byte("x"), false, lim, &outB)
	b.segment(5, []byte("yyy"), false, lim, &outB) // over the total: b gives up its hole
	if got := outB.b.String(); got != "x[gap 4]yyy" {
		t.Errorf("b delivered %q", got)
	}
	if *lim.total != 4 {
		t.Errorf("total %d, want 4", *lim.total)
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
