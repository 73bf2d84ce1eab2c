package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mqttids/decode"
	"mqttids/event"
)

// decodeKeys are the contract's "decode output" keys.
var decodeKeys = map[string]bool{
	"ts": true, "src_ip": true, "src_port": true, "dest_ip": true, "dest_port": true, "type": true,
	"protocol_version": true, "client_id": true, "username": true, "password_len": true, "keep_alive": true,
	"clean_start": true, "will_topic": true, "session_present": true, "reason_code": true, "topic": true,
	"qos": true, "retain": true, "dup": true, "packet_id": true, "payload_len": true, "filters": true,
	"reason_codes": true, "properties": true, "error": true,
}

// TestDecodeJSONCaptures checks every line produced from the recorded and
// crafted captures: valid JSON, only contract keys, no password or payload.
func TestDecodeJSONCaptures(t *testing.T) {
	for _, path := range testCaptures(t) {
		var lines [][]byte
		p, err := New(Options{}, event.HandlerFunc(func(ev *event.Event) {
			if b := AppendDecodeJSON(nil, ev); len(b) > 0 {
				lines = append(lines, b)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		p.ReplayFile(context.Background(), path)
		p.Flush()
		for _, l := range lines {
			if !bytes.HasSuffix(l, []byte("}\n")) {
				t.Fatalf("%s: line without newline: %s", path, l)
			}
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("%s: %v: %s", path, err, l)
			}
			for k := range m {
				if !decodeKeys[k] {
					t.Errorf("%s: key %q not in the contract: %s", path, k, l)
				}
			}
			for _, secret := range []string{"wonderland", "builder", "secret"} {
				if bytes.Contains(l, []byte(secret)) {
					t.Errorf("%s: password in output: %s", path, l)
				}
			}
		}
	}
}

func TestDecodeJSONFields(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 15, 3, 123456789, time.UTC)
	flow := event.Flow{Client: netip.MustParseAddrPort("192.0.2.7:51514"), Server: netip.MustParseAddrPort("[2001:db8::1]:1883")}
	conn := &event.Conn{Version: 5, ConnectSeen: true}
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"connect", event.Event{Kind: event.MQTT, FromClient: true, Packet: &decode.Packet{
			Type: decode.CONNECT, Version: 4, ProtocolLevel: 4, ConnectFlags: 0xc6, KeepAlive: 30,
			ClientID: []byte("dev\"1\n"), Username: []byte("admin"), Password: []byte("hunter2"), WillTopic: []byte("w/t"),
		}},
			`{"ts":"2026-11-22T10:15:03.123456+0000","src_ip":"192.0.2.7","src_port":51514,"dest_ip":"2001:db8::1","dest_port":1883,"type":"CONNECT","protocol_version":4,"client_id":"dev\"1\n","username":"admin","password_len":7,"keep_alive":30,"clean_start":true,"will_topic":"w/t"}`},
		{"publish v5 from server", event.Event{Kind: event.MQTT, Conn: conn, Packet: &decode.Packet{
			Type: decode.PUBLISH, Version: 5, Flags: 0x0b, Topic: []byte("a/\xffb"), PacketID: 7, Payload: []byte("secret payload"),
			Props: []decode.Property{{ID: 0x26, Key: []byte("k"), Data: []byte("v")}, {ID: 0x09, Data: []byte("corr")}, {ID: 0x26, Key: []byte("k2"), Data: []byte("v2")}, {ID: 0x01, Int: 1}},
		}},
			`{"ts":"2026-11-22T10:15:03.123456+0000","src_ip":"2001:db8::1","src_port":1883,"dest_ip":"192.0.2.7","dest_port":51514,"type":"PUBLISH","protocol_version":5,"topic":"a/\ufffdb","qos":1,"retain":true,"dup":true,"packet_id":7,"payload_len":14,"properties":{"user_property":[{"key":"k","value":"v"},{"key":"k2","value":"v2"}],"correlation_data_len":4,"payload_format_indicator":1}}`},
		{"suback", event.Event{Kind: event.MQTT, Conn: conn, Packet: &decode.Packet{Type: decode.SUBACK, Version: 5, PacketID: 2, ReasonCodes: []byte{0, 0x87}}},
			`{"ts":"2026-11-22T10:15:03.123456+0000","src_ip":"2001:db8::1","src_port":1883,"dest_ip":"192.0.2.7","dest_port":51514,"type":"SUBACK","protocol_version":5,"packet_id":2,"reason_codes":[0,135]}`},
		{"malformed", event.Event{Kind: event.Malformed, FromClient: true, Packet: &decode.Packet{Type: decode.PUBLISH, Version: 4, Flags: 6, Topic: []byte("x")},
			Err: &decode.MalformedError{Field: "fixed header flags", Rule: "MQTT-3.3.1-4"}},
			`{"ts":"2026-11-22T10:15:03.123456+0000","src_ip":"192.0.2.7","src_port":51514,"dest_ip":"2001:db8::1","dest_port":1883,"type":"PUBLISH","topic":"x","qos":3,"retain":false,"dup":false,"packet_id":0,"payload_len":0,"error":"mqtt: malformed fixed header flags at offset 0 [MQTT-3.3.1-4]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.Time, tt.ev.Flow = ts, flow
			got := strings.TrimSuffix(string(AppendDecodeJSON(nil, &tt.ev)), "\n")
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if b := AppendDecodeJSON(nil, &event.Event{Kind: event.TCPOpen}); len(b) != 0 {
		t.Errorf("TCPOpen rendered: %s", b)
	}
}
