package capture

import (
	"bytes"
	"unsafe"
)

// A purpose-built reassembler instead of gopacket's reassembly package:
// BenchmarkReasmGopacket (reasm_bench_test.go) runs the same frames
// through gopacket/reassembly + MQTT framing, and the whole capture
// pipeline (BenchmarkReplayWorkers1) is 1.4-1.8× faster with 0.02 instead
// of 1.04 allocations per packet (numbers in that benchmark's comment).
// gopacket copies every segment into its page cache and calls back through
// interfaces per segment; here in-order data — the common case — goes
// straight from the capture buffer to the framer without a copy, and only
// out-of-order segments are copied (into pooled buffers).
//
// Policy for overlapping data: the first bytes seen for a sequence range
// win (Suricata's default "BSD" policy for first-seen data; Windows and
// Solaris hosts prefer old data too). A retransmission whose bytes differ
// from what was delivered or buffered is ignored for the overlapping part;
// only bytes not yet seen are used.

// streamSink receives one direction's in-order bytes.
type streamSink interface {
	deliver(data []byte) // data is valid only during the call
	gap(n int)           // n bytes were never seen
	overlap()            // a segment's bytes differed from those buffered for the same range
}

// oooSeg is one buffered out-of-order segment.
type oooSeg struct {
	seq  uint32
	data []byte // view into buf
	buf  []byte // pooled storage
}

// half is the reassembly state of one direction of a TCP connection.
type half struct {
	init      bool   // next is valid
	next      uint32 // next sequence number to deliver
	fin       bool   // FIN seen at finSeq
	finSeq    uint32
	finDone   bool     // every byte up to the FIN was delivered
	ooo       []oooSeg // sorted, non-overlapping: back[lo:lo+len(ooo)]
	conflicts int      // segments whose bytes differed from those buffered (streamSink.overlap)
	back      []oooSeg
	lo        int
	oooBytes  int    // what the buffered segments cost (reasmLimits.cost)
	peerAck   uint32 // highest acknowledgement of this direction by the peer
	ackSeen   bool
}

// reasmLimits are the caps shared by a worker's halves.
type reasmLimits struct {
	maxFlow  int  // bytes buffered per direction
	maxTotal int  // bytes buffered by the worker
	maxSegs  int  // segments buffered per direction
	total    *int // bytes buffered by the worker now
	pool     *segPool
	dropped  *uint64              // segments that hit a buffer cap
	dropBy   *[dropReasons]uint64 // the same by the cap hit
}

// Reasons an out-of-order segment was dropped (the hole before it given
// up), indexes of reasmLimits.dropBy; dropNames are their Stats.DroppedBy
// keys.
const (
	dropSegments    = iota // maxOOOSegments buffered in this direction
	dropFlowBuffer         // MaxFlowBuffer of this direction
	dropTotalBuffer        // MaxBufferTotal of the worker
	dropReasons
)

var dropNames = [dropReasons]string{"ooo_segments", "ooo_flow_buffer", "ooo_total_buffer"}

// maxOOOSegments caps the segments buffered per direction whatever their
// size. The byte caps alone let one-byte segments pile up by the hundred
// thousand; legitimate reordering holds at most a window's worth of
// full-sized segments, which the byte cap (256 KiB / 1460 B ≈ 180) limits
// far below this.
const maxOOOSegments = 1024

// segOverhead is the bookkeeping a buffered segment holds besides its
// buffer: its slot in the window (h.back), which keeps up to three more
// slots free (see insertAt and drain).
const segOverhead = 4 * int(unsafe.Sizeof(oooSeg{}))

// cost is the memory buffering n bytes as one segment holds, which the
// caps count: the pooled buffer (a power of two of at least 256 bytes) and
// the segment's bookkeeping. Counting payload bytes instead let a one-byte
// segment hold 256 + 56 bytes for every byte counted, so a 256 MiB cap
// admitted tens of GB.
func (lim *reasmLimits) cost(n int) int { return segBufSize(n) + segOverhead }

// segCost is the memory sg holds: cost(len(sg.data)).
func segCost(sg *oooSeg) int { return cap(sg.buf) + segOverhead }

// rel returns seq relative to h.next as a signed distance.
func (h *half) rel(seq uint32) int64 { return int64(int32(seq - h.next)) }

// segment takes one TCP segment (payload data starting at seq) of this
// direction. fin says the segment carries FIN.
func (h *half) segment(seq uint32, data []byte, fin bool, lim *reasmLimits, out streamSink) {
	if !h.init {
		// Mid-stream pickup: the first segment seen defines the start.
		h.init = true
		h.next = seq
	}
	if fin && !h.fin {
		h.fin = true
		h.finSeq = seq + uint32(len(data))
	}
	if len(data) > 0 {
		d := h.rel(seq)
		switch {
		case d <= 0:
			skip := -d
			if skip >= int64(len(data)) {
				break // pure retransmission of delivered bytes
			}
			data = data[skip:]
			if len(h.ooo) == 0 {
				out.deliver(data)
				h.next += uint32(len(data))
			} else {
				h.insert(h.next, data, lim, out)
				h.drain(out, lim)
			}
		default:
			h.insert(seq, data, lim, out)
			h.drain(out, lim)
			if h.ackSeen {
				// the peer may already have acknowledged the hole
				h.acked(h.peerAck, lim, out)
			}
		}
	}
	if h.fin && !h.finDone && h.next == h.finSeq && len(h.ooo) == 0 {
		h.finDone = true
	}
}

// insert buffers [seq, seq+len(data)) except the parts already buffered
// (first seen wins), enforcing the caps by skipping ahead over missing
// bytes (a gap) when a cap would be exceeded. Finding the place is a
// binary search and the buffer is a double-ended window (see insertAt), so
// segments arriving in order behind a hole or in reverse cost O(log n),
// not O(n): 100,000 reversed one-byte segments took 57 s before.
func (h *half) insert(seq uint32, data []byte, lim *reasmLimits, out streamSink) {
	counted := false
	for {
		if d := h.rel(seq); d < 0 {
			if -d >= int64(len(data)) {
				return // everything left was delivered while making room
			}
			data = data[-d:]
			seq = h.next
		}
		pieces, cost, _ := h.place(seq, data, lim, false)
		why := h.over(pieces, cost, lim)
		if why < 0 {
			break
		}
		if !counted {
			// counted once per segment that hit a cap
			*lim.dropped++
			lim.dropBy[why]++
			counted = true
		}
		if len(h.ooo) == 0 {
			// Nothing of ours to give back: give up on the hole before
			// this segment and deliver it without buffering.
			if d := h.rel(seq); d > 0 {
				out.gap(int(d))
				h.next = seq
			}
			out.deliver(data)
			h.next += uint32(len(data))
			return
		}
		h.skipToFirst(out, lim)
		h.drain(out, lim)
	}
	if _, _, conflict := h.place(seq, data, lim, true); conflict {
		h.conflicts++
		out.overlap()
	}
}

// over says which cap buffering pieces new segments costing cost would
// exceed, or -1.
func (h *half) over(pieces, cost int, lim *reasmLimits) int {
	switch {
	case pieces == 0:
		return -1
	case len(h.ooo)+pieces > lim.maxSegs:
		return dropSegments
	case h.oooBytes+cost > lim.maxFlow:
		return dropFlowBuffer
	case *lim.total+cost > lim.maxTotal:
		return dropTotalBuffer
	}
	return -1
}

// place walks the buffered segments overlapping [seq, seq+len(data)) and
// returns the pieces of it not yet buffered and what they would cost;
// with commit it buffers them and reports whether the overlapping part
// differs from what is buffered (the buffered bytes are kept).
func (h *half) place(seq uint32, data []byte, lim *reasmLimits, commit bool) (pieces, cost int, conflict bool) {
	s := h.rel(seq)
	e := s + int64(len(data))
	i := h.search(s)
	for s < e {
		if i < len(h.ooo) {
			sg := &h.ooo[i]
			a := h.rel(sg.seq)
			if a < e {
				if a > s {
					pieces++
					cost += lim.cost(int(a - s))
					if commit {
						h.insertAt(i, h.next+uint32(s), data[:a-s], lim)
						i++
						sg = &h.ooo[i]
					}
					data = data[a-s:]
					s = a
				}
				// [s, min(b, e)) is buffered already: first seen wins.
				n := min(a+int64(len(sg.data)), e) - s
				if commit && !conflict && !bytes.Equal(data[:n], sg.data[s-a:s-a+n]) {
					conflict = true
				}
				data = data[n:]
				s += n
				i++
				continue
			}
		}
		pieces++
		cost += lim.cost(len(data))
		if commit {
			h.insertAt(i, h.next+uint32(s), data, lim)
		}
		break
	}
	return pieces, cost, conflict
}

// search returns the index of the first buffered segment ending after s
// (relative to h.next). Buffered segments never overlap, so their ends are
// sorted like their starts.
func (h *half) search(s int64) int {
	lo, hi := 0, len(h.ooo)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.rel(h.ooo[m].seq)+int64(len(h.ooo[m].data)) > s {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// insertAt buffers a copy of data as the i-th segment. h.ooo is the window
// h.back[h.lo:h.lo+len(h.ooo)] with room on both sides: the shorter side
// moves, and when that side is full the window is re-centred (or the array
// doubled), so inserting at either end is amortised O(1).
func (h *half) insertAt(i int, seq uint32, data []byte, lim *reasmLimits) {
	buf := lim.pool.get(len(data))
	k := copy(buf, data)
	sg := oooSeg{seq: seq, data: buf[:k], buf: buf}
	n := len(h.ooo)
	front := i < n-i
	if front && h.lo == 0 || !front && h.lo+n == len(h.back) {
		if len(h.back) < 2*(n+1) {
			nb := make([]oooSeg, max(8, 2*(n+1)))
			lo := (len(nb) - n) / 2
			copy(nb[lo:], h.ooo)
			clear(h.back)
			h.back, h.lo = nb, lo
		} else {
			lo := (len(h.back) - n) / 2
			copy(h.back[lo:lo+n], h.ooo)
			if lo < h.lo {
				clear(h.back[lo+n : h.lo+n])
			} else {
				clear(h.back[h.lo:lo])
			}
			h.lo = lo
		}
	}
	if front {
		h.lo--
		copy(h.back[h.lo:h.lo+i], h.back[h.lo+1:h.lo+1+i])
	} else {
		copy(h.back[h.lo+i+1:h.lo+n+1], h.back[h.lo+i:h.lo+n])
	}
	h.back[h.lo+i] = sg
	h.ooo = h.back[h.lo : h.lo+n+1]
	c := segCost(&h.back[h.lo+i])
	h.oooBytes += c
	*lim.total += c
}

// drain delivers buffered segments that have become contiguous.
func (h *half) drain(out streamSink, lim *reasmLimits) {
	n := 0
	for n < len(h.ooo) {
		sg := &h.ooo[n]
		d := h.rel(sg.seq)
		if d > 0 {
			break
		}
		if -d < int64(len(sg.data)) {
			data := sg.data[-d:]
			out.deliver(data)
			h.next += uint32(len(data))
		}
		c := segCost(sg)
		h.oooBytes -= c
		*lim.total -= c
		lim.pool.put(sg.buf)
		n++
	}
	if n > 0 {
		clear(h.ooo[:n])
		h.lo += n
		h.ooo = h.ooo[n:]
		switch {
		case len(h.ooo) == 0:
			h.resetWindow()
		case len(h.back) > 16 && len(h.back) > 4*len(h.ooo):
			// mostly empty: shrink, so the window stays within the
			// four slots per segment that segOverhead counts
			nb := make([]oooSeg, 2*(len(h.ooo)+1))
			lo := (len(nb) - len(h.ooo)) / 2
			copy(nb[lo:], h.ooo)
			h.back, h.lo = nb, lo
			h.ooo = nb[lo : lo+len(h.ooo)]
		}
	}
}

// resetWindow re-centres the empty window, and lets a large array go: a
// burst of reordering should not pin its bookkeeping for the life of the
// connection.
func (h *half) resetWindow() {
	if len(h.back) > 16 {
		h.back = nil
	}
	h.lo = len(h.back) / 2
	h.ooo = h.back[h.lo:h.lo]
}

// skipToFirst declares the bytes before the first buffered segment lost.
func (h *half) skipToFirst(out streamSink, lim *reasmLimits) {
	if len(h.ooo) == 0 {
		return
	}
	if d := h.rel(h.ooo[0].seq); d > 0 {
		out.gap(int(d))
		h.next = h.ooo[0].seq
	}
}

// acked applies the peer's acknowledgement number: when the peer has
// acknowledged bytes this half never saw, they were lost by the capture,
// not the network, so waiting for a retransmission is pointless: the hole
// is declared a gap and what is buffered behind it is delivered.
func (h *half) acked(ack uint32, lim *reasmLimits, out streamSink) {
	a := h.rel(ack)
	if a <= 0 {
		return
	}
	switch {
	case len(h.ooo) > 0:
		if a >= h.rel(h.ooo[0].seq) {
			h.skipToFirst(out, lim)
			h.drain(out, lim)
		}
	case h.fin && a > h.rel(h.finSeq) && h.rel(h.finSeq) > 0:
		// the FIN was acknowledged (ack = FIN + 1): the data before it
		// is lost
		out.gap(int(h.rel(h.finSeq)))
		h.next = h.finSeq
	}
	if h.fin && !h.finDone && h.next == h.finSeq && len(h.ooo) == 0 {
		h.finDone = true
	}
}

// flush delivers everything still buffered, declaring the holes as gaps;
// used when the connection ends.
func (h *half) flush(out streamSink, lim *reasmLimits) {
	for len(h.ooo) > 0 {
		h.skipToFirst(out, lim)
		h.drain(out, lim)
	}
}

// release returns the buffers without delivering them.
func (h *half) release(lim *reasmLimits) {
	for i := range h.ooo {
		*lim.total -= segCost(&h.ooo[i])
		lim.pool.put(h.ooo[i].buf)
	}
	clear(h.ooo)
	back := h.back
	*h = half{back: back}
	h.resetWindow()
}

// segPool recycles out-of-order segment buffers in power-of-two size
// classes so that steady-state reordering does not allocate. What it keeps
// free is bounded (segMaxFree per class, segMaxFreeBytes in all) and not
// counted against the buffer caps.
type segPool struct {
	free      [segClasses][][]byte
	freeBytes int
}

const (
	segMinShift     = 8 // 256 bytes
	segClasses      = 9 // up to 64 KiB
	segMaxFree      = 1024
	segMaxFreeBytes = 4 << 20
)

func segClass(n int) int {
	c := 0
	for size := 1 << segMinShift; size < n; size <<= 1 {
		c++
	}
	return c
}

// segBufSize is the capacity of the buffer get(n) returns.
func segBufSize(n int) int {
	if c := segClass(n); c < segClasses {
		return 1 << (segMinShift + c)
	}
	return n
}

func (p *segPool) get(n int) []byte {
	c := segClass(n)
	if c >= segClasses {
		return make([]byte, n)
	}
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c][l-1] = nil
		p.free[c] = p.free[c][:l-1]
		p.freeBytes -= cap(b)
		return b
	}
	return make([]byte, 1<<(segMinShift+c))
}

func (p *segPool) put(b []byte) {
	c := segClass(cap(b))
	if c >= segClasses || cap(b) != 1<<(segMinShift+c) || len(p.free[c]) >= segMaxFree || p.freeBytes+cap(b) > segMaxFreeBytes {
		return
	}
	p.free[c] = append(p.free[c], b[:cap(b)])
	p.freeBytes += cap(b)
}
