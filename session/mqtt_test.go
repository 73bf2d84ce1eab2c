package session

import (
	"net/netip"
	"testing"
	"time"

	"mqttids/decode"
	"mqttids/event"
)

type recorder struct{ kinds []event.Kind }

func (r *recorder) Emit(ev *event.Event) { r.kinds = append(r.kinds, ev.Kind) }

var (
	flow = event.Flow{Client: netip.MustParseAddrPort("10.0.0.2:40000"), Server: netip.MustParseAddrPort("10.0.0.1:1883")}
	// CONNECT v3.1.1, client id "c1", clean session, keep alive 60.
	connect = []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'c', '1'}
	// PUBLISH QoS 0 to "t" with payload "x".
	publish = []byte{0x30, 4, 0, 1, 't', 'x'}
	// PUBLISH with the reserved QoS 3: malformed.
	badQoS = []byte{0x36, 4, 0, 1, 't', 'x'}
)

func TestDeliverConnect(t *testing.T) {
	var r recorder
	l := NewLayer(Options{}, &r)
	var s State
	s.Info.ID = 7
	l.Start(&s)
	ts := time.Unix(1, 0)
	l.Deliver(&s, true, append(append([]byte(nil), connect...), publish...), &flow, ts, 1)
	l.Deliver(&s, true, badQoS, &flow, ts, 2)
	l.Deliver(&s, true, []byte{0xe0, 0}, &flow, ts, 3) // DISCONNECT
	want := []event.Kind{event.MQTT, event.MQTT, event.Malformed, event.MQTT}
	if len(r.kinds) != len(want) {
		t.Fatalf("events %v, want %v", r.kinds, want)
	}
	for i := range want {
		if r.kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", r.kinds, want)
		}
	}
	in := s.Info
	if in.ID != 7 || !in.ConnectSeen || in.Inferred || in.Version != decode.V311 || in.ClientID != "c1" || in.KeepAlive != 60 {
		t.Errorf("info = %+v", in)
	}
	if !s.DisconnectSeen() || l.St.Conns != 1 || l.St.Packets != 3 || l.St.Malformed != 1 || len(l.St.ByRule) != 1 {
		t.Errorf("disconnect %v, counters %+v", s.DisconnectSeen(), l.St)
	}
	l.End(&s)
	if s.HasMQTT() || s.Info.ID != 0 || len(l.free) != 2 {
		t.Errorf("End left %+v, %d framers free", s, len(l.free))
	}
}

func TestDeliverMidStreamInfers(t *testing.T) {
	var r recorder
	l := NewLayer(Options{}, &r)
	var s State
	l.Start(&s)
	l.Deliver(&s, true, publish, &flow, time.Unix(1, 0), 1)
	if s.Info.ConnectSeen || !s.Info.Inferred || s.Info.Version != decode.V311 {
		t.Errorf("info = %+v, want version 4 inferred", s.Info)
	}
}

func TestDeliverAllocs(t *testing.T) {
	l := NewLayer(Options{}, emitFunc(func(*event.Event) {}))
	var s State
	l.Start(&s)
	l.Deliver(&s, true, connect, &flow, time.Unix(1, 0), 1)
	n := testing.AllocsPerRun(1000, func() {
		l.Deliver(&s, true, publish, &flow, time.Unix(1, 0), 2)
	})
	if n != 0 {
		t.Errorf("Deliver allocates %.1f times per packet", n)
	}
}

type emitFunc func(*event.Event)

func (f emitFunc) Emit(ev *event.Event) { f(ev) }

func TestLooksLikeConnect(t *testing.T) {
	v31 := []byte{0x10, 16, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 2, 'c', '1'}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"v3.1.1", connect, true},
		{"v3.1", v31, true},
		{"publish", publish, false},
		{"short", connect[:7], false},
		{"other protocol name", []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 2, 'c', '1'}, false},
		{"tls record", []byte{0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0, 0, 0x0c, 3, 3}, false},
	} {
		if got := LooksLikeConnect(tc.b); got != tc.want {
			t.Errorf("%s: LooksLikeConnect = %v, want %v", tc.name, got, tc.want)
		}
	}
}
