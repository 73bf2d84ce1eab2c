package session

import (
	"fmt"
	"testing"

	"mqttids/decode"
)

func TestAliases(t *testing.T) {
	pub := func(v uint8, topic string, alias uint16) *decode.Packet {
		p := &decode.Packet{Type: decode.PUBLISH, Version: v, Topic: []byte(topic)}
		if alias != 0 {
			p.Props = []decode.Property{{ID: 0x23, Int: uint32(alias)}}
		}
		return p
	}
	var a Aliases
	for _, tc := range []struct {
		p     *decode.Packet
		topic string
		known bool
	}{
		{pub(decode.V311, "a/b", 0), "a/b", true},
		{pub(decode.V5, "", 7), "", false},                        // used before it was defined
		{pub(decode.V5, "plant/1/temp", 7), "plant/1/temp", true}, // defines 7
		{pub(decode.V5, "", 7), "plant/1/temp", true},             // uses it
		{pub(decode.V5, "plant/2/temp", 7), "plant/2/temp", true}, // redefines it
		{pub(decode.V5, "", 7), "plant/2/temp", true},
		{pub(decode.V5, "x", 0), "x", true},
	} {
		got, known := a.Resolve(tc.p)
		if string(got) != tc.topic || known != tc.known {
			t.Errorf("%q alias %v: got %q %v, want %q %v", tc.p.Topic, tc.p.Props, got, known, tc.topic, tc.known)
		}
	}
	// Bounded: aliases beyond maxAliases are not remembered.
	var b Aliases
	for i := range maxAliases + 10 {
		b.Resolve(pub(decode.V5, fmt.Sprintf("t/%d", i), uint16(i+1)))
	}
	if len(b.ids) != maxAliases {
		t.Errorf("%d aliases kept", len(b.ids))
	}
	if _, known := b.Resolve(pub(decode.V5, "", maxAliases+5)); known {
		t.Error("an alias past the bound resolved")
	}
}
