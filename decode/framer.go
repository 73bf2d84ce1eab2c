package decode

// DefaultMaxBuffer is FramerOptions.MaxBuffer's default.
const DefaultMaxBuffer = 1 << 20

// FramerOptions configure a Framer. The zero value means defaults.
type FramerOptions struct {
	// MaxPacketSize: packets larger on the wire are skipped (never
	// buffered) and reported as *TooLargeError. 0 = DefaultMaxPacketSize.
	MaxPacketSize int
	// MaxBuffer caps the bytes buffered for a packet split across Feeds.
	// A split packet larger than this is skipped across segments and
	// reported as *TooLargeError; a packet wholly inside one Feed is
	// decoded in place whatever its size. 0 = DefaultMaxBuffer.
	MaxBuffer int
}

// FramerStats counts what a Framer did.
type FramerStats struct {
	Packets      uint64 // packets decoded without error
	Malformed    uint64 // packets (or header bytes) reported as *MalformedError
	SkippedBytes uint64 // bytes discarded while resynchronising or dropped by Gap
	Oversized    uint64 // packets skipped as larger than the limits
	Resyncs      uint64 // times framing was re-established after being lost
}

// Framer cuts one direction of a TCP stream into control packets. Use one
// per direction and connection; Reset reuses it. It is not safe for
// concurrent use.
//
// Lifetime: Feed's data must stay valid until Next returns ErrShortBuffer.
// When no partial packet is buffered the Framer decodes straight from data
// (zero copy) and copies only a trailing partial packet into its own buffer.
// The views in a Packet returned by Next are valid until the next call to
// Feed, Gap or Next.
//
// The Framer starts in resynchronisation mode: the first header must be
// plausible (valid type and flags, a remaining length the type allows, and
// the following header plausible too when it is already there), else bytes
// are skipped until one is. This lets a capture that starts mid-stream, or
// continues after lost segments (Gap), find the packet boundaries again.
type Framer struct {
	maxPacket int
	maxBuffer int
	dec       Decoder

	version  uint8 // 0: unknown
	inferred bool

	data []byte // current Feed, read from off
	off  int
	pend []byte // bytes carried over from earlier Feeds, read from poff
	poff int

	skip     int  // bytes still to skip (oversized packet, or after a gap inside a packet)
	resync   bool // the next header must be plausible; skip bytes until one is
	lost     bool // framing was lost (gap or garbage), so the next sync counts as a resync
	skipped  int  // bytes skipped in the current resync
	tooLarge TooLargeError
	stats    FramerStats
}

// NewFramer returns a Framer with opts.
func NewFramer(opts FramerOptions) *Framer {
	f := &Framer{maxPacket: opts.MaxPacketSize, maxBuffer: opts.MaxBuffer}
	if f.maxPacket <= 0 {
		f.maxPacket = DefaultMaxPacketSize
	}
	if f.maxBuffer <= 0 {
		f.maxBuffer = DefaultMaxBuffer
	}
	f.dec.MaxPacketSize = f.maxPacket
	f.Reset()
	return f
}

// Reset prepares f for a new connection, keeping its buffers and options.
func (f *Framer) Reset() {
	f.version, f.inferred = 0, false
	f.data, f.off = nil, 0
	f.pend, f.poff = f.pend[:0], 0
	f.skip, f.resync, f.lost, f.skipped = 0, true, false, 0
	f.stats = FramerStats{}
}

// StartOfStream tells f that the next byte fed is the first byte of the
// TCP stream (the capture saw the handshake): the first header is then
// taken as is instead of being checked for plausibility, so that even a
// garbled first packet is reported rather than skipped.
func (f *Framer) StartOfStream() {
	if f.off >= len(f.data) && f.poff >= len(f.pend) && f.skip == 0 {
		f.resync, f.lost, f.skipped = false, false, 0
	}
}

// SetVersion sets the connection's protocol level (from its CONNECT, which
// the capture layer sees in the other direction).
func (f *Framer) SetVersion(v uint8) {
	f.version, f.inferred = v, false
}

// Version is the protocol level packets are decoded with. inferred is true
// when no CONNECT or SetVersion fixed it: then it is 5 once the stream
// showed a shape only MQTT 5 has, else 4 (and 4 is assumed until then).
func (f *Framer) Version() (v uint8, inferred bool) {
	if f.version == 0 {
		return V311, true
	}
	return f.version, f.inferred
}

// Stats returns the counters since NewFramer or Reset.
func (f *Framer) Stats() FramerStats { return f.stats }

// compact drops consumed carried-over bytes. Only called where no view
// handed out by Next may still be used.
func (f *Framer) compact() {
	if f.poff == 0 {
		return
	}
	n := copy(f.pend, f.pend[f.poff:])
	f.pend, f.poff = f.pend[:n], 0
}

// Feed hands f the next in-order bytes of its direction.
func (f *Framer) Feed(data []byte) {
	f.compact()
	if f.off < len(f.data) {
		// The previous data was not drained: keep what is left.
		f.pend = append(f.pend, f.data[f.off:]...)
	}
	f.data, f.off = data, 0
}

// Gap reports that n bytes are missing at this point of the stream. Any
// partial packet is dropped. When the gap ends inside the packet being
// skipped or buffered, framing continues after that packet; otherwise f
// resynchronises on the next plausible header.
func (f *Framer) Gap(n int) {
	if n <= 0 {
		return
	}
	f.compact()
	if f.off < len(f.data) {
		f.pend = append(f.pend, f.data[f.off:]...)
	}
	f.data, f.off = nil, 0
	if f.skip > 0 {
		if n < f.skip {
			f.skip -= n
			f.stats.SkippedBytes += uint64(len(f.pend))
			f.pend = f.pend[:0]
			return
		}
		f.skip = 0
	} else if !f.resync && len(f.pend) > 0 {
		if _, _, rem, hl, err := parseHeader(f.pend); err == nil && hl+rem-len(f.pend) > n {
			f.skip = hl + rem - len(f.pend) - n
			f.stats.SkippedBytes += uint64(len(f.pend))
			f.pend = f.pend[:0]
			return
		}
	}
	f.stats.SkippedBytes += uint64(len(f.pend))
	f.pend = f.pend[:0]
	f.resync, f.lost = true, true
}

// view is what Next reads from: carried-over bytes first, then data.
func (f *Framer) view() ([]byte, bool) {
	if f.poff < len(f.pend) {
		return f.pend[f.poff:], true
	}
	return f.data[f.off:], false
}

func (f *Framer) advance(n int, inPend bool) {
	if inPend {
		f.poff += n
	} else {
		f.off += n
	}
}

// pull moves up to n bytes from data to the end of pend; false when data
// is exhausted.
func (f *Framer) pull(n int) bool {
	avail := len(f.data) - f.off
	if avail == 0 {
		return false
	}
	if n > avail {
		n = avail
	}
	f.pend = append(f.pend, f.data[f.off:f.off+n]...)
	f.off += n
	return true
}

// stash carries the unread rest of data over to pend (a partial packet).
func (f *Framer) stash() {
	f.pend = append(f.pend, f.data[f.off:]...)
	f.off = len(f.data)
}

// Next decodes the next packet into p. It returns nil when p holds a
// packet; ErrShortBuffer when all fed data is consumed or buffered;
// *MalformedError when one malformed packet was consumed (p filled as far
// as possible, p.Type set); *TooLargeError when a packet too large to
// decode (see FramerOptions) starts here: it is skipped, across Feeds if
// need be, and p holds only its fixed header. Errors returned by Next live
// in f and are overwritten by the next call.
func (f *Framer) Next(p *Packet) error {
	if f.poff >= len(f.pend) {
		f.pend, f.poff = f.pend[:0], 0
	}
	// Fast path: in sync, nothing carried over, version known, and a
	// whole packet with a one-byte remaining length at the read offset.
	if !f.resync && f.skip == 0 && len(f.pend) == 0 && f.version != 0 {
		if cur := f.data[f.off:]; len(cur) >= 2 && cur[1] < 0x80 {
			typ, total := Type(cur[0]>>4), 2+int(cur[1])
			if typ != Reserved && typ != CONNECT && total <= len(cur) && total <= f.maxPacket {
				f.off += total
				f.dec.Version = f.version
				if err := f.dec.frame(cur[:total:total], typ, cur[0]&0x0f, 2, p); err != nil {
					f.stats.Malformed++
					return err
				}
				f.stats.Packets++
				return nil
			}
		}
	}
	for {
		if f.skip > 0 {
			cur, inPend := f.view()
			k := min(f.skip, len(cur))
			f.advance(k, inPend)
			f.skip -= k
			if f.skip > 0 && !inPend {
				return ErrShortBuffer // data exhausted
			}
			continue
		}
		cur, inPend := f.view()
		if len(cur) == 0 {
			return ErrShortBuffer
		}
		if f.resync {
			ok, short := f.plausible(cur, true)
			if short {
				if inPend && f.pull(1) {
					continue
				}
				if !inPend {
					f.stash()
				}
				return ErrShortBuffer
			}
			if !ok {
				f.advance(1, inPend)
				f.skipped++
				f.stats.SkippedBytes++
				continue
			}
			if f.lost || f.skipped > 0 {
				f.stats.Resyncs++
			}
			f.resync, f.lost, f.skipped = false, false, 0
		}
		typ, flags, rem, hl, err := parseHeader(cur)
		if err == ErrShortBuffer {
			if inPend && f.pull(1) {
				continue
			}
			if !inPend {
				f.stash()
			}
			return ErrShortBuffer
		}
		if err != nil || typ == Reserved {
			// In sync yet no layout: framing is probably lost. Report
			// the byte and look for the next plausible header.
			p.reset()
			p.Type, p.Flags, p.Len, p.Version = typ, flags, 1, f.layout()
			f.advance(1, inPend)
			f.stats.Malformed++
			f.resync, f.lost = true, true
			if err != nil {
				return f.dec.fail(1, "remaining length", RuleVarInt, err)
			}
			return f.dec.fail(0, "packet type", RuleReservedType, errReservedType)
		}
		total := hl + rem
		if total > f.maxPacket || (total > len(cur) && total > f.maxBuffer) {
			p.reset()
			p.Type, p.Flags, p.Len, p.Version = typ, flags, total, f.layout()
			f.skip = total
			f.stats.Oversized++
			max := f.maxPacket
			if total <= max {
				max = f.maxBuffer
			}
			f.tooLarge = TooLargeError{Size: total, Max: max}
			return &f.tooLarge
		}
		if total > len(cur) {
			if inPend {
				if f.pull(total - len(cur)) {
					continue
				}
				return ErrShortBuffer
			}
			f.stash()
			return ErrShortBuffer
		}
		err = f.decode(cur[:total:total], typ, flags, hl, p)
		f.advance(total, inPend)
		if err != nil {
			f.stats.Malformed++
			return err
		}
		f.stats.Packets++
		return nil
	}
}

func (f *Framer) layout() uint8 {
	if f.version == 0 {
		return V311
	}
	return f.version
}

// decode decodes one whole packet with the connection's version, or, while
// that is unknown, infers it from the packet's shape.
func (f *Framer) decode(msg []byte, typ Type, flags uint8, hl int, p *Packet) error {
	if f.version != 0 && typ != CONNECT {
		f.dec.Version = f.version
		return f.dec.frame(msg, typ, flags, hl, p)
	}
	switch typ {
	case CONNECT:
		f.dec.Version = f.version
		err := f.dec.frame(msg, typ, flags, hl, p)
		switch p.ProtocolLevel {
		case V31, V311, V5:
			if p.ProtocolLevel == p.Version {
				f.version, f.inferred = p.Version, false
			}
		}
		return err
	case PINGREQ, PINGRESP:
		f.dec.Version = V311
		return f.dec.frame(msg, typ, flags, hl, p)
	case CONNACK:
		// An MQTT 5 CONNACK always carries a property length: two bytes
		// of body mean 3.1 or 3.1.1.
		if len(msg)-hl == 2 {
			f.dec.Version = V311
			err := f.dec.frame(msg, typ, flags, hl, p)
			if err == nil {
				f.version, f.inferred = V311, true
			}
			return err
		}
	case AUTH:
		f.dec.Version = V5
		err := f.dec.frame(msg, typ, flags, hl, p)
		if err == nil {
			f.version, f.inferred = V5, true
		}
		return err
	}
	// Try MQTT 5 first: a clean decode with properties, or with a field
	// only MQTT 5 has, is only explained by MQTT 5.
	f.dec.Version = V5
	err5 := f.dec.frame(msg, typ, flags, hl, p)
	if err5 == nil && (len(p.Props) > 0 || len(msg)-hl > minBody(typ)) {
		if Validate(p, nil) == 0 {
			f.version, f.inferred = V5, true
			return nil
		}
	}
	f.dec.Version = V311
	err4 := f.dec.frame(msg, typ, flags, hl, p)
	switch {
	case err4 == nil && err5 != nil:
		f.version, f.inferred = V311, true
	case err4 != nil && err5 == nil:
		f.version, f.inferred = V5, true
		f.dec.Version = V5
		return f.dec.frame(msg, typ, flags, hl, p)
	}
	return err4
}

// minBody is the body size of a packet type that carries nothing optional
// in either version: a larger v5 body without properties still holds a
// v5-only field (a reason code).
func minBody(t Type) int {
	switch t {
	case PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK:
		return 2
	case DISCONNECT:
		return 0
	case CONNACK:
		return 2
	}
	return 1 << 30
}
