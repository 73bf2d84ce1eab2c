package decode

// Append encodes p and appends it to dst. The layout follows p.Version (0
// means 3.1.1); CONNECT uses p.Version too, so a decoded packet re-encodes
// as it was read. Fields a packet type does not carry are ignored. The
// remaining length is always minimally encoded, and optional v5 fields
// (reason code 0 without properties) are left out, so the bytes may differ
// from a decoded original while decoding to the same fields.
func Append(dst []byte, p *Packet) []byte {
	start := len(dst)
	// Reserve the largest fixed header, encode the body, then move the
	// body down behind the real header.
	dst = append(dst, byte(p.Type)<<4|p.Flags&0x0f, 0, 0, 0, 0)
	body := len(dst)
	dst = appendBody(dst, p)
	rem := len(dst) - body
	var hdr [4]byte
	h := appendVarInt(hdr[:0], uint32(rem))
	copy(dst[start+1:], h)
	if len(h) < 4 {
		copy(dst[start+1+len(h):], dst[body:])
		dst = dst[:start+1+len(h)+rem]
	}
	return dst
}

func appendBody(b []byte, p *Packet) []byte {
	v5 := p.Version == V5
	switch p.Type {
	case CONNECT:
		b = appendBytes(b, p.ProtocolName)
		b = append(b, p.ProtocolLevel, p.ConnectFlags)
		b = appendUint16(b, p.KeepAlive)
		if v5 {
			b = appendProps(b, p.Props)
		}
		b = appendBytes(b, p.ClientID)
		if p.WillFlag() {
			if v5 {
				b = appendProps(b, p.WillProps)
			}
			b = appendBytes(b, p.WillTopic)
			b = appendBytes(b, p.WillPayload)
		}
		if p.HasUsername() {
			b = appendBytes(b, p.Username)
		}
		if p.HasPassword() {
			b = appendBytes(b, p.Password)
		}
	case CONNACK:
		f := p.ConnackFlags &^ 1
		if p.SessionPresent {
			f |= 1
		}
		b = append(b, f, p.ReasonCode)
		if v5 {
			b = appendProps(b, p.Props)
		}
	case PUBLISH:
		b = appendBytes(b, p.Topic)
		if p.QoS() > 0 {
			b = appendUint16(b, p.PacketID)
		}
		if v5 {
			b = appendProps(b, p.Props)
		}
		b = append(b, p.Payload...)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		b = appendUint16(b, p.PacketID)
		if v5 {
			b = appendReasonProps(b, p)
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		b = appendUint16(b, p.PacketID)
		if v5 {
			b = appendProps(b, p.Props)
		}
		for _, f := range p.Filters {
			b = appendBytes(b, f.Topic)
			if p.Type == SUBSCRIBE {
				b = append(b, f.Options)
			}
		}
	case SUBACK, UNSUBACK:
		b = appendUint16(b, p.PacketID)
		if v5 {
			b = appendProps(b, p.Props)
		}
		if p.Type == SUBACK || v5 {
			b = append(b, p.ReasonCodes...)
		}
	case DISCONNECT, AUTH:
		if v5 || p.Type == AUTH {
			b = appendReasonProps(b, p)
		}
	}
	return b
}

// appendReasonProps writes the optional reason code and properties of the
// v5 acknowledgements, DISCONNECT and AUTH: both are omitted when the
// reason is 0 and there are no properties.
func appendReasonProps(b []byte, p *Packet) []byte {
	if p.ReasonCode == 0 && len(p.Props) == 0 {
		return b
	}
	b = append(b, p.ReasonCode)
	if len(p.Props) > 0 {
		b = appendProps(b, p.Props)
	}
	return b
}
