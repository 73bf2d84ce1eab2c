package decode

import (
	"errors"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.raw, fx.version)
	}
	// Streams of each version.
	for _, v := range []uint8{3, 4, 5} {
		s, _ := streamOf(v)
		f.Add(s, uint8(0))
	}
}

// FuzzDecode: Decode never panics, never reads past the packet, and its
// outcome is one of the three documented ones; Validate never panics.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, version uint8) {
		d := Decoder{Version: version % 6, MaxPacketSize: 1 << 16}
		var p Packet
		n, err := d.Decode(data, &p)
		var me *MalformedError
		var tl *TooLargeError
		switch {
		case err == nil, errors.As(err, &me):
			if n <= 0 || n > len(data) {
				t.Fatalf("n = %d for %d bytes (err %v)", n, len(data), err)
			}
			if err == nil && n != p.Len {
				t.Fatalf("n = %d, Len = %d", n, p.Len)
			}
			Validate(&p, func(v *MalformedError) {
				if v.Rule == "" || v.Field == "" {
					t.Fatalf("violation without rule or field: %+v", v)
				}
			})
		case err == ErrShortBuffer:
			if n != 0 {
				t.Fatalf("short buffer with n = %d", n)
			}
		case errors.As(err, &tl):
			if n != 0 || tl.Size <= d.MaxPacketSize {
				t.Fatalf("too large: n=%d %+v", n, tl)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzRoundTrip: whatever decodes cleanly re-encodes with Append to bytes
// that decode to the same fields.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, version uint8) {
		d := Decoder{Version: version % 6}
		var p1, p2 Packet
		n, err := d.Decode(data, &p1)
		if err != nil {
			return
		}
		enc := Append(nil, &p1)
		m, err := d.Decode(enc, &p2)
		if err != nil {
			t.Fatalf("re-decode of % x (from % x): %v", enc, data[:n], err)
		}
		if m != len(enc) {
			t.Fatalf("re-decode consumed %d of %d", m, len(enc))
		}
		p1.Len, p2.Len = 0, 0
		if dd := diff(p2, p1); dd != "" {
			t.Fatalf("round trip differs: %s\nin  % x\nout % x", dd, data[:n], enc)
		}
	})
}

// FuzzFramer: feeding arbitrary bytes in arbitrary segments, with gaps,
// never panics, always terminates, and every byte is accounted for.
func FuzzFramer(f *testing.F) {
	for _, v := range []uint8{3, 4, 5} {
		s, _ := streamOf(v)
		f.Add(s, uint16(1460), uint16(0))
		f.Add(s, uint16(7), uint16(3))
		f.Add(s[5:], uint16(1), uint16(0))
	}
	for _, fx := range fixtures {
		f.Add(fx.raw, uint16(3), uint16(0))
	}
	// An oversized packet (the fuzz framer allows 4096 bytes) between
	// small ones, its header split across segments.
	big := Append(nil, &Packet{Type: PUBLISH, Version: 4, Topic: []byte("big"), Payload: make([]byte, 5000)})
	small := []byte{0x30, 4, 0, 1, 'a', 'x'}
	f.Add(append(append(append([]byte(nil), small...), big...), small...), uint16(7), uint16(0))
	f.Add(append(append(append([]byte(nil), small...), big...), small...), uint16(100), uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, seg uint16, gapEvery uint16) {
		if seg == 0 {
			seg = 1
		}
		fr := NewFramer(FramerOptions{MaxPacketSize: 4096, MaxBuffer: 512})
		var p Packet
		calls := 0
		accounted := 0 // bytes of packets returned, malformed or skipped as too large
		for off, i := 0, 0; off < len(data); off, i = off+int(seg), i+1 {
			chunk := data[off:min(off+int(seg), len(data))]
			if gapEvery != 0 && i%int(gapEvery) == int(gapEvery)-1 {
				fr.Gap(len(chunk))
				continue
			}
			fr.Feed(chunk)
			for {
				calls++
				if calls > 4*len(data)+16 {
					t.Fatalf("Next does not terminate")
				}
				err := fr.Next(&p)
				if err == ErrShortBuffer {
					break
				}
				if err == nil && (p.Len <= 0 || p.Len > 4096) {
					t.Fatalf("packet of %d bytes", p.Len)
				}
				accounted += p.Len
				var me *MalformedError
				var tl *TooLargeError
				if err != nil && !errors.As(err, &me) && !errors.As(err, &tl) {
					t.Fatalf("unexpected error %v", err)
				}
			}
			if fr.off != len(fr.data) {
				t.Fatalf("ErrShortBuffer with %d fed bytes neither consumed nor buffered", len(fr.data)-fr.off)
			}
			if len(fr.pend) > 512+8 {
				t.Fatalf("buffered %d bytes", len(fr.pend))
			}
		}
		if gapEvery == 0 {
			// Every byte is in a packet, skipped, or still buffered.
			st := fr.Stats()
			pending := len(fr.pend) - fr.poff + len(fr.data) - fr.off
			if got := accounted + int(st.SkippedBytes) + pending - fr.skip; got != len(data) {
				t.Fatalf("accounted for %d of %d bytes (packets %d, skipped %d, pending %d, skip %d)",
					got, len(data), accounted, st.SkippedBytes, pending, fr.skip)
			}
		}
	})
}
