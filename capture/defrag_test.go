package capture

import (
	"encoding/binary"
	"testing"
	"time"
)

// frag4 builds an IPv4 fragment of protocol 6 with IP id id.
func frag4(id uint16, off int, mf bool, data string) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1}
	binary.BigEndian.PutUint16(h[2:4], uint16(20+len(data)))
	binary.BigEndian.PutUint16(h[4:6], id)
	fl := uint16(off / 8)
	if mf {
		fl |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:8], fl)
	return append(h, data...)
}

// TestDefrag: reassembly in any order, overlaps discard the datagram and
// are counted, duplicates are ignored, timeouts run on packet time and the
// cache is bounded (issue 12, item 6).
func TestDefrag(t *testing.T) {
	var d defrag
	sec := int64(time.Second)
	if d.add(frag4(1, 8, false, "bbbb"), 0) != nil || d.add(frag4(1, 8, false, "bbbb"), 0) != nil {
		t.Fatal("incomplete datagram returned")
	}
	dg := d.add(frag4(1, 0, true, "aaaaaaaa"), 0)
	if string(dg[20:]) != "aaaaaaaabbbb" || binary.BigEndian.Uint16(dg[2:4]) != 32 || d.st.reassembled != 1 {
		t.Fatalf("reassembled %q, counters %+v", dg, d.st)
	}
	// overlapping fragments with other bytes: the datagram is discarded
	d.add(frag4(2, 0, true, "aaaaaaaa"), 0)
	d.add(frag4(2, 0, true, "XXXXXXXX"), 0)
	if d.add(frag4(2, 8, false, "b"), 0) != nil || d.st.overlaps != 1 {
		t.Fatalf("overlap: counters %+v", d.st)
	}
	// timeout on packet time
	d.add(frag4(3, 0, true, "aaaaaaaa"), sec)
	if d.add(frag4(3, 8, false, "b"), 40*sec) != nil || d.st.timeouts == 0 {
		t.Fatalf("timeout: counters %+v", d.st)
	}
	// the cache is bounded in datagrams
	for i := range fragMaxEntries + 10 {
		d.add(frag4(uint16(100+i), 0, true, "aaaaaaaa"), 41*sec)
	}
	if len(d.m) > fragMaxEntries || d.st.evicted < 10 {
		t.Fatalf("%d datagrams held, counters %+v", len(d.m), d.st)
	}
	if d.add(frag4(9, 3, true, "odd"), 41*sec) != nil || d.st.invalid != 1 {
		t.Fatalf("invalid: counters %+v", d.st)
	}
}
