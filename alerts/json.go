package alerts

import (
	"math"
	"strconv"
	"time"

	"mqttids/internal/eve"
)

// AppendJSON appends the alert as one JSON object (no newline) in the
// contract's key order to dst and returns the extended buffer. It allocates
// nothing when dst has room.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = appendTime(dst, a.Timestamp)
	dst = append(dst, `,"event_type":`...)
	dst = eve.AppendString(dst, orDefault(a.EventType, "alert"))
	if a.SrcIP != "" {
		dst = append(dst, `,"src_ip":`...)
		dst = eve.AppendString(dst, a.SrcIP)
	}
	if a.SrcPort != 0 {
		dst = append(dst, `,"src_port":`...)
		dst = strconv.AppendUint(dst, uint64(a.SrcPort), 10)
	}
	if a.DestIP != "" {
		dst = append(dst, `,"dest_ip":`...)
		dst = eve.AppendString(dst, a.DestIP)
	}
	if a.DestPort != 0 {
		dst = append(dst, `,"dest_port":`...)
		dst = strconv.AppendUint(dst, uint64(a.DestPort), 10)
	}
	dst = append(dst, `,"proto":`...)
	dst = eve.AppendString(dst, orDefault(a.Proto, "TCP"))
	dst = append(dst, `,"app_proto":`...)
	dst = eve.AppendString(dst, orDefault(a.AppProto, "mqtt"))

	ai := &a.Alert
	dst = append(dst, `,"alert":{"action":`...)
	dst = eve.AppendString(dst, orDefault(ai.Action, "allowed"))
	dst = append(dst, `,"gid":`...)
	dst = strconv.AppendInt(dst, int64(ai.GID), 10)
	dst = append(dst, `,"signature_id":`...)
	dst = strconv.AppendInt(dst, int64(ai.SignatureID), 10)
	dst = append(dst, `,"rev":`...)
	dst = strconv.AppendInt(dst, int64(ai.Rev), 10)
	dst = append(dst, `,"signature":`...)
	dst = eve.AppendString(dst, ai.Signature)
	dst = append(dst, `,"category":`...)
	dst = eve.AppendString(dst, ai.Category)
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendInt(dst, int64(ai.Severity), 10)
	dst = append(dst, '}')

	if m := a.MQTT; m != nil {
		dst = append(dst, `,"mqtt":{`...)
		sep := false
		if m.ClientID != "" {
			dst = append(dst, `"client_id":`...)
			dst = eve.AppendString(dst, m.ClientID)
			sep = true
		}
		if m.Username != "" {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"username":`...)
			dst = eve.AppendString(dst, m.Username)
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
		dst = eve.AppendString(dst, d.Rule)
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
		dst = eve.AppendString(dst, b.Target)
		dst = append(dst, `,"value":`...)
		dst = eve.AppendString(dst, b.Value)
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
	dst = eve.AppendString(dst, orDefault(b.EventType, "block"))
	dst = append(dst, `,"op":`...)
	dst = eve.AppendString(dst, b.Op)
	dst = append(dst, `,"target":`...)
	dst = eve.AppendString(dst, b.Target)
	dst = append(dst, `,"value":`...)
	dst = eve.AppendString(dst, b.Value)
	dst = append(dst, `,"ttl_s":`...)
	dst = appendFloat(dst, b.TTLS)
	dst = append(dst, `,"reason":{"signature_id":`...)
	dst = strconv.AppendInt(dst, int64(b.Reason.SignatureID), 10)
	dst = append(dst, `,"category":`...)
	dst = eve.AppendString(dst, b.Reason.Category)
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

// appendTime writes t in UTC ("+0000") whatever its location.
func appendTime(dst []byte, t time.Time) []byte { return eve.AppendTime(dst, t.UTC()) }

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
		dst = eve.AppendString(dst, k)
		dst = append(dst, ':')
		dst = eve.AppendString(dst, m[k])
	}
	return append(dst, '}')
}
