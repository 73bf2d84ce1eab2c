package decode

// Wire primitives in the style of golang.org/x/net/dns/dnsmessage: each
// takes the message and an offset and returns the value and the offset after
// it. msg is always one whole packet (or, for the fixed header, whatever has
// arrived), so running off its end means the field is truncated.

// maxVarInt is the largest value a variable byte integer can carry.
const maxVarInt = 268435455

func readByte(msg []byte, off int) (uint8, int, error) {
	if off >= len(msg) {
		return 0, off, errTruncated
	}
	return msg[off], off + 1, nil
}

func readUint16(msg []byte, off int) (uint16, int, error) {
	if off+2 > len(msg) {
		return 0, off, errTruncated
	}
	return uint16(msg[off])<<8 | uint16(msg[off+1]), off + 2, nil
}

func readUint32(msg []byte, off int) (uint32, int, error) {
	if off+4 > len(msg) {
		return 0, off, errTruncated
	}
	return uint32(msg[off])<<24 | uint32(msg[off+1])<<16 | uint32(msg[off+2])<<8 | uint32(msg[off+3]), off + 4, nil
}

// readVarInt reads a variable byte integer. errTruncated when msg ends
// inside it, errVarIntTooLong when a fourth byte still has its continuation
// bit set (checked before the fifth byte is needed).
func readVarInt(msg []byte, off int) (uint32, int, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if off+i >= len(msg) {
			return 0, off, errTruncated
		}
		c := msg[off+i]
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, off + i + 1, nil
		}
	}
	return 0, off + 4, errVarIntTooLong
}

// varIntLen is how many bytes the minimal encoding of v takes.
func varIntLen(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

// readBytes reads a two-byte length and that many bytes (UTF-8 string or
// binary data), returning a view into msg.
func readBytes(msg []byte, off int) ([]byte, int, error) {
	n, off1, err := readUint16(msg, off)
	if err != nil {
		return nil, off, err
	}
	end := off1 + int(n)
	if end > len(msg) {
		return nil, off, errTruncated
	}
	return msg[off1:end:end], end, nil
}

// parseHeader reads the fixed header from the start of b. It returns
// ErrShortBuffer when b ends inside the header, errVarIntTooLong for a
// remaining length over four bytes (hl then counts the bytes read).
func parseHeader(b []byte) (typ Type, flags uint8, rem, hl int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, 0, ErrShortBuffer
	}
	typ, flags = Type(b[0]>>4), b[0]&0x0f
	v, off, err := readVarInt(b, 1)
	switch err {
	case nil:
	case errTruncated:
		return typ, flags, 0, 0, ErrShortBuffer
	default:
		return typ, flags, 0, off, err
	}
	return typ, flags, int(v), off, nil
}

func appendUint16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendVarInt(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendBytes(b []byte, s []byte) []byte {
	b = appendUint16(b, uint16(len(s)))
	return append(b, s...)
}
