package capture

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
}

// oooSeg is one buffered out-of-order segment.
type oooSeg struct {
	seq  uint32
	data []byte // view into buf
	buf  []byte // pooled storage
}

// half is the reassembly state of one direction of a TCP connection.
type half struct {
	init     bool   // next is valid
	next     uint32 // next sequence number to deliver
	fin      bool   // FIN seen at finSeq
	finSeq   uint32
	finDone  bool // every byte up to the FIN was delivered
	ooo      []oooSeg
	oooBytes int
	peerAck  uint32 // highest acknowledgement of this direction by the peer
	ackSeen  bool
}

// reasmLimits are the caps shared by a worker's halves.
type reasmLimits struct {
	maxFlow  int  // bytes buffered per direction
	maxTotal int  // bytes buffered by the worker
	total    *int // bytes buffered by the worker now
	pool     *segPool
	dropped  *uint64 // segments that hit a buffer cap
}

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
// bytes (a gap) when a cap would be exceeded.
func (h *half) insert(seq uint32, data []byte, lim *reasmLimits, out streamSink) {
	if h.oooBytes+len(data) > lim.maxFlow || *lim.total+len(data) > lim.maxTotal {
		*lim.dropped++ // counted once per segment that hit a cap
	}
	for h.oooBytes+len(data) > lim.maxFlow || *lim.total+len(data) > lim.maxTotal {
		if len(h.ooo) == 0 {
			// Nothing of ours to give back: give up on the hole before
			// this segment and deliver it without buffering.
			if d := h.rel(seq); d > 0 {
				out.gap(int(d))
				h.next = seq
			}
			if d := h.rel(seq); d < 0 {
				data = data[-d:]
			}
			out.deliver(data)
			h.next += uint32(len(data))
			return
		}
		h.skipToFirst(out, lim)
		h.drain(out, lim)
		if d := h.rel(seq); d < 0 {
			if -d >= int64(len(data)) {
				return
			}
			data = data[-d:]
			seq = h.next
		}
	}
	s := h.rel(seq)
	e := s + int64(len(data))
	// Walk the sorted buffer; add the pieces of [s,e) not covered.
	for i := 0; i < len(h.ooo) && s < e; i++ {
		a := h.rel(h.ooo[i].seq)
		b := a + int64(len(h.ooo[i].data))
		if b <= s {
			continue
		}
		if a >= e {
			break
		}
		if a > s {
			h.insertAt(i, h.next+uint32(s), data[:a-s], lim)
			i++
			data = data[a-s:]
			s = a
		}
		if b > s {
			cut := b - s
			if cut >= int64(len(data)) {
				return
			}
			data = data[cut:]
			s = b
		}
	}
	if s < e {
		i := len(h.ooo)
		for i > 0 && h.rel(h.ooo[i-1].seq) > s {
			i--
		}
		h.insertAt(i, h.next+uint32(s), data, lim)
	}
}

func (h *half) insertAt(i int, seq uint32, data []byte, lim *reasmLimits) {
	buf := lim.pool.get(len(data))
	n := copy(buf, data)
	h.ooo = append(h.ooo, oooSeg{})
	copy(h.ooo[i+1:], h.ooo[i:])
	h.ooo[i] = oooSeg{seq: seq, data: buf[:n], buf: buf}
	h.oooBytes += n
	*lim.total += n
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
		h.oooBytes -= len(sg.data)
		*lim.total -= len(sg.data)
		lim.pool.put(sg.buf)
		n++
	}
	if n > 0 {
		k := copy(h.ooo, h.ooo[n:])
		clear(h.ooo[k:])
		h.ooo = h.ooo[:k]
	}
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
		*lim.total -= len(h.ooo[i].data)
		lim.pool.put(h.ooo[i].buf)
	}
	clear(h.ooo)
	*h = half{ooo: h.ooo[:0]}
}

// segPool recycles out-of-order segment buffers in power-of-two size
// classes so that steady-state reordering does not allocate.
type segPool struct {
	free [segClasses][][]byte
}

const (
	segMinShift = 8 // 256 bytes
	segClasses  = 9 // up to 64 KiB
	segMaxFree  = 1024
)

func segClass(n int) int {
	c := 0
	for size := 1 << segMinShift; size < n; size <<= 1 {
		c++
	}
	return c
}

func (p *segPool) get(n int) []byte {
	c := segClass(n)
	if c >= segClasses {
		return make([]byte, n)
	}
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c] = p.free[c][:l-1]
		return b
	}
	return make([]byte, 1<<(segMinShift+c))
}

func (p *segPool) put(b []byte) {
	c := segClass(cap(b))
	if c >= segClasses || cap(b) != 1<<(segMinShift+c) || len(p.free[c]) >= segMaxFree {
		return
	}
	p.free[c] = append(p.free[c], b[:cap(b)])
}
