package capture

import (
	"encoding/binary"
	"time"
)

// IPv4 fragment reassembly, in the reading goroutine (fragments of one
// datagram must meet before the flow hash sends the result to a worker).
// Live, the kernel reassembles before the fanout; a capture file holds the
// fragments as they were on the wire, so without this `replay` saw less
// than `run`. The policy is Linux's (since 4.19): overlapping fragments
// discard the whole datagram (an exact duplicate is ignored), the timeout
// is 30 s of packet time, and the cache is bounded in datagrams and bytes,
// the oldest datagram going first. IPv6 fragments are counted and dropped.
// Fragments are rare, so this path may allocate; unfragmented packets never
// come here.

const (
	fragTimeout    = int64(30 * time.Second) // Linux net.ipv4.ipfrag_time
	fragMaxEntries = 1024                    // datagrams being reassembled
	fragMaxBytes   = 4 << 20                 // fragment bytes held (plus fragOverhead each)
	fragOverhead   = 64                      // bookkeeping counted per fragment
)

type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

type fragPiece struct {
	off, end int
	data     []byte
}

type fragEntry struct {
	key    fragKey
	first  int64 // packet time of the first fragment
	hdr    [20]byte
	hasHdr bool // the fragment at offset 0 was seen
	total  int  // payload length, -1 until the last fragment is seen
	pieces []fragPiece
	bytes  int
	dead   bool // removed from the map; still in order
}

// fragCounters are the dispatcher's fragment statistics.
type fragCounters struct {
	reassembled, overlaps, timeouts, evicted, invalid uint64
}

type defrag struct {
	m     map[fragKey]*fragEntry
	order []*fragEntry // creation order; dead entries are skipped
	head  int
	bytes int
	buf   []byte // the last datagram reassembled, valid until the next add
	st    fragCounters
}

// add takes one IPv4 fragment (ip is the whole IPv4 packet, trimmed to its
// total length, with more-fragments or an offset set) at packet time ts. It
// returns the reassembled datagram, with a plain 20-byte header, when this
// fragment completed one.
func (d *defrag) add(ip []byte, ts int64) []byte {
	ihl := int(ip[0]&0x0f) * 4
	frag := binary.BigEndian.Uint16(ip[6:8])
	off := int(frag&0x1fff) * 8
	mf := frag&0x2000 != 0
	data := ip[ihl:]
	end := off + len(data)
	if len(data) == 0 || end+20 > 65535 || mf && len(data)%8 != 0 {
		d.st.invalid++
		return nil
	}
	if d.m == nil {
		d.m = make(map[fragKey]*fragEntry)
	}
	d.expire(ts)
	var k fragKey
	copy(k.src[:], ip[12:16])
	copy(k.dst[:], ip[16:20])
	k.id = binary.BigEndian.Uint16(ip[4:6])
	k.proto = ip[9]
	e := d.m[k]
	if e == nil {
		for len(d.m) >= fragMaxEntries {
			d.evictOldest()
		}
		e = &fragEntry{key: k, first: ts, total: -1}
		d.m[k] = e
		d.order = append(d.order, e)
	}
	if !mf {
		if e.total >= 0 && e.total != end || e.maxEnd() > end {
			d.overlap(e)
			return nil
		}
		e.total = end
	} else if e.total >= 0 && end > e.total {
		d.overlap(e)
		return nil
	}
	// sorted insert; any overlap but an exact duplicate kills the datagram
	i := 0
	for i < len(e.pieces) && e.pieces[i].end <= off {
		i++
	}
	if i < len(e.pieces) && e.pieces[i].off < end {
		if p := e.pieces[i]; p.off == off && p.end == end && string(p.data) == string(data) {
			return nil // duplicate
		}
		d.overlap(e)
		return nil
	}
	e.pieces = append(e.pieces, fragPiece{})
	copy(e.pieces[i+1:], e.pieces[i:])
	e.pieces[i] = fragPiece{off: off, end: end, data: append([]byte(nil), data...)}
	c := len(data) + fragOverhead
	e.bytes += c
	d.bytes += c
	if off == 0 {
		copy(e.hdr[:], ip[:20])
		e.hasHdr = true
	}
	for d.bytes > fragMaxBytes && !e.dead {
		d.evictOldest()
	}
	if e.dead || !e.hasHdr || e.total < 0 || !e.complete() {
		return nil
	}
	b := append(d.buf[:0], e.hdr[:]...)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(20+e.total))
	binary.BigEndian.PutUint16(b[6:8], 0)
	for _, p := range e.pieces {
		b = append(b, p.data...)
	}
	d.buf = b
	d.remove(e)
	d.st.reassembled++
	return b
}

func (e *fragEntry) maxEnd() int {
	if len(e.pieces) == 0 {
		return 0
	}
	return e.pieces[len(e.pieces)-1].end
}

func (e *fragEntry) complete() bool {
	at := 0
	for _, p := range e.pieces {
		if p.off != at {
			return false
		}
		at = p.end
	}
	return at == e.total
}

func (d *defrag) overlap(e *fragEntry) {
	d.st.overlaps++
	d.remove(e)
}

func (d *defrag) remove(e *fragEntry) {
	if e.dead {
		return
	}
	e.dead = true
	delete(d.m, e.key)
	d.bytes -= e.bytes
	e.pieces = nil
}

// front drops dead entries from the front of the order and returns the
// oldest live one (nil when none).
func (d *defrag) front() *fragEntry {
	for d.head < len(d.order) && d.order[d.head].dead {
		d.order[d.head] = nil
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order, d.head = d.order[:n], 0
	}
	if d.head == len(d.order) {
		return nil
	}
	return d.order[d.head]
}

func (d *defrag) evictOldest() {
	if e := d.front(); e != nil {
		d.st.evicted++
		d.remove(e)
	}
}

// expire drops datagrams whose first fragment is older than fragTimeout.
func (d *defrag) expire(ts int64) {
	for e := d.front(); e != nil && ts-e.first > fragTimeout; e = d.front() {
		d.st.timeouts++
		d.remove(e)
	}
}
