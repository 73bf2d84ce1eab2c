package alerts

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"mqttids/block"
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
		dst = d.Key.AppendJSON(dst)
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

// AppendBlockEvent appends the block event as one JSON object (no newline)
// in the contract's key order. It allocates nothing when dst has room.
func AppendBlockEvent(dst []byte, b *block.Event) []byte {
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

// AppendJSON appends the key as a JSON object (see Key for the order).
func (k *Key) AppendJSON(dst []byte) []byte {
	conn := k.SrcIP.IsValid() && k.DestIP.IsValid()
	dst = append(dst, '{')
	n := len(dst)
	sep := func(dst []byte, name string) []byte {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		return append(dst, '"', ':')
	}
	if k.ClientID != "" {
		dst = eve.AppendString(sep(dst, "client_id"), k.ClientID)
	}
	if k.DestIP.IsValid() {
		dst = appendAddr(sep(dst, "dest_ip"), k.DestIP)
	}
	if k.DestPort != 0 || conn {
		dst = appendPort(sep(dst, "dest_port"), k.DestPort)
	}
	if k.SrcIP.IsValid() {
		dst = appendAddr(sep(dst, "src_ip"), k.SrcIP)
	}
	if k.SrcPort != 0 || conn {
		dst = appendPort(sep(dst, "src_port"), k.SrcPort)
	}
	if k.Username != "" {
		dst = eve.AppendString(sep(dst, "username"), k.Username)
	}
	return append(dst, '}')
}

// appendAddr writes a as a JSON string; only a zone (never on a captured
// address) can hold a character that needs escaping.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if a.Zone() != "" {
		return eve.AppendString(dst, a.String())
	}
	dst = append(dst, '"')
	dst = a.AppendTo(dst)
	return append(dst, '"')
}

// appendPort writes a port as a JSON string, as the key has always done.
func appendPort(dst []byte, p uint16) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, uint64(p), 10)
	return append(dst, '"')
}
