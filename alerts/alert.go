package alerts

import (
	"net/netip"
	"time"

	"mqttids/internal/eve"
)

// TimeFormat is EVE's timestamp layout: RFC 3339 with microseconds and a
// numeric zone without colon, e.g. 2026-11-22T10:15:03.123456+0000.
const TimeFormat = eve.TimeLayout

// Alert is one alert as in docs/alerts.md (a Suricata EVE superset).
// Optional parts are pointers or omitempty so that absent means absent.
type Alert struct {
	Timestamp time.Time  `json:"-"`          // marshalled as "timestamp" in TimeFormat, UTC
	EventType string     `json:"event_type"` // always "alert"
	SrcIP     string     `json:"src_ip,omitempty"`
	SrcPort   uint16     `json:"src_port,omitempty"`
	DestIP    string     `json:"dest_ip,omitempty"`
	DestPort  uint16     `json:"dest_port,omitempty"`
	Proto     string     `json:"proto"`     // "TCP"
	AppProto  string     `json:"app_proto"` // "mqtt"
	Alert     AlertInfo  `json:"alert"`
	MQTT      *MQTTInfo  `json:"mqtt,omitempty"`
	Detection *Detection `json:"detection,omitempty"`
	Block     *BlockInfo `json:"block,omitempty"`
}

// AlertInfo is EVE's "alert" object.
type AlertInfo struct {
	Action      string `json:"action"` // "allowed" or "blocked"
	GID         int    `json:"gid"`
	SignatureID int    `json:"signature_id"`
	Rev         int    `json:"rev"`
	Signature   string `json:"signature"`
	Category    string `json:"category"`
	Severity    int    `json:"severity"`
}

// MQTTInfo is what is known of the offending client. Never a password or a
// payload.
type MQTTInfo struct {
	ClientID        string `json:"client_id,omitempty"`
	Username        string `json:"username,omitempty"`
	ProtocolVersion uint8  `json:"protocol_version,omitempty"`
}

// Detection says which rule fired on which key with which count.
type Detection struct {
	Rule      string    `json:"rule"`
	Key       Key       `json:"key"`
	Count     float64   `json:"count"`
	WindowS   float64   `json:"window_s"`
	FirstSeen time.Time `json:"-"` // "first_seen" in TimeFormat
	LastSeen  time.Time `json:"-"` // "last_seen" in TimeFormat
}

// Key is the detection key: the fields of the rule's key kind (src_ip; a
// client id; a user name; or the connection's four addresses and ports).
// It is written as a JSON object whose keys are in alphabetical order
// (client_id, dest_ip, dest_port, src_ip, src_port, username), each only
// when set, with the ports as strings: {"src_ip":"192.0.2.7"},
// {"dest_ip":"10.0.0.1","dest_port":"1883","src_ip":"10.0.2.2","src_port":"50000"}.
type Key struct {
	SrcIP    netip.Addr
	SrcPort  uint16 // written when not 0, or when both addresses are set (a connection on port 0)
	DestIP   netip.Addr
	DestPort uint16 // as SrcPort
	ClientID string
	Username string
}

// String returns the key as its JSON object.
func (k Key) String() string { return string(k.AppendJSON(nil)) }

// BlockInfo is present when the rule added a block entry.
type BlockInfo struct {
	Target string  `json:"target"` // src_ip, client_id, username
	Value  string  `json:"value"`
	TTLS   float64 `json:"ttl_s"`
}
