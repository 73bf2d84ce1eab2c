package capture

import (
	"net/netip"
	"strconv"

	"mqttids/decode"
	"mqttids/event"
	"mqttids/internal/eve"
)

// AppendDecodeJSON appends the `mqttids decode` JSON line (with the
// trailing newline) for an MQTT or Malformed event, with the keys of the
// contract's "decode output". Passwords appear only as password_len,
// payloads only as payload_len, binary properties only as their length.
// Other event kinds append nothing.
func AppendDecodeJSON(dst []byte, ev *event.Event) []byte {
	if ev.Kind != event.MQTT && ev.Kind != event.Malformed {
		return dst
	}
	src, dstAP := ev.Flow.Client, ev.Flow.Server
	if !ev.FromClient {
		src, dstAP = dstAP, src
	}
	dst = append(dst, `{"ts":`...)
	dst = eve.AppendTime(dst, ev.Time)
	dst = appendAddr(dst, "src", src)
	dst = appendAddr(dst, "dest", dstAP)
	p := ev.Packet
	if p != nil {
		dst = append(dst, `,"type":`...)
		dst = eve.AppendString(dst, p.Type.String())
		version := uint8(0)
		switch {
		case p.Type == decode.CONNECT:
			version = p.ProtocolLevel
		case ev.Conn != nil && ev.Conn.ConnectSeen:
			version = ev.Conn.Version
		}
		if version != 0 {
			dst = appendUint(dst, "protocol_version", uint64(version))
		}
		dst = appendPacket(dst, p)
	}
	if ev.Kind == event.Malformed && ev.Err != nil {
		dst = append(dst, `,"error":`...)
		dst = eve.AppendString(dst, ev.Err.Error())
	}
	return append(dst, "}\n"...)
}

func appendAddr(dst []byte, prefix string, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return dst
	}
	dst = append(dst, `,"`...)
	dst = append(dst, prefix...)
	dst = append(dst, `_ip":"`...)
	dst = ap.Addr().AppendTo(dst)
	dst = append(dst, '"')
	return appendUint(dst, prefix+"_port", uint64(ap.Port()))
}

func appendPacket(dst []byte, p *decode.Packet) []byte {
	v5 := p.Version == decode.V5
	switch p.Type {
	case decode.CONNECT:
		dst = appendBytes(dst, "client_id", p.ClientID)
		if p.HasUsername() {
			dst = appendBytes(dst, "username", p.Username)
		}
		if p.HasPassword() {
			dst = appendUint(dst, "password_len", uint64(len(p.Password)))
		}
		dst = appendUint(dst, "keep_alive", uint64(p.KeepAlive))
		dst = appendBool(dst, "clean_start", p.CleanStart())
		if p.WillFlag() {
			dst = appendBytes(dst, "will_topic", p.WillTopic)
		}
	case decode.CONNACK:
		dst = appendBool(dst, "session_present", p.SessionPresent)
		dst = appendUint(dst, "reason_code", uint64(p.ReasonCode))
	case decode.PUBLISH:
		dst = appendBytes(dst, "topic", p.Topic)
		dst = appendUint(dst, "qos", uint64(p.QoS()))
		dst = appendBool(dst, "retain", p.Retain())
		dst = appendBool(dst, "dup", p.Dup())
		if p.QoS() > 0 {
			dst = appendUint(dst, "packet_id", uint64(p.PacketID))
		}
		dst = appendUint(dst, "payload_len", uint64(len(p.Payload)))
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		dst = appendUint(dst, "packet_id", uint64(p.PacketID))
		if v5 {
			dst = appendUint(dst, "reason_code", uint64(p.ReasonCode))
		}
	case decode.SUBSCRIBE:
		dst = appendUint(dst, "packet_id", uint64(p.PacketID))
		dst = append(dst, `,"filters":[`...)
		for i, f := range p.Filters {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"filter":`...)
			dst = eve.AppendBytes(dst, f.Topic)
			dst = append(dst, `,"qos":`...)
			dst = strconv.AppendUint(dst, uint64(f.Options&3), 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	case decode.UNSUBSCRIBE:
		dst = appendUint(dst, "packet_id", uint64(p.PacketID))
		dst = append(dst, `,"filters":[`...)
		for i, f := range p.Filters {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = eve.AppendBytes(dst, f.Topic)
		}
		dst = append(dst, ']')
	case decode.SUBACK, decode.UNSUBACK:
		dst = appendUint(dst, "packet_id", uint64(p.PacketID))
		if p.Type == decode.SUBACK || v5 {
			dst = append(dst, `,"reason_codes":[`...)
			for i, c := range p.ReasonCodes {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendUint(dst, uint64(c), 10)
			}
			dst = append(dst, ']')
		}
	case decode.DISCONNECT, decode.AUTH:
		if v5 {
			dst = appendUint(dst, "reason_code", uint64(p.ReasonCode))
		}
	}
	if v5 && len(p.Props) > 0 {
		dst = append(dst, `,"properties":{`...)
		dst = appendProps(dst, p.Props)
		dst = append(dst, '}')
	}
	return dst
}

// propKind maps decode's property kinds to how they are written: strings,
// binary data (its length only: it may be authentication data), string
// pairs, integers.
func propKind(id uint8) byte {
	switch decode.PropertyKind(id) {
	case decode.KindString:
		return 's'
	case decode.KindBinary:
		return 'b'
	case decode.KindPair:
		return 'u'
	}
	return 'i'
}

func appendProps(dst []byte, props []decode.Property) []byte {
	first := true
	for i, pr := range props {
		// Repeated identifiers (user properties, subscription
		// identifiers) are gathered into one array at the first one.
		seen, repeated := false, false
		for j := range props {
			if props[j].ID == pr.ID {
				if j < i {
					seen = true
					break
				}
				if j > i {
					repeated = true
				}
			}
		}
		if seen {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		kind := propKind(pr.ID)
		name := decode.PropertyName(pr.ID)
		if name == "" {
			name = "property_" + strconv.Itoa(int(pr.ID))
		}
		if kind == 'b' {
			name += "_len"
		}
		dst = eve.AppendString(dst, name)
		dst = append(dst, ':')
		if !repeated && kind != 'u' {
			dst = appendPropValue(dst, kind, &pr)
			continue
		}
		dst = append(dst, '[')
		for j := i; j < len(props); j++ {
			if props[j].ID != pr.ID {
				continue
			}
			if j > i {
				dst = append(dst, ',')
			}
			dst = appendPropValue(dst, kind, &props[j])
		}
		dst = append(dst, ']')
	}
	return dst
}

func appendPropValue(dst []byte, kind byte, pr *decode.Property) []byte {
	switch kind {
	case 's':
		return eve.AppendBytes(dst, pr.Data)
	case 'b':
		return strconv.AppendUint(dst, uint64(len(pr.Data)), 10)
	case 'u':
		dst = append(dst, `{"key":`...)
		dst = eve.AppendBytes(dst, pr.Key)
		dst = append(dst, `,"value":`...)
		dst = eve.AppendBytes(dst, pr.Data)
		return append(dst, '}')
	}
	return strconv.AppendUint(dst, uint64(pr.Int), 10)
}

func appendUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	return strconv.AppendUint(dst, v, 10)
}

func appendBool(dst []byte, key string, v bool) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	return strconv.AppendBool(dst, v)
}

func appendBytes(dst []byte, key string, v []byte) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	return eve.AppendBytes(dst, v)
}
