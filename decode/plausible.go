package decode

import (
	"bytes"
	"unicode/utf8"
)

// flagsOK reports whether flags are the fixed-header flags type t allows
// (version 0 = unknown).
func flagsOK(t Type, flags, version uint8) bool {
	switch t {
	case Reserved:
		return false
	case PUBLISH:
		return flags&0x06 != 0x06
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		return flags == 0x02
	case AUTH:
		return flags == 0 && (version == 0 || version == V5)
	}
	return flags == 0
}

// remOK reports whether a remaining length is possible for t.
func remOK(t Type, flags uint8, rem int, version uint8) bool {
	v4 := version == V31 || version == V311
	switch t {
	case CONNECT:
		return rem >= 12 // name "MQTT", level, flags, keep alive, client id length
	case CONNACK:
		return rem == 2 || (!v4 && rem >= 3)
	case PUBLISH:
		if flags&0x06 != 0 {
			return rem >= 4
		}
		return rem >= 2
	case PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK:
		return rem == 2 || (!v4 && rem >= 3)
	case SUBSCRIBE:
		return rem >= 5
	case SUBACK:
		return rem >= 3
	case UNSUBSCRIBE:
		return rem >= 4
	case PINGREQ, PINGRESP:
		return rem == 0
	case DISCONNECT:
		return rem == 0 || !v4
	case AUTH:
		return true
	}
	return false
}

// plausible reports whether a packet header that looks valid starts b.
// short means b ends before the check could decide. With next set, the
// header that follows the packet is checked as well when b holds it.
func (f *Framer) plausible(b []byte, next bool) (ok, short bool) {
	if len(b) == 0 {
		return false, true
	}
	t, flags := Type(b[0]>>4), b[0]&0x0f
	if !flagsOK(t, flags, f.version) {
		return false, false
	}
	v, hl, err := readVarInt(b, 1)
	switch err {
	case nil:
	case errTruncated:
		return false, true
	default:
		return false, false
	}
	rem := int(v)
	// A packet over the size limit is implausible where framing is being
	// sought, but fine as the following header: it is skipped later.
	if hl-1 != varIntLen(rem) || (next && hl+rem > f.maxPacket) || !remOK(t, flags, rem, f.version) {
		return false, false
	}
	total := hl + rem
	// Peek into the variable header where it says something cheap.
	body := b[hl:min(len(b), total)]
	switch t {
	case CONNECT:
		if len(b) < hl+8 {
			return false, true
		}
		known := (body[0] == 0 && body[1] == 4 && string(body[2:6]) == "MQTT") ||
			(body[0] == 0 && body[1] == 6 && rem >= 14 && string(body[2:8]) == "MQIsdp")
		if !known {
			// A wrong protocol name is worth reporting, so it stays
			// plausible when the rest of the header looks like CONNECT:
			// a short name followed by a known level and flags whose
			// reserved bit is clear.
			nl := int(body[1])
			if body[0] != 0 || nl == 0 || nl > 8 {
				return false, false
			}
			if len(body) < 2+nl+2 {
				return false, len(b) < total
			}
			lvl, cf := body[2+nl], body[3+nl]
			if lvl < V31 || lvl > V5 || cf&1 != 0 {
				return false, false
			}
		}
	case CONNACK:
		if len(body) < 2 {
			return false, true
		}
		if body[0] > 1 || (body[1] > 5 && !connack5Codes.has(body[1])) {
			return false, false
		}
		if rem > 2 {
			return f.propsFit(b, hl+2, total, next)
		}
	case PUBLISH:
		if len(body) < 2 {
			return false, true
		}
		tl := int(body[0])<<8 | int(body[1])
		min := 2 + tl
		if flags&0x06 != 0 {
			min += 2
		}
		if min > rem {
			return false, false
		}
		if topic := body[2:]; len(topic) >= tl {
			topic = topic[:tl]
			if !utf8.Valid(topic) || bytes.IndexByte(topic, 0) >= 0 || bytes.IndexAny(topic, "+#") >= 0 {
				return false, false
			}
		}
	case SUBSCRIBE, UNSUBSCRIBE, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK:
		if len(body) < 2 {
			return false, true
		}
		if body[0] == 0 && body[1] == 0 { // packet id 0
			return false, false
		}
		switch t {
		case PUBACK, PUBREC, PUBREL, PUBCOMP:
			if rem > 3 {
				return f.propsFit(b, hl+3, total, next)
			}
		case UNSUBACK:
			if rem > 2 {
				return f.propsFit(b, hl+2, total, next)
			}
		}
	case DISCONNECT, AUTH:
		if rem > 1 {
			return f.propsFit(b, hl+1, total, next)
		}
	}
	return f.nextOK(b, total, next), false
}

// nextOK checks the header after a packet of total bytes, if b holds it.
func (f *Framer) nextOK(b []byte, total int, next bool) bool {
	if next && len(b) > total {
		if ok, short := f.plausible(b[total:], false); !ok && !short {
			return false
		}
	}
	return true
}

// propsFit checks that the MQTT 5 property length at off ends exactly at
// the end of the packet (acknowledgements, DISCONNECT, AUTH: nothing
// follows the properties).
func (f *Framer) propsFit(b []byte, off, total int, next bool) (ok, short bool) {
	plen, end, err := readVarInt(b[:min(len(b), total)], off)
	switch {
	case err == errTruncated && len(b) < total:
		return false, true
	case err != nil:
		return false, false
	case end+int(plen) != total:
		return false, false
	}
	return f.nextOK(b, total, next), false
}
