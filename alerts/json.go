package alerts

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the alert as one JSON object (no newline) in the
// contract's key order to dst and returns the extended buffer. It allocates
// nothing when dst has room.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = appendTime(dst, a.Timestamp)
	dst = append(dst, `,"event_type":`...)
	dst = appendString(dst, orDefault(a.EventType, "alert"))
	if a.SrcIP != "" {
		dst = append(dst, `,"src_ip":`...)
		dst = appendString(dst, a.SrcIP)
	}
	if a.SrcPort != 0 {
		dst = append(dst, `,"src_port":`...)
		dst = strconv.AppendUint(dst, uint64(a.SrcPort), 10)
	}
	if a.DestIP != "" {
		dst = append(dst, `,"dest_ip":`...)
		dst = appendString(dst, a.DestIP)
	}
	if a.DestPort != 0 {
		dst = append(dst, `,"dest_port":`...)
		dst = strconv.AppendUint(dst, uint64(a.DestPort), 10)
	}
	dst = append(dst, `,"proto":`...)
	dst = appendString(dst, orDefault(a.Proto, "TCP"))
	dst = append(dst, `,"app_proto":`...)
	dst = appendString(dst, orDefault(a.AppProto, "mqtt"))

	ai := &a.Alert
	dst = append(dst, `,"alert":{"action":`...)
	dst = appendString(dst, orDefault(ai.Action, "allowed"))
	dst = append(dst, `,"gid":`...)
	dst = strconv.AppendInt(dst, int64(ai.GID), 10)
	dst = append(dst, `,"signature_id":`...)
	dst = strconv.AppendInt(dst, int64(ai.SignatureID), 10)
	dst = append(dst, `,"rev":`...)
	dst = strconv.AppendInt(dst, int64(ai.Rev), 10)
	dst = append(dst, `,"signature":`...)
	dst = appendString(dst, ai.Signature)
	dst = append(dst, `,"category":`...)
	dst = appendString(dst, ai.Category)
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendInt(dst, int64(ai.Severity), 10)
	dst = append(dst, '}')

	if m := a.MQTT; m != nil {
		dst = append(dst, `,"mqtt":{`...)
		sep := false
		if m.ClientID != "" {
			dst = append(dst, `"client_id":`...)
			dst = appendString(dst, m.ClientID)
			sep = true
		}
		if m.Username != "" {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"username":`...)
			dst = appendString(dst, m.Username)
			sep = true
		}
		if m.ProtocolVersion != 0 {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"protocol_version":`...)
			dst = strconv.AppendUint(dst, uint64(m.ProtocolVersion), 10)
		}
		dst = append(dst, '}')
	}

	if d := a.Detection; d != nil {
		dst = append(dst, `,"detection":{"rule":`...)
		dst = appendString(dst, d.Rule)
		dst = append(dst, `,"key":`...)
		dst = appendStringMap(dst, d.Key)
		dst = append(dst, `,"count":`...)
		dst = appendFloat(dst, d.Count)
		dst = append(dst, `,"window_s":`...)
		dst = appendFloat(dst, d.WindowS)
		if !d.FirstSeen.IsZero() {
			dst = append(dst, `,"first_seen":`...)
			dst = appendTime(dst, d.FirstSeen)
		}
		if !d.LastSeen.IsZero() {
			dst = append(dst, `,"last_seen":`...)
			dst = appendTime(dst, d.LastSeen)
		}
		dst = append(dst, '}')
	}

	if b := a.Block; b != nil {
		dst = append(dst, `,"block":{"target":`...)
		dst = appendString(dst, b.Target)
		dst = append(dst, `,"value":`...)
		dst = appendString(dst, b.Value)
		dst = append(dst, `,"ttl_s":`...)
		dst = appendFloat(dst, b.TTLS)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a *Alert) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(make([]byte, 0, 512)), nil
}

// AppendJSON appends the block event as one JSON object (no newline) in the
// contract's key order.
func (b *BlockEvent) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = appendTime(dst, b.Timestamp)
	dst = append(dst, `,"event_type":`...)
	dst = appendString(dst, orDefault(b.EventType, "block"))
	dst = append(dst, `,"op":`...)
	dst = appendString(dst, b.Op)
	dst = append(dst, `,"target":`...)
	dst = appendString(dst, b.Target)
	dst = append(dst, `,"value":`...)
	dst = appendString(dst, b.Value)
	dst = append(dst, `,"ttl_s":`...)
	dst = appendFloat(dst, b.TTLS)
	dst = append(dst, `,"reason":{"signature_id":`...)
	dst = strconv.AppendInt(dst, int64(b.Reason.SignatureID), 10)
	dst = append(dst, `,"category":`...)
	dst = appendString(dst, b.Reason.Category)
	return append(dst, "}}"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (b *BlockEvent) MarshalJSON() ([]byte, error) {
	return b.AppendJSON(make([]byte, 0, 192)), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, TimeFormat)
	return append(dst, '"')
}

// appendFloat writes f as encoding/json does (shortest representation,
// exponent only for very large or small magnitudes). JSON has no NaN or
// infinity; they are written as 0 rather than producing invalid output.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendStringMap writes m with its keys sorted, so equal alerts encode to
// equal bytes. Detection keys have one to three entries: an insertion sort
// over a stack array avoids sort's allocations.
func appendStringMap(dst []byte, m map[string]string) []byte {
	var stack [8]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone (EVE does too); control characters, U+2028/U+2029 and
// invalid UTF-8 (written as U+FFFD) are escaped so every line stays valid
// JSON whatever a client put in its client id.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
