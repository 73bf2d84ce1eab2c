package decode

import (
	"bytes"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// benchPackets are the single packets the Decode benchmarks use.
func benchPackets() []struct {
	name string
	p    Packet
} {
	user := []Property{{ID: PropUser, Key: []byte("site"), Data: []byte("plant-1")}}
	pubProps := []Property{
		{ID: PropPayloadFormat, Int: 1},
		{ID: PropMessageExpiry, Int: 3600},
		{ID: PropContentType, Data: []byte("application/json")},
		{ID: PropUser, Key: []byte("site"), Data: []byte("plant-1")},
	}
	payload := []byte(`{"temperature":21.5,"unit":"C","ts":1700000000}`)
	filters := make([]Filter, 10)
	for i := range filters {
		filters[i] = Filter{Topic: []byte("plant/" + string(rune('a'+i)) + "/+/temperature"), Options: 1}
	}
	return []struct {
		name string
		p    Packet
	}{
		{"CONNECT/v4", Packet{Type: CONNECT, Version: 4, ProtocolName: []byte("MQTT"), ProtocolLevel: 4, ConnectFlags: 0xC2, KeepAlive: 60,
			ClientID: []byte("sensor-0001"), Username: []byte("device"), Password: []byte("secret")}},
		{"CONNECT/v5-props", Packet{Type: CONNECT, Version: 5, ProtocolName: []byte("MQTT"), ProtocolLevel: 5, ConnectFlags: 0xC2, KeepAlive: 60,
			ClientID: []byte("sensor-0001"), Username: []byte("device"), Password: []byte("secret"),
			Props: append([]Property{{ID: PropSessionExpiry, Int: 300}, {ID: PropReceiveMaximum, Int: 10}, {ID: PropMaximumPacketSize, Int: 65536}}, user...)}},
		{"PUBLISH-QoS0/v4", Packet{Type: PUBLISH, Version: 4, Topic: []byte("plant/a/line-3/temperature"), Payload: payload}},
		{"PUBLISH-QoS0/v5-props", Packet{Type: PUBLISH, Version: 5, Topic: []byte("plant/a/line-3/temperature"), Payload: payload, Props: pubProps}},
		{"PUBLISH-QoS1/v4", Packet{Type: PUBLISH, Flags: 2, Version: 4, Topic: []byte("plant/a/line-3/temperature"), PacketID: 4242, Payload: payload}},
		{"PUBLISH-QoS1/v5-props", Packet{Type: PUBLISH, Flags: 2, Version: 5, Topic: []byte("plant/a/line-3/temperature"), PacketID: 4242, Payload: payload, Props: pubProps}},
		{"SUBSCRIBE-10-filters/v4", Packet{Type: SUBSCRIBE, Flags: 2, Version: 4, PacketID: 7, Filters: filters}},
		{"SUBSCRIBE-10-filters/v5", Packet{Type: SUBSCRIBE, Flags: 2, Version: 5, PacketID: 7, Filters: filters, Props: []Property{{ID: PropSubscriptionID, Int: 3}}}},
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bp := range benchPackets() {
		raw := Append(nil, &bp.p)
		b.Run(bp.name, func(b *testing.B) {
			d := Decoder{Version: bp.p.Version}
			var p Packet
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(raw, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeValidate: decode plus every semantic check.
func BenchmarkDecodeValidate(b *testing.B) {
	for _, bp := range benchPackets() {
		raw := Append(nil, &bp.p)
		b.Run(bp.name, func(b *testing.B) {
			d := Decoder{Version: bp.p.Version}
			var p Packet
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(raw, &p); err != nil {
					b.Fatal(err)
				}
				if Validate(&p, nil) != 0 {
					b.Fatal("violation")
				}
			}
		})
	}
}

// BenchmarkPahoReadPacket is the baseline: the same MQTT 5 packets through
// eclipse/paho.golang's reader.
func BenchmarkPahoReadPacket(b *testing.B) {
	for _, bp := range benchPackets() {
		if bp.p.Version != 5 {
			continue
		}
		raw := Append(nil, &bp.p)
		b.Run(bp.name, func(b *testing.B) {
			r := bytes.NewReader(raw)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(raw)
				if _, err := packets.ReadPacket(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// mixedStream is a v5 connection of n packets: CONNECT, CONNACK, then
// publishes of all QoS with their acknowledgements, subscriptions and pings.
func mixedStream(n int) []byte {
	bps := benchPackets()
	var s []byte
	s = Append(s, &bps[1].p)
	s = Append(s, &Packet{Type: CONNACK, Version: 5, Props: []Property{{ID: PropReceiveMaximum, Int: 10}}})
	cycle := []Packet{
		bps[3].p, bps[5].p,
		{Type: PUBACK, Version: 5, PacketID: 4242},
		{Type: PUBLISH, Flags: 4, Version: 5, Topic: []byte("cmd/x"), PacketID: 9, Payload: []byte("reboot")},
		{Type: PUBREC, Version: 5, PacketID: 9},
		{Type: PUBREL, Flags: 2, Version: 5, PacketID: 9},
		{Type: PUBCOMP, Version: 5, PacketID: 9},
		bps[7].p,
		{Type: SUBACK, Version: 5, PacketID: 7, ReasonCodes: []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{Type: PINGREQ, Version: 5},
		{Type: PINGRESP, Version: 5},
	}
	for i := 2; i < n; i++ {
		s = Append(s, &cycle[i%len(cycle)])
	}
	return s
}

func benchFramer(b *testing.B, stream []byte, seg, want int) {
	f := NewFramer(FramerOptions{})
	var p Packet
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		f.Reset()
		n := 0
		for off := 0; off < len(stream); off += seg {
			f.Feed(stream[off:min(off+seg, len(stream))])
			for {
				err := f.Next(&p)
				if err == ErrShortBuffer {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		if n != want {
			b.Fatalf("%d packets, want %d", n, want)
		}
	}
	b.ReportMetric(float64(want)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkFramerMixed: 1,000 mixed packets, one Feed and in 1460-byte
// segments (a TCP MSS).
func BenchmarkFramerMixed(b *testing.B) {
	s := mixedStream(1000)
	b.Run("one-feed", func(b *testing.B) { benchFramer(b, s, len(s), 1000) })
	b.Run("seg-1460", func(b *testing.B) { benchFramer(b, s, 1460, 1000) })
}

// BenchmarkFramerSmallPublish: small QoS 0 publishes (v3.1.1) fed in
// 1460-byte segments, the sensor's common case: "tiny" is a 13-byte packet
// (5-byte topic, 4-byte payload), "sensor" a 52-byte one (26-byte topic,
// 22-byte JSON payload).
func BenchmarkFramerSmallPublish(b *testing.B) {
	for _, tc := range []struct {
		name, topic, payload string
	}{
		{"tiny-13B", "s/1/t", "21.5"},
		{"sensor-52B", "plant/a/line-3/temperature", `{"t":21.5,"u":"C","q":1}`},
	} {
		var s []byte
		s = Append(s, &Packet{Type: CONNECT, Version: 4, ProtocolName: []byte("MQTT"), ProtocolLevel: 4, ConnectFlags: 2, KeepAlive: 60, ClientID: []byte("s1")})
		n := 1
		for len(s) < 256<<10 {
			s = Append(s, &Packet{Type: PUBLISH, Version: 4, Topic: []byte(tc.topic), Payload: []byte(tc.payload)})
			n++
		}
		b.Run(tc.name+"/seg-1460", func(b *testing.B) { benchFramer(b, s, 1460, n) })
	}
}
