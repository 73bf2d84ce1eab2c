package decode

var typeNames = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String is the packet type's name as in the specification ("CONNECT"),
// "RESERVED" for type 0 and anything out of range.
func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "RESERVED"
}

// DefaultMaxPacketSize is the packet size limit when none is configured:
// 256 MiB, the largest remaining length (268435455) plus the longest fixed
// header, so that every packet the protocol can express is accepted.
const DefaultMaxPacketSize = maxVarInt + 5

// Decoder decodes single control packets. Its zero value decodes MQTT 3.1.1
// layouts with the default size limit. A Decoder is not safe for concurrent
// use: the *MalformedError and *TooLargeError it returns live inside it and
// are overwritten by the next call (so that reporting a violation does not
// allocate); copy the value to keep it.
type Decoder struct {
	// Version is the connection's protocol level (3, 4 or 5), which decides
	// the layout of every packet but CONNECT (which carries its own). 0
	// means unknown and decodes 3.1.1 layouts.
	Version uint8
	// MaxPacketSize limits the size on the wire (fixed header plus
	// remaining length) of a packet; 0 means DefaultMaxPacketSize.
	MaxPacketSize int

	merr     MalformedError
	tooLarge TooLargeError
}

func (d *Decoder) maxSize() int {
	if d.MaxPacketSize > 0 {
		return d.MaxPacketSize
	}
	return DefaultMaxPacketSize
}

func (d *Decoder) layout() uint8 {
	if d.Version-V31 <= V5-V31 {
		return d.Version
	}
	return V311
}

func (d *Decoder) fail(off int, field, rule string, err error) error {
	d.merr = MalformedError{Off: off, Field: field, Rule: rule, Err: err}
	return &d.merr
}

// Groups of Packet fields, for Packet.filled.
const (
	filledDecoded  uint8 = 1 << iota // p was last written by Decode
	filledConnect                    // CONNECT fields
	filledConnack                    // SessionPresent, ConnackFlags
	filledPublish                    // Topic, Payload
	filledFilters                    // Filters
	filledCodes                      // ReasonCodes
	filledWillProp                   // WillProps
)

// reset clears p but keeps the backing arrays of its slices. When p was
// last written by Decode only the groups of fields it set are cleared.
func (p *Packet) reset() {
	f := p.filled
	if f&filledDecoded == 0 {
		props, willProps, filters := p.Props[:0], p.WillProps[:0], p.Filters[:0]
		*p = Packet{}
		p.Props, p.WillProps, p.Filters = props, willProps, filters
		p.filled = filledDecoded
		return
	}
	p.Type, p.Flags, p.Len, p.Version = 0, 0, 0, 0
	p.ReasonCode, p.PacketID = 0, 0
	p.Props = p.Props[:0]
	if f&filledConnect != 0 {
		p.ProtocolName, p.ProtocolLevel, p.ConnectFlags, p.KeepAlive = nil, 0, 0, 0
		p.ClientID, p.WillTopic, p.WillPayload, p.Username, p.Password = nil, nil, nil, nil, nil
	}
	if f&filledWillProp != 0 {
		p.WillProps = p.WillProps[:0]
	}
	if f&filledConnack != 0 {
		p.SessionPresent, p.ConnackFlags = false, 0
	}
	if f&filledPublish != 0 {
		p.Topic, p.Payload = nil, nil
	}
	if f&filledFilters != 0 {
		p.Filters = p.Filters[:0]
	}
	if f&filledCodes != 0 {
		p.ReasonCodes = nil
	}
	p.filled = filledDecoded
}

// Decode decodes the packet at the start of b into p, reusing p's slices.
// The byte-slice fields of p are views into b.
//
// It returns the packet's size n and:
//   - nil: p holds the packet;
//   - ErrShortBuffer (n 0): b ends before the packet does;
//   - *MalformedError: the packet breaks its layout (a field runs past the
//     remaining length, bytes are left over, an unknown property...); p is
//     filled as far as decoding got, and n still covers the whole packet so
//     that a stream can continue after it. For a remaining length longer
//     than four bytes n covers only the bytes read: the stream has lost
//     framing.
//   - *TooLargeError (n 0): the packet is larger than MaxPacketSize; its
//     Size says how many bytes to skip. Nothing of that size is allocated.
//
// Decode checks the layout only; Validate checks the rest of the
// specification (reserved flags, UTF-8, packet ids...).
func (d *Decoder) Decode(b []byte, p *Packet) (n int, err error) {
	typ, flags, rem, hl, err := parseHeader(b)
	if err == ErrShortBuffer {
		p.reset()
		return 0, ErrShortBuffer
	}
	if err != nil {
		p.reset()
		p.Type, p.Flags, p.Len, p.Version = typ, flags, hl, d.layout()
		return hl, d.fail(1, "remaining length", RuleVarInt, err)
	}
	total := hl + rem
	if max := d.maxSize(); total > max {
		p.reset()
		p.Type, p.Flags, p.Len, p.Version = typ, flags, total, d.layout()
		d.tooLarge = TooLargeError{Size: total, Max: max}
		return 0, &d.tooLarge
	}
	if len(b) < total {
		p.reset()
		return 0, ErrShortBuffer
	}
	return total, d.frame(b[:total:total], typ, flags, hl, p)
}

// frame decodes msg, one whole packet whose fixed header is already parsed.
func (d *Decoder) frame(msg []byte, typ Type, flags uint8, hl int, p *Packet) error {
	p.reset()
	p.Type, p.Flags, p.Len, p.Version = typ, flags, len(msg), d.layout()
	if err := d.body(msg, hl, p); err != nil {
		return err
	}
	if hl-1 != varIntLen(len(msg)-hl) {
		return d.fail(1, "remaining length", RuleVarIntMinimal, errVarIntNotMin)
	}
	return nil
}

// body decodes the variable header and payload of msg (one whole packet)
// starting at off, the first byte after the fixed header.
func (d *Decoder) body(msg []byte, off int, p *Packet) error {
	var err error
	v5 := p.Version == V5
	switch p.Type {
	case CONNECT:
		p.filled |= filledConnect
		return d.connect(msg, off, p)

	case CONNACK:
		p.filled |= filledConnack
		var f uint8
		if f, off, err = readByte(msg, off); err != nil {
			return d.fail(off, "connack flags", RuleRemainingLength, err)
		}
		p.ConnackFlags, p.SessionPresent = f, f&1 != 0
		if p.ReasonCode, off, err = readByte(msg, off); err != nil {
			return d.fail(off, "reason code", RuleRemainingLength, err)
		}
		if v5 && off < len(msg) {
			if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
				return d.propFail(off, "properties", err)
			}
		}

	case PUBLISH:
		p.filled |= filledPublish
		if p.Topic, off, err = readBytes(msg, off); err != nil {
			return d.fail(off, "topic", RuleTopicName, err)
		}
		if p.QoS() > 0 {
			if p.PacketID, off, err = readUint16(msg, off); err != nil {
				return d.fail(off, "packet id", RuleRemainingLength, err)
			}
		}
		if v5 {
			if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
				return d.propFail(off, "properties", err)
			}
		}
		p.Payload = msg[off:]
		return nil

	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		if p.PacketID, off, err = readUint16(msg, off); err != nil {
			return d.fail(off, "packet id", RuleRemainingLength, err)
		}
		if v5 && off < len(msg) {
			p.ReasonCode, off = msg[off], off+1
			if off < len(msg) {
				if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
					return d.propFail(off, "properties", err)
				}
			}
		}

	case SUBSCRIBE, UNSUBSCRIBE:
		p.filled |= filledFilters
		if p.PacketID, off, err = readUint16(msg, off); err != nil {
			return d.fail(off, "packet id", RuleRemainingLength, err)
		}
		if v5 {
			if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
				return d.propFail(off, "properties", err)
			}
		}
		for off < len(msg) {
			var f Filter
			if f.Topic, off, err = readBytes(msg, off); err != nil {
				return d.fail(off, "topic filter", RuleRemainingLength, err)
			}
			if p.Type == SUBSCRIBE {
				if f.Options, off, err = readByte(msg, off); err != nil {
					return d.fail(off, "subscription options", RuleRemainingLength, err)
				}
			}
			p.Filters = append(p.Filters, f)
		}
		return nil

	case SUBACK, UNSUBACK:
		p.filled |= filledCodes
		if p.PacketID, off, err = readUint16(msg, off); err != nil {
			return d.fail(off, "packet id", RuleRemainingLength, err)
		}
		if v5 {
			if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
				return d.propFail(off, "properties", err)
			}
		}
		if p.Type == SUBACK || v5 {
			p.ReasonCodes = msg[off:]
			return nil
		}

	case PINGREQ, PINGRESP:

	case DISCONNECT, AUTH:
		// AUTH exists only in MQTT 5; under an older version it is decoded
		// with the MQTT 5 layout and Validate reports it.
		if (v5 || p.Type == AUTH) && off < len(msg) {
			p.ReasonCode, off = msg[off], off+1
			if off < len(msg) {
				if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
					return d.propFail(off, "properties", err)
				}
			}
		}

	default: // Reserved
		return d.fail(0, "packet type", RuleReservedType, errReservedType)
	}
	if off != len(msg) {
		return d.fail(off, "remaining length", RuleRemainingLength, errTrailing)
	}
	return nil
}

func (d *Decoder) propFail(off int, field string, err error) error {
	switch err {
	case errUnknownProp:
		return d.fail(off, field, RuleProperty, err)
	case errVarIntTooLong:
		return d.fail(off, field, RuleVarInt, err)
	}
	return d.fail(off, field, RuleRemainingLength, err)
}

// connectVersion is the protocol version a CONNECT announces: its level
// when that is 3, 4 or 5, else 3 for the name "MQIsdp", else fallback.
func connectVersion(name []byte, level uint8, fallback uint8) uint8 {
	switch level {
	case V31, V311, V5:
		return level
	}
	if string(name) == "MQIsdp" {
		return V31
	}
	return fallback
}

func (d *Decoder) connect(msg []byte, off int, p *Packet) error {
	var err error
	if p.ProtocolName, off, err = readBytes(msg, off); err != nil {
		return d.fail(off, "protocol name", RuleProtocolName, err)
	}
	if p.ProtocolLevel, off, err = readByte(msg, off); err != nil {
		return d.fail(off, "protocol level", RuleRemainingLength, err)
	}
	p.Version = connectVersion(p.ProtocolName, p.ProtocolLevel, p.Version)
	if p.ConnectFlags, off, err = readByte(msg, off); err != nil {
		return d.fail(off, "connect flags", RuleRemainingLength, err)
	}
	if p.KeepAlive, off, err = readUint16(msg, off); err != nil {
		return d.fail(off, "keep alive", RuleRemainingLength, err)
	}
	v5 := p.Version == V5
	if v5 {
		if p.Props, off, err = readProps(msg, off, p.Props); err != nil {
			return d.propFail(off, "properties", err)
		}
	}
	if p.ClientID, off, err = readBytes(msg, off); err != nil {
		return d.fail(off, "client id", RuleClientID, err)
	}
	if p.WillFlag() {
		if v5 {
			p.filled |= filledWillProp
			if p.WillProps, off, err = readProps(msg, off, p.WillProps); err != nil {
				if err == errTruncated {
					return d.fail(off, "will properties", RuleWillPresent, err)
				}
				return d.propFail(off, "will properties", err)
			}
		}
		if p.WillTopic, off, err = readBytes(msg, off); err != nil {
			return d.fail(off, "will topic", RuleWillPresent, err)
		}
		if p.WillPayload, off, err = readBytes(msg, off); err != nil {
			return d.fail(off, "will payload", RuleWillPresent, err)
		}
	}
	if p.HasUsername() {
		if p.Username, off, err = readBytes(msg, off); err != nil {
			return d.fail(off, "username", RuleUsername, err)
		}
	}
	if p.HasPassword() {
		if p.Password, off, err = readBytes(msg, off); err != nil {
			return d.fail(off, "password", RulePassword, err)
		}
	}
	if off != len(msg) {
		return d.fail(off, "remaining length", RuleRemainingLength, errTrailing)
	}
	return nil
}
