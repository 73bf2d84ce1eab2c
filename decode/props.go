package decode

// MQTT 5 property identifiers.
const (
	PropPayloadFormat        uint8 = 0x01
	PropMessageExpiry        uint8 = 0x02
	PropContentType          uint8 = 0x03
	PropResponseTopic        uint8 = 0x08
	PropCorrelationData      uint8 = 0x09
	PropSubscriptionID       uint8 = 0x0B
	PropSessionExpiry        uint8 = 0x11
	PropAssignedClientID     uint8 = 0x12
	PropServerKeepAlive      uint8 = 0x13
	PropAuthMethod           uint8 = 0x15
	PropAuthData             uint8 = 0x16
	PropRequestProblemInfo   uint8 = 0x17
	PropWillDelay            uint8 = 0x18
	PropRequestResponseInfo  uint8 = 0x19
	PropResponseInfo         uint8 = 0x1A
	PropServerReference      uint8 = 0x1C
	PropReasonString         uint8 = 0x1F
	PropReceiveMaximum       uint8 = 0x21
	PropTopicAliasMaximum    uint8 = 0x22
	PropTopicAlias           uint8 = 0x23
	PropMaximumQoS           uint8 = 0x24
	PropRetainAvailable      uint8 = 0x25
	PropUser                 uint8 = 0x26
	PropMaximumPacketSize    uint8 = 0x27
	PropWildcardSubAvailable uint8 = 0x28
	PropSubIDAvailable       uint8 = 0x29
	PropSharedSubAvailable   uint8 = 0x2A
)

// PropKind is the wire type of a property value.
type PropKind uint8

const (
	KindUnknown PropKind = iota
	KindByte
	KindUint16
	KindUint32
	KindVarInt
	KindString // UTF-8 string, in Data
	KindBinary // binary data, in Data
	KindPair   // UTF-8 string pair, Key and Data
)

// where a property may appear: bit 1<<Type, and bit 0 (Reserved) stands
// for the will properties of CONNECT.
const willBit = 1 << Reserved

type propInfo struct {
	name  string
	kind  PropKind
	where uint16
}

func bits(ts ...Type) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

var propTable = [0x2B]propInfo{
	PropPayloadFormat:        {"payload_format_indicator", KindByte, bits(PUBLISH, Reserved)},
	PropMessageExpiry:        {"message_expiry_interval", KindUint32, bits(PUBLISH, Reserved)},
	PropContentType:          {"content_type", KindString, bits(PUBLISH, Reserved)},
	PropResponseTopic:        {"response_topic", KindString, bits(PUBLISH, Reserved)},
	PropCorrelationData:      {"correlation_data", KindBinary, bits(PUBLISH, Reserved)},
	PropSubscriptionID:       {"subscription_identifier", KindVarInt, bits(PUBLISH, SUBSCRIBE)},
	PropSessionExpiry:        {"session_expiry_interval", KindUint32, bits(CONNECT, CONNACK, DISCONNECT)},
	PropAssignedClientID:     {"assigned_client_identifier", KindString, bits(CONNACK)},
	PropServerKeepAlive:      {"server_keep_alive", KindUint16, bits(CONNACK)},
	PropAuthMethod:           {"authentication_method", KindString, bits(CONNECT, CONNACK, AUTH)},
	PropAuthData:             {"authentication_data", KindBinary, bits(CONNECT, CONNACK, AUTH)},
	PropRequestProblemInfo:   {"request_problem_information", KindByte, bits(CONNECT)},
	PropWillDelay:            {"will_delay_interval", KindUint32, bits(Reserved)},
	PropRequestResponseInfo:  {"request_response_information", KindByte, bits(CONNECT)},
	PropResponseInfo:         {"response_information", KindString, bits(CONNACK)},
	PropServerReference:      {"server_reference", KindString, bits(CONNACK, DISCONNECT)},
	PropReasonString:         {"reason_string", KindString, bits(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH)},
	PropReceiveMaximum:       {"receive_maximum", KindUint16, bits(CONNECT, CONNACK)},
	PropTopicAliasMaximum:    {"topic_alias_maximum", KindUint16, bits(CONNECT, CONNACK)},
	PropTopicAlias:           {"topic_alias", KindUint16, bits(PUBLISH)},
	PropMaximumQoS:           {"maximum_qos", KindByte, bits(CONNACK)},
	PropRetainAvailable:      {"retain_available", KindByte, bits(CONNACK)},
	PropUser:                 {"user_property", KindPair, 0xffff},
	PropMaximumPacketSize:    {"maximum_packet_size", KindUint32, bits(CONNECT, CONNACK)},
	PropWildcardSubAvailable: {"wildcard_subscription_available", KindByte, bits(CONNACK)},
	PropSubIDAvailable:       {"subscription_identifier_available", KindByte, bits(CONNACK)},
	PropSharedSubAvailable:   {"shared_subscription_available", KindByte, bits(CONNACK)},
}

// PropertyName is the name of a v5 property as used in the JSON output
// ("session_expiry_interval", "user_property", ...), or "" when id is not a
// property.
func PropertyName(id uint8) string {
	if int(id) < len(propTable) {
		return propTable[id].name
	}
	return ""
}

// PropertyKind is the wire type of property id (KindUnknown when id is not
// a property).
func PropertyKind(id uint8) PropKind {
	if int(id) < len(propTable) {
		return propTable[id].kind
	}
	return KindUnknown
}

// Prop returns the first property with identifier id.
func (p *Packet) Prop(id uint8) (Property, bool) {
	for _, pr := range p.Props {
		if pr.ID == id {
			return pr, true
		}
	}
	return Property{}, false
}

// readProps reads a property length and the properties it covers, appending
// them to dst. On error it returns the offset of the offending byte and the
// properties read so far.
func readProps(msg []byte, off int, dst []Property) ([]Property, int, error) {
	plen, off, err := readVarInt(msg, off)
	if err != nil {
		return dst, off, err
	}
	end := off + int(plen)
	if end > len(msg) {
		return dst, off, errTruncated
	}
	body := msg[:end]
	for off < end {
		id := body[off]
		if int(id) >= len(propTable) || propTable[id].kind == KindUnknown {
			return dst, off, errUnknownProp
		}
		start := off
		off++
		pr := Property{ID: id}
		switch propTable[id].kind {
		case KindByte:
			var v uint8
			v, off, err = readByte(body, off)
			pr.Int = uint32(v)
		case KindUint16:
			var v uint16
			v, off, err = readUint16(body, off)
			pr.Int = uint32(v)
		case KindUint32:
			pr.Int, off, err = readUint32(body, off)
		case KindVarInt:
			pr.Int, off, err = readVarInt(body, off)
		case KindString, KindBinary:
			pr.Data, off, err = readBytes(body, off)
		case KindPair:
			pr.Key, off, err = readBytes(body, off)
			if err == nil {
				pr.Data, off, err = readBytes(body, off)
			}
		}
		if err != nil {
			return dst, start, err
		}
		dst = append(dst, pr)
	}
	return dst, off, nil
}

// propsLen is the encoded size of props without the length prefix.
func propsLen(props []Property) int {
	n := 0
	for i := range props {
		pr := &props[i]
		n++
		switch PropertyKind(pr.ID) {
		case KindByte:
			n++
		case KindUint16:
			n += 2
		case KindUint32:
			n += 4
		case KindVarInt:
			n += varIntLen(int(pr.Int))
		case KindString, KindBinary:
			n += 2 + len(pr.Data)
		case KindPair:
			n += 4 + len(pr.Key) + len(pr.Data)
		}
	}
	return n
}

func appendProps(b []byte, props []Property) []byte {
	b = appendVarInt(b, uint32(propsLen(props)))
	for i := range props {
		pr := &props[i]
		b = append(b, pr.ID)
		switch PropertyKind(pr.ID) {
		case KindByte:
			b = append(b, byte(pr.Int))
		case KindUint16:
			b = appendUint16(b, uint16(pr.Int))
		case KindUint32:
			b = appendUint32(b, pr.Int)
		case KindVarInt:
			b = appendVarInt(b, pr.Int)
		case KindString, KindBinary:
			b = appendBytes(b, pr.Data)
		case KindPair:
			b = appendBytes(b, pr.Key)
			b = appendBytes(b, pr.Data)
		}
	}
	return b
}
