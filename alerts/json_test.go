package alerts

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqttids/block"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(TimeFormat, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// contractAlert is the example alert of docs/alerts.md.
func contractAlert(t testing.TB) *Alert {
	return &Alert{
		Timestamp: mustTime(t, "2026-11-22T10:15:03.123456+0000"),
		EventType: "alert",
		SrcIP:     "192.0.2.7", SrcPort: 51514, DestIP: "198.51.100.1", DestPort: 1883,
		Proto: "TCP", AppProto: "mqtt",
		Alert: AlertInfo{Action: "blocked", GID: 1, SignatureID: 2300001, Rev: 1,
			Signature: "MQTT authentication brute force", Category: "auth-bruteforce", Severity: 1},
		MQTT: &MQTTInfo{ClientID: "dev-17", Username: "admin", ProtocolVersion: 4},
		Detection: &Detection{Rule: "auth-bruteforce", Key: Key{SrcIP: netip.MustParseAddr("192.0.2.7")},
			Count: 57, WindowS: 30,
			FirstSeen: mustTime(t, "2026-11-22T10:14:40.000001+0000"),
			LastSeen:  mustTime(t, "2026-11-22T10:15:03.123456+0000")},
		Block: &BlockInfo{Target: "src_ip", Value: "192.0.2.7", TTLS: 600},
	}
}

// blockJSON gives a block event the methods the golden test calls.
type blockJSON struct{ *block.Event }

func (b blockJSON) AppendJSON(dst []byte) []byte { return AppendBlockEvent(dst, b.Event) }
func (b blockJSON) MarshalJSON() ([]byte, error) { return b.AppendJSON(nil), nil }

func TestJSONGolden(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		v    interface{ AppendJSON([]byte) []byte }
	}{
		{"alert_contract", contractAlert(t)},
		{"alert_minimal", &Alert{
			// a non-UTC zone must still print +0000
			Timestamp: time.Date(2026, 1, 2, 4, 5, 6, 7000, cet),
			SrcIP:     "2001:db8::7", SrcPort: 1, DestIP: "2001:db8::1", DestPort: 8883,
			Alert: AlertInfo{GID: 1, SignatureID: 2300010, Rev: 2, Signature: "MQTT malformed packet",
				Category: "malformed-packet", Severity: 2},
		}},
		{"alert_escaping", &Alert{
			Timestamp: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
			SrcIP:     "192.0.2.9",
			Alert:     AlertInfo{GID: 1, SignatureID: 2300003, Rev: 1, Signature: "MQTT client id takeover", Category: "clientid-takeover", Severity: 2},
			// client ids are attacker controlled: quotes, control bytes,
			// invalid UTF-8, line separators and HTML characters.
			MQTT: &MQTTInfo{ClientID: "a\"b\\c\n\x00\x1f\xff<&>\u2028é", ProtocolVersion: 5},
			Detection: &Detection{Rule: "clientid-takeover",
				Key:   Key{ClientID: "x", SrcIP: netip.MustParseAddr("192.0.2.9")},
				Count: 0.5, WindowS: 1e-7},
		}},
		{"block_add", blockJSON{&block.Event{
			Timestamp: mustTime(t, "2026-11-22T10:15:03.123456+0000"), EventType: "block",
			Op: "add", Target: "src_ip", Value: "192.0.2.7", TTLS: 600,
			Reason: block.Reason{SignatureID: 2300001, Category: "auth-bruteforce"},
		}}},
		{"block_remove", blockJSON{&block.Event{
			Timestamp: mustTime(t, "2026-11-22T10:25:03.123456+0000"),
			Op:        "remove", Target: "username", Value: "admin", TTLS: 0,
			Reason: block.Reason{SignatureID: 2300001, Category: "auth-bruteforce"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := append(tt.v.AppendJSON(nil), '\n')
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			// MarshalJSON is the same encoding.
			m, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			// encoding/json HTML-escapes what a Marshaler returns.
			var esc bytes.Buffer
			json.HTMLEscape(&esc, got)
			if !bytes.Equal(append(m, '\n'), esc.Bytes()) {
				t.Errorf("json.Marshal differs:\n%s", m)
			}
		})
	}
}

// TestJSONKeyOrder checks the contract's top-level key order independently
// of the golden file.
func TestJSONKeyOrder(t *testing.T) {
	b := contractAlert(t).AppendJSON(nil)
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := "timestamp event_type src_ip src_port dest_ip dest_port proto app_proto alert mqtt detection block"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
}

// TestKeyJSON: every key kind the rules engine makes, in the order and
// form the sorted map of the earlier encoding gave (ports as strings).
func TestKeyJSON(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.2.2"), netip.MustParseAddr("2001:db8::1")
	for _, tt := range []struct {
		k    Key
		want string
	}{
		{Key{}, `{}`},
		{Key{SrcIP: a}, `{"src_ip":"10.0.2.2"}`},
		{Key{SrcIP: b}, `{"src_ip":"2001:db8::1"}`},
		{Key{ClientID: "dev\"1"}, `{"client_id":"dev\"1"}`},
		{Key{Username: "admin"}, `{"username":"admin"}`},
		{Key{SrcIP: a, SrcPort: 50000, DestIP: b, DestPort: 1883},
			`{"dest_ip":"2001:db8::1","dest_port":"1883","src_ip":"10.0.2.2","src_port":"50000"}`},
		{Key{SrcIP: a, DestIP: b}, `{"dest_ip":"2001:db8::1","dest_port":"0","src_ip":"10.0.2.2","src_port":"0"}`},
		{Key{ClientID: "c", Username: "u", SrcIP: a}, `{"client_id":"c","src_ip":"10.0.2.2","username":"u"}`},
	} {
		if got := string(tt.k.AppendJSON(nil)); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.k, got, tt.want)
		}
		if tt.k.String() != tt.want {
			t.Errorf("String() = %s", tt.k.String())
		}
	}
}

func TestJSONNonFinite(t *testing.T) {
	a := &Alert{Detection: &Detection{Count: math.NaN(), WindowS: math.Inf(1)}}
	if b := a.AppendJSON(nil); !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	a := contractAlert(t)
	ev := &block.Event{Op: "add", Target: "src_ip", Value: "192.0.2.7", TTLS: 600}
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() {
		buf = a.AppendJSON(buf[:0])
		buf = AppendBlockEvent(buf[:0], ev)
	}); n != 0 {
		t.Errorf("AppendJSON allocates %.1f times per call", n)
	}
}

func BenchmarkAlertAppendJSON(b *testing.B) {
	a := contractAlert(b)
	buf := a.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = a.AppendJSON(buf[:0])
	}
}

func BenchmarkAlertEncodingJSON(b *testing.B) {
	// baseline: encoding/json over the struct tags (different key order
	// and no timestamps, so only a speed reference).
	a := contractAlert(b)
	buf, _ := json.Marshal(struct{ *Alert }{a})
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = json.Marshal(struct{ *Alert }{a})
	}
}
