package decode

import (
	"errors"
	"testing"
)

// streamOf concatenates the clean fixtures of one version, starting with
// that version's first CONNECT so that the Framer knows the version.
func streamOf(v uint8) (stream []byte, want []Packet) {
	var rest []fixture
	for _, fx := range fixtures {
		if fx.want.Version != v || fx.decodeRule != "" || fx.validateRules != nil {
			continue
		}
		if fx.want.Type == CONNECT && want == nil {
			stream = append(stream, fx.raw...)
			w := fx.want
			w.Len = len(fx.raw)
			want = append(want, w)
			continue
		}
		rest = append(rest, fx)
	}
	for _, fx := range rest {
		stream = append(stream, fx.raw...)
		w := fx.want
		w.Len = len(fx.raw)
		want = append(want, w)
	}
	return stream, want
}

// drain calls Next until ErrShortBuffer, collecting copies of what it got.
func drain(t *testing.T, f *Framer, p *Packet, got *[]Packet, errs *[]error) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("Next does not terminate")
		}
		err := f.Next(p)
		if err == ErrShortBuffer {
			return
		}
		if err != nil {
			if errs == nil {
				t.Fatalf("Next: %v", err)
			}
			// Errors live in the Framer: keep copies.
			switch e := err.(type) {
			case *MalformedError:
				c := *e
				err = &c
			case *TooLargeError:
				c := *e
				err = &c
			}
			*errs = append(*errs, err)
			continue
		}
		*got = append(*got, clonePacket(p))
	}
}

func clonePacket(p *Packet) Packet {
	c := norm(*p)
	cb := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return append([]byte(nil), b...)
	}
	c.ProtocolName, c.ClientID, c.WillTopic, c.WillPayload = cb(c.ProtocolName), cb(c.ClientID), cb(c.WillTopic), cb(c.WillPayload)
	c.Username, c.Password, c.Topic, c.Payload, c.ReasonCodes = cb(c.Username), cb(c.Password), cb(c.Topic), cb(c.Payload), cb(c.ReasonCodes)
	for i := range c.Props {
		c.Props[i].Key, c.Props[i].Data = cb(c.Props[i].Key), cb(c.Props[i].Data)
	}
	for i := range c.WillProps {
		c.WillProps[i].Key, c.WillProps[i].Data = cb(c.WillProps[i].Key), cb(c.WillProps[i].Data)
	}
	for i := range c.Filters {
		c.Filters[i].Topic = cb(c.Filters[i].Topic)
	}
	return c
}

func comparePackets(t *testing.T, label string, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d packets, want %d", label, len(got), len(want))
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Fatalf("%s: packet %d (%v): %s", label, i, want[i].Type, d)
		}
	}
}

// A stream split at every byte boundary (two Feeds) and fed byte by byte
// decodes to the same packets as the fixtures.
func TestFramerSplitEveryBoundary(t *testing.T) {
	for _, v := range []uint8{3, 4, 5} {
		stream, want := streamOf(v)
		f := NewFramer(FramerOptions{})
		var p Packet
		for split := 0; split <= len(stream); split++ {
			f.Reset()
			var got []Packet
			f.Feed(stream[:split])
			drain(t, f, &p, &got, nil)
			f.Feed(stream[split:])
			drain(t, f, &p, &got, nil)
			comparePackets(t, "split", got, want)
			if gv, inferred := f.Version(); gv != v || inferred {
				t.Fatalf("v%d: Version() = %d, %v", v, gv, inferred)
			}
		}
		f.Reset()
		var got []Packet
		for i := range stream {
			f.Feed(stream[i : i+1])
			drain(t, f, &p, &got, nil)
		}
		comparePackets(t, "byte by byte", got, want)
		st := f.Stats()
		if st.Packets != uint64(len(want)) || st.SkippedBytes != 0 || st.Resyncs != 0 || st.Malformed != 0 {
			t.Errorf("v%d stats %+v", v, st)
		}
	}
}

// Many packets in one Feed decode in place: no copy, no allocation.
func TestFramerManyPacketsOneFeed(t *testing.T) {
	stream, want := streamOf(5)
	var big []byte
	var wantAll []Packet
	for i := 0; i < 50; i++ {
		big = append(big, stream...)
		wantAll = append(wantAll, want...)
	}
	f := NewFramer(FramerOptions{})
	var p Packet
	var got []Packet
	f.Feed(big)
	drain(t, f, &p, &got, nil)
	comparePackets(t, "one feed", got, wantAll)
	if len(f.pend) != 0 || cap(f.pend) != 0 {
		t.Errorf("framer buffered %d bytes (cap %d) for whole packets", len(f.pend), cap(f.pend))
	}
}

// want0Len is the size of the first packet of s.
func want0Len(s []byte) int {
	_, _, rem, hl, _ := parseHeader(s)
	return hl + rem
}

func TestFramerAllocs(t *testing.T) {
	stream, _ := streamOf(5)
	f := NewFramer(FramerOptions{})
	var p Packet
	run := func(seg int) {
		f.Reset()
		for off := 0; off < len(stream); off += seg {
			end := min(off+seg, len(stream))
			f.Feed(stream[off:end])
			for f.Next(&p) != ErrShortBuffer {
			}
		}
	}
	for _, seg := range []int{len(stream), 1460, 7, 1} {
		run(seg) // grow buffers
		if a := testing.AllocsPerRun(20, func() { run(seg) }); a != 0 {
			t.Errorf("segments of %d: %v allocs per stream", seg, a)
		}
	}
	// Mid-stream: no CONNECT, the version is inferred.
	stream = stream[want0Len(stream):]
	for _, seg := range []int{len(stream), 1460, 7} {
		run(seg) // grow buffers
		if a := testing.AllocsPerRun(20, func() { run(seg) }); a != 0 {
			t.Errorf("segments of %d: %v allocs per stream", seg, a)
		}
	}
}

// After a gap the framer drops the partial packet, skips the bytes of the
// packet it lands in and resynchronises on the next header.
func TestFramerGapResync(t *testing.T) {
	stream, want := streamOf(4)
	// Cut: first 3 packets whole, then half of packet 3; lose the rest of
	// packet 3 and the first 2 bytes of packet 4; feed from there.
	offs := []int{0}
	for _, w := range want {
		offs = append(offs, offs[len(offs)-1]+w.Len)
	}
	cut := offs[3] + want[3].Len/2
	resume := offs[4] + 2
	f := NewFramer(FramerOptions{})
	var p Packet
	var got []Packet
	f.Feed(stream[:cut])
	drain(t, f, &p, &got, nil)
	f.Gap(resume - cut)
	f.Feed(stream[resume:])
	drain(t, f, &p, &got, nil)
	comparePackets(t, "after gap", got, append(append([]Packet(nil), want[:3]...), want[5:]...))
	st := f.Stats()
	wantSkipped := uint64(cut-offs[3]) + uint64(offs[5]-resume)
	if st.Resyncs != 1 || st.SkippedBytes != wantSkipped {
		t.Errorf("stats %+v, want 1 resync and %d skipped bytes", st, wantSkipped)
	}
}

// A gap that ends inside the packet being buffered keeps framing: the
// framer knows where the packet ends.
func TestFramerGapInsidePacket(t *testing.T) {
	stream, want := streamOf(4)
	offs := []int{0}
	for _, w := range want {
		offs = append(offs, offs[len(offs)-1]+w.Len)
	}
	// Packet 2 is the CONNECT with will: lose its middle.
	k := 2
	if want[k].Len < 10 {
		t.Fatalf("packet %d too small", k)
	}
	cut, resume := offs[k]+3, offs[k]+want[k].Len-3
	f := NewFramer(FramerOptions{})
	var p Packet
	var got []Packet
	f.Feed(stream[:cut])
	drain(t, f, &p, &got, nil)
	f.Gap(resume - cut)
	f.Feed(stream[resume:])
	drain(t, f, &p, &got, nil)
	comparePackets(t, "after gap", got, append(append([]Packet(nil), want[:k]...), want[k+1:]...))
	if st := f.Stats(); st.Resyncs != 0 || st.SkippedBytes != 3 {
		t.Errorf("stats %+v", st)
	}
}

// A capture that starts in the middle of a packet finds the next header;
// the version is inferred.
func TestFramerMidStreamStart(t *testing.T) {
	var s []byte
	pub := func(topic, payload string, id uint16, qos uint8) Packet {
		return Packet{Type: PUBLISH, Flags: qos << 1, Version: 4, Topic: []byte(topic), PacketID: id, Payload: []byte(payload)}
	}
	pkts := []Packet{
		pub("sensors/t1", "temperature=21.5", 0, 0),
		pub("sensors/t2", "temperature=22.0", 5, 1),
		{Type: PUBACK, Version: 4, PacketID: 5},
		{Type: PINGREQ, Version: 4},
		pub("sensors/t3", "{\"v\":1}", 0, 0),
	}
	for i := range pkts {
		s = Append(s, &pkts[i])
	}
	start := 9 // inside the first PUBLISH's topic
	f := NewFramer(FramerOptions{})
	var p Packet
	var got []Packet
	f.Feed(s[start:])
	drain(t, f, &p, &got, nil)
	for i := range pkts {
		pkts[i].Len = len(Append(nil, &pkts[i]))
	}
	comparePackets(t, "mid-stream", got, pkts[1:])
	st := f.Stats()
	if st.SkippedBytes != uint64(pkts[0].Len-start) || st.Resyncs != 1 {
		t.Errorf("stats %+v", st)
	}
	if v, inferred := f.Version(); v != 4 || !inferred {
		t.Errorf("Version() = %d %v, want 4 inferred", v, inferred)
	}
}

func TestFramerInferV5(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"PUBACK with reason code", []byte{0x40, 3, 0, 1, 0x10}},
		{"AUTH", []byte{0xF0, 0}},
		{"DISCONNECT with reason", []byte{0xE0, 1, 0x8E}},
		{"PUBLISH with properties", []byte{0x30, 10, 0, 1, 't', 3, 0x23, 0, 1, 'a', 'b', 'c'}},
	} {
		f := NewFramer(FramerOptions{})
		var p Packet
		f.Feed(append([]byte{0xC0, 0}, tc.raw...)) // PINGREQ, then the packet
		for i := 0; i < 2; i++ {
			if err := f.Next(&p); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if v, inferred := f.Version(); v != 5 || !inferred || p.Version != 5 {
			t.Errorf("%s: Version() = %d %v, packet %d", tc.name, v, inferred, p.Version)
		}
	}
	// A v3.1.1 PUBLISH whose payload cannot be v5 properties.
	f := NewFramer(FramerOptions{})
	var p Packet
	f.Feed([]byte{0x30, 7, 0, 1, 't', 'h', 'e', 'l', 'o'})
	if err := f.Next(&p); err != nil || string(p.Payload) != "helo" {
		t.Fatalf("Next = %v %q", err, p.Payload)
	}
	if v, inferred := f.Version(); v != 4 || !inferred {
		t.Errorf("Version() = %d %v", v, inferred)
	}
	// A two-byte CONNACK is 3.1.1.
	f.Reset()
	f.Feed([]byte{0x20, 2, 0, 0, 0xD0, 0})
	if err := f.Next(&p); err != nil || p.Type != CONNACK {
		t.Fatalf("Next = %v", err)
	}
	if v, inferred := f.Version(); v != 4 || !inferred || f.version != 4 {
		t.Errorf("after CONNACK: Version() = %d %v", v, inferred)
	}
	// CONNECT decides, SetVersion too.
	f.Reset()
	f.SetVersion(5)
	if v, inferred := f.Version(); v != 5 || inferred {
		t.Errorf("after SetVersion: %d %v", v, inferred)
	}
}

// An oversized packet is skipped across Feeds without being buffered.
func TestFramerOversize(t *testing.T) {
	small := Packet{Type: PUBLISH, Version: 4, Topic: []byte("a"), Payload: []byte("x")}
	huge := Packet{Type: PUBLISH, Version: 4, Topic: []byte("big"), Payload: make([]byte, 5000)}
	var s []byte
	s = Append(s, &small)
	s = Append(s, &huge)
	s = Append(s, &small)
	for _, opts := range []FramerOptions{{MaxPacketSize: 1000}, {MaxBuffer: 1000}} {
		f := NewFramer(opts)
		var p Packet
		var got []Packet
		var errs []error
		for off := 0; off < len(s); off += 100 {
			f.Feed(s[off:min(off+100, len(s))])
			drain(t, f, &p, &got, &errs)
		}
		if len(got) != 2 || len(errs) != 1 || !errors.Is(errs[0], ErrTooLarge) {
			t.Fatalf("%+v: got %d packets, errors %v", opts, len(got), errs)
		}
		if cap(f.pend) > 1000 {
			t.Errorf("%+v: buffered %d bytes", opts, cap(f.pend))
		}
		if st := f.Stats(); st.Oversized != 1 || st.Packets != 2 {
			t.Errorf("%+v: stats %+v", opts, st)
		}
	}
	// The header itself split across Feeds: still never buffered.
	for _, opts := range []FramerOptions{{MaxPacketSize: 1000}, {MaxBuffer: 1000}} {
		f := NewFramer(opts)
		var p Packet
		var got []Packet
		var errs []error
		cuts := []int{0, 7, 8, 1000, len(s) - 5, len(s)} // the huge packet's header is bytes 6-8
		for i := 1; i < len(cuts); i++ {
			f.Feed(s[cuts[i-1]:cuts[i]])
			drain(t, f, &p, &got, &errs)
			if cap(f.pend) > 1000 {
				t.Fatalf("%+v: buffered %d bytes", opts, cap(f.pend))
			}
		}
		if len(got) != 2 || len(errs) != 1 {
			t.Errorf("%+v: split header: %d packets, %v", opts, len(got), errs)
		}
	}
	// Under MaxBuffer only, the same packet in one Feed decodes in place.
	f := NewFramer(FramerOptions{MaxBuffer: 1000})
	var p Packet
	var got []Packet
	f.Feed(s)
	drain(t, f, &p, &got, nil)
	if len(got) != 3 || len(got[1].Payload) != 5000 {
		t.Errorf("one feed: %d packets", len(got))
	}
	// A gap inside the skipped packet keeps framing.
	f = NewFramer(FramerOptions{MaxPacketSize: 1000})
	var errs []error
	got = got[:0]
	f.Feed(s[:200])
	drain(t, f, &p, &got, &errs)
	f.Gap(1000)
	f.Feed(s[1200:])
	drain(t, f, &p, &got, &errs)
	if len(got) != 2 || len(errs) != 1 || f.Stats().Resyncs != 0 {
		t.Errorf("gap in oversized: %d packets, %v, %+v", len(got), errs, f.Stats())
	}
}

// A malformed packet in sync is reported and the stream continues.
func TestFramerMalformedContinues(t *testing.T) {
	s := []byte{
		0xD0, 0, // PINGRESP
		0xD0, 0, // PINGRESP (two valid headers: the framer starts in sync)
		0xC0, 1, 0, // PINGREQ with a body: malformed, but framed
		0x00,    // reserved type 0: framing lost
		0xC0, 0, // PINGREQ
		0xD0, 0, // PINGRESP
	}
	f := NewFramer(FramerOptions{})
	f.SetVersion(4)
	var p Packet
	var got []Packet
	var errs []error
	f.Feed(s)
	drain(t, f, &p, &got, &errs)
	if len(errs) != 2 || len(got) != 4 || got[2].Type != PINGREQ || got[3].Type != PINGRESP {
		t.Fatalf("got %v errors %v", got, errs)
	}
	var me *MalformedError
	if !errors.As(errs[0], &me) || me.Rule != RuleRemainingLength {
		t.Errorf("first error %v", errs[0])
	}
	if st := f.Stats(); st.Malformed != 2 || st.Packets != 4 {
		t.Errorf("stats %+v", st)
	}
}

// At a known stream start the first header is decoded as is: a garbled
// first packet is reported, not skipped.
func TestFramerStartOfStream(t *testing.T) {
	s := []byte{
		0xC0, 1, 0, // PINGREQ with a body: implausible, but the first packet
		0xD0, 0, // PINGRESP
	}
	for _, start := range []bool{false, true} {
		f := NewFramer(FramerOptions{})
		if start {
			f.StartOfStream()
		}
		var p Packet
		var got []Packet
		var errs []error
		f.Feed(s)
		drain(t, f, &p, &got, &errs)
		st := f.Stats()
		if start && (len(errs) != 1 || len(got) != 1 || st.SkippedBytes != 0) {
			t.Errorf("start of stream: %d errors, %d packets, %+v", len(errs), len(got), st)
		}
		if !start && (len(errs) != 0 || len(got) != 1 || st.SkippedBytes != 3) {
			t.Errorf("unknown start: %d errors, %d packets, %+v", len(errs), len(got), st)
		}
	}
}
