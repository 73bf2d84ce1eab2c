package rules

import (
	"encoding/json"
	"net/netip"
	"testing"

	"mqttids/detect"
	"mqttids/event"
)

// TestAlertKeyMatchesFields: the flat key fire puts in an alert encodes to
// the same bytes as the sorted map of detect.Key.Fields (what alerts wrote
// before the key was flat), for every key kind.
func TestAlertKeyMatchesFields(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")
	mapped := netip.AddrFrom16(v4.As16())
	flow := func(c, s netip.Addr, cp, sp uint16) event.Flow {
		return event.Flow{Client: netip.AddrPortFrom(c, cp), Server: netip.AddrPortFrom(s, sp)}
	}
	keys := []detect.Key{
		{Kind: detect.KeySrcIP, Addr: v4},
		{Kind: detect.KeySrcIP, Addr: v6},
		{Kind: detect.KeyClientID, Name: "dev-17"},
		{Kind: detect.KeyClientID, Name: "a\"b\\c\n\x7f"},
		{Kind: detect.KeyUsername, Name: "admin"},
		{Kind: detect.KeyConnection, Flow: flow(v4, v6, 51514, 1883)},
		{Kind: detect.KeyConnection, Flow: flow(mapped, mapped, 1, 8883)},
		{Kind: detect.KeyConnection, Flow: flow(v4, v4, 0, 0)},
	}
	for _, k := range keys {
		want, err := json.Marshal(k.Fields())
		if err != nil {
			t.Fatal(err)
		}
		ak := alertKey(&k)
		got := ak.AppendJSON(nil)
		// encoding/json's only other difference (HTML escaping) does not
		// arise for these values; DEL it leaves raw.
		if k.Name == "a\"b\\c\n\x7f" {
			want = []byte(`{"client_id":"a\"b\\c\n\u007f"}`)
		}
		if string(got) != string(want) {
			t.Errorf("%+v: got %s, want %s", k, got, want)
		}
	}
}

// BenchmarkAlertKey is the detection key's cost per alert, built and
// encoded: the flat key (now) against the map of detect.Key.Fields (what
// fire allocated before), for a connection key.
func BenchmarkAlertKey(b *testing.B) {
	k := detect.Key{Kind: detect.KeyConnection, Flow: event.Flow{
		Client: netip.MustParseAddrPort("192.0.2.7:51514"), Server: netip.MustParseAddrPort("198.51.100.1:1883")}}
	buf := make([]byte, 0, 256)
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ak := alertKey(&k)
			buf = ak.AppendJSON(buf[:0])
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := k.Fields()
			buf = buf[:0]
			for _, name := range []string{"dest_ip", "dest_port", "src_ip", "src_port"} { // the sorted keys
				buf = append(buf, name...)
				buf = append(buf, m[name]...)
			}
		}
	})
}
