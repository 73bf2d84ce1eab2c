package decode

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// norm makes packets comparable: empty slices become nil, Props and Filters
// lose their spare capacity.
func norm(p Packet) Packet {
	nb := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	np := func(ps []Property) []Property {
		if len(ps) == 0 {
			return nil
		}
		out := make([]Property, len(ps))
		for i, pr := range ps {
			out[i] = Property{ID: pr.ID, Int: pr.Int, Key: nb(pr.Key), Data: nb(pr.Data)}
		}
		return out
	}
	p.ProtocolName, p.ClientID, p.WillTopic, p.WillPayload = nb(p.ProtocolName), nb(p.ClientID), nb(p.WillTopic), nb(p.WillPayload)
	p.Username, p.Password, p.Topic, p.Payload, p.ReasonCodes = nb(p.Username), nb(p.Password), nb(p.Topic), nb(p.Payload), nb(p.ReasonCodes)
	p.Props, p.WillProps = np(p.Props), np(p.WillProps)
	p.filled = 0
	if len(p.Filters) == 0 {
		p.Filters = nil
	} else {
		fs := make([]Filter, len(p.Filters))
		for i, f := range p.Filters {
			fs[i] = Filter{Topic: nb(f.Topic), Options: f.Options}
		}
		p.Filters = fs
	}
	return p
}

// diff describes how two packets differ ("" when equal), field by field,
// without printing secrets in full (test data only).
func diff(got, want Packet) string {
	g, w := norm(got), norm(want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	var sb strings.Builder
	for i := 0; i < gv.NumField(); i++ {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			fmt.Fprintf(&sb, "%s: got %v, want %v; ", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	return sb.String()
}

func validateRules(p *Packet) []string {
	var rules []string
	Validate(p, func(v *MalformedError) { rules = append(rules, v.Rule) })
	return rules
}

func TestFixturesDecode(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			d := Decoder{Version: fx.version}
			var p Packet
			n, err := d.Decode(fx.raw, &p)
			want := fx.want
			if want.Len == 0 {
				want.Len = len(fx.raw)
			}
			if fx.decodeRule != "" {
				var me *MalformedError
				if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("Decode error = %v, want *MalformedError", err)
				}
				if me.Rule != fx.decodeRule {
					t.Errorf("rule = %q, want %q (%v)", me.Rule, fx.decodeRule, err)
				}
				if n != want.Len {
					t.Errorf("n = %d, want %d (the whole packet)", n, want.Len)
				}
			} else {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if n != len(fx.raw) {
					t.Errorf("n = %d, want %d", n, len(fx.raw))
				}
			}
			if d := diff(p, want); d != "" {
				t.Errorf("decoded packet differs: %s", d)
			}
			if fx.decodeRule != "" && fx.validateRules == nil {
				return
			}
			if got := validateRules(&p); !reflect.DeepEqual(got, fx.validateRules) {
				t.Errorf("Validate rules = %q, want %q", got, fx.validateRules)
			}
		})
	}
}

func TestFixturesEncode(t *testing.T) {
	for _, fx := range fixtures {
		if fx.noEncode || fx.decodeRule != "" {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			want := fx.want
			prefix := []byte("prefix")
			got := Append(append([]byte(nil), prefix...), &want)
			if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], fx.raw) {
				t.Errorf("Append =\n% x\nwant\n% x", got[len(prefix):], fx.raw)
			}
		})
	}
}

// Every proper prefix of a packet is a short buffer, never an error.
func TestFixturesShortBuffer(t *testing.T) {
	for _, fx := range fixtures {
		if fx.decodeRule == RuleVarInt {
			continue // decided from the header bytes alone
		}
		d := Decoder{Version: fx.version}
		var p Packet
		for i := 0; i < len(fx.raw); i++ {
			if n, err := d.Decode(fx.raw[:i], &p); err != ErrShortBuffer || n != 0 {
				t.Errorf("%s: prefix %d: n=%d err=%v, want ErrShortBuffer", fx.name, i, n, err)
			}
		}
	}
}

// The largest remaining length parses from the header alone: nothing of its
// size is allocated or read.
func TestMaxVarIntHeader(t *testing.T) {
	hdr := []byte{0x30, 0xff, 0xff, 0xff, 0x7f} // PUBLISH, remaining length 268435455
	typ, _, rem, hl, err := parseHeader(hdr)
	if err != nil || typ != PUBLISH || rem != 268435455 || hl != 5 {
		t.Fatalf("parseHeader = %v %d %d %v", typ, rem, hl, err)
	}
	var d Decoder
	var p Packet
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := d.Decode(hdr, &p); err != ErrShortBuffer {
			t.Fatalf("Decode = %v, want ErrShortBuffer", err)
		}
	})
	if allocs != 0 {
		t.Errorf("allocs = %v", allocs)
	}
	d.MaxPacketSize = 1 << 20
	n, err := d.Decode(hdr, &p)
	var tl *TooLargeError
	if n != 0 || !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || tl.Size != 268435460 {
		t.Fatalf("Decode with max = %d %v", n, err)
	}
	if p.Type != PUBLISH || p.Len != 268435460 {
		t.Errorf("header not reported: %+v", p)
	}
}

func TestMalformedErrorText(t *testing.T) {
	var d Decoder
	var p Packet
	// A CONNECT whose password field is truncated: the error must not
	// carry the password bytes.
	raw := []byte{0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 0, 0, 0, 0, 1, 'u', 0, 9, 'Z', 'q'}
	raw[1] = byte(len(raw) - 2)
	_, err := d.Decode(raw, &p)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "Zq") || !strings.HasPrefix(msg, "mqtt: malformed") {
		t.Errorf("error text %q", msg)
	}
	if !strings.Contains(msg, "password") || !strings.Contains(msg, RulePassword) {
		t.Errorf("error text %q lacks field or rule", msg)
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
		"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH", "RESERVED"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d) = %q, want %q", i, got, w)
		}
	}
}

func TestPropertyName(t *testing.T) {
	for id, w := range map[uint8]string{
		0x01: "payload_format_indicator", 0x11: "session_expiry_interval", 0x26: "user_property",
		0x0B: "subscription_identifier", 0x2A: "shared_subscription_available", 0x04: "", 0xff: "",
	} {
		if got := PropertyName(id); got != w {
			t.Errorf("PropertyName(%#x) = %q, want %q", id, got, w)
		}
	}
	n := 0
	for id := 0; id < 256; id++ {
		if PropertyName(uint8(id)) != "" {
			n++
		}
	}
	if n != 27 {
		t.Errorf("%d properties named, want 27", n)
	}
}

// Every v5 property identifier appears in some fixture.
func TestFixturesCoverAllProperties(t *testing.T) {
	seen := map[uint8]bool{}
	for _, fx := range fixtures {
		for _, pr := range fx.want.Props {
			seen[pr.ID] = true
		}
		for _, pr := range fx.want.WillProps {
			seen[pr.ID] = true
		}
	}
	for id := 0; id < 256; id++ {
		if PropertyName(uint8(id)) != "" && !seen[uint8(id)] {
			t.Errorf("no fixture carries property %#x %s", id, PropertyName(uint8(id)))
		}
	}
}

// Every packet type has a clean fixture in each version it exists in.
func TestFixturesCoverAllTypes(t *testing.T) {
	seen := map[[2]uint8]bool{}
	for _, fx := range fixtures {
		if fx.decodeRule == "" && fx.validateRules == nil {
			seen[[2]uint8{fx.want.Version, uint8(fx.want.Type)}] = true
		}
	}
	for _, v := range []uint8{3, 4, 5} {
		for typ := CONNECT; typ <= AUTH; typ++ {
			if typ == AUTH && v != 5 {
				continue
			}
			if !seen[[2]uint8{v, uint8(typ)}] {
				t.Errorf("no clean v%d %v fixture", v, typ)
			}
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	var d Decoder
	var p Packet
	for _, fx := range fixtures { // grow p's slices once
		d.Version = fx.version
		d.Decode(fx.raw, &p)
	}
	for _, fx := range fixtures {
		d.Version = fx.version
		allocs := testing.AllocsPerRun(100, func() {
			d.Decode(fx.raw, &p)
			Validate(&p, nil)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Decode+Validate", fx.name, allocs)
		}
	}
}

// Decoding into a reused packet gives the same result as into a fresh one,
// whatever was decoded before (reset clears only what was set).
func TestDecodeReusedPacket(t *testing.T) {
	var reused Packet
	for _, prev := range fixtures {
		for _, fx := range fixtures {
			d := Decoder{Version: prev.version}
			d.Decode(prev.raw, &reused)
			d.Version = fx.version
			_, err1 := d.Decode(fx.raw, &reused)
			var fresh Packet
			var d2 Decoder
			d2.Version = fx.version
			_, err2 := d2.Decode(fx.raw, &fresh)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s after %s: err %v vs %v", fx.name, prev.name, err1, err2)
			}
			if dd := diff(reused, fresh); dd != "" {
				t.Fatalf("%s after %s: %s", fx.name, prev.name, dd)
			}
		}
	}
	// A packet built by hand is cleared entirely.
	p := Packet{Topic: []byte("t"), ClientID: []byte("c"), Filters: []Filter{{Topic: []byte("f")}}, ReasonCodes: []byte{1}}
	var d Decoder
	d.Decode([]byte{0xC0, 0}, &p)
	if dd := diff(p, Packet{Type: PINGREQ, Len: 2, Version: 4}); dd != "" {
		t.Errorf("hand-built packet not cleared: %s", dd)
	}
}

// scanString agrees with the obvious byte-by-byte definition.
func TestScanString(t *testing.T) {
	check := func(s []byte) {
		wantBad := error(nil)
		if !utf8.Valid(s) {
			wantBad = errBadUTF8
		} else if bytes.IndexByte(s, 0) >= 0 {
			wantBad = errNulChar
		}
		wantWild := bytes.ContainsAny(s, "+#")
		bad, wild := scanString(s)
		if bad != wantBad || (bad == nil && wild != wantWild) {
			t.Errorf("scanString(%q) = %v %v, want %v %v", s, bad, wild, wantBad, wantWild)
		}
	}
	base := []byte("plant/a/line-3/temperature/x")
	for i := 0; i <= len(base); i++ {
		for _, c := range []byte{0, '+', '#', 0x80, 0xC3, 'a'} {
			s := append([]byte(nil), base[:i]...)
			s = append(s, c)
			s = append(s, base[i:]...)
			check(s)
			check(s[:i+1])
		}
	}
	check([]byte("é+"))
	check([]byte("abcdefgh\xed\xa0\x80"))
	check(nil)
}

// Every rule the package names is asserted by at least one fixture.
func TestFixturesCoverAllRules(t *testing.T) {
	all := []string{RuleVarInt, RuleVarIntMinimal, RuleUTF8, RuleNul, RuleReservedType, RuleFlags, RuleRemainingLength,
		RulePacketID, RuleProperty, RuleProtocolName, RuleProtocolLevel, RuleConnectReserved, RuleWillQoS, RuleWillQoS3,
		RuleWillRetain, RuleWillPresent, RuleUsername, RulePassword, RulePasswordNoUser, RuleClientID, RuleClientIDEmpty,
		RuleConnackFlags, RuleSessionPresent, RuleConnackReason, RuleDupQoS0, RuleQoS3, RuleTopicName, RuleTopicWildcard,
		RuleTopicAlias, RulePubackReason, RulePubrecReason, RulePubrelReason, RulePubcompReason, RuleSubscribeEmpty,
		RuleSubOptions, RuleSubackReason, RuleUnsubscribeEmpty, RuleUnsubackReason, RuleDisconnectReason, RuleAuthReason,
		RuleTopicFilter, RuleTopicLength}
	seen := map[string]bool{}
	for _, fx := range fixtures {
		seen[fx.decodeRule] = true
		for _, r := range fx.validateRules {
			seen[r] = true
		}
	}
	for _, r := range all {
		if !seen[r] {
			t.Errorf("no fixture asserts %s", r)
		}
	}
}
