package decode

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// codeSet is a set of reason codes.
type codeSet [4]uint64

func codes(cs ...uint8) codeSet {
	var s codeSet
	for _, c := range cs {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *codeSet) has(c uint8) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// Reason codes each packet type may carry (MQTT 5 tables 3-1 ... 3-13, and
// the 3.1.1 CONNACK return codes and SUBACK return codes).
var (
	connack3Codes   = codes(0, 1, 2, 3, 4, 5)
	connack5Codes   = codes(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	pubackCodes     = codes(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)
	pubrelCodes     = codes(0x00, 0x92)
	suback3Codes    = codes(0, 1, 2, 0x80)
	suback5Codes    = codes(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	unsubackCodes   = codes(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	disconnectCodes = codes(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)
	authCodes       = codes(0x00, 0x18, 0x19)
)

// validator reports violations. It allocates only when it reports one.
type validator struct {
	fn func(v *MalformedError)
	n  int
}

func (vd *validator) report(off int, field, rule string, err error) {
	vd.n++
	if vd.fn != nil {
		vd.fn(&MalformedError{Off: off, Field: field, Rule: rule, Err: err})
	}
}

// Validate checks a decoded packet against the rules of its version
// (p.Version) that decoding does not enforce: reserved flags, QoS 3, UTF-8
// strings, protocol name and level, connect and will flags, packet ids,
// empty SUBSCRIBE/UNSUBSCRIBE, topic names and filters, reason codes, and
// v5 properties (allowed in the packet, at most once, value in range). It
// calls fn (which may be nil) for every violation and returns how many it
// found. It allocates nothing when the packet is clean.
//
// Validate sees fields, not bytes: Off is 0 for the fixed header and -1 for
// fields.
func Validate(p *Packet, fn func(v *MalformedError)) int {
	vd := validator{fn: fn}
	v5 := p.Version == V5
	t := p.Type
	switch {
	case t == Reserved || (t == AUTH && !v5):
		vd.report(0, "packet type", RuleReservedType, errNotInVersion)
	case t == PUBLISH:
		if p.QoS() == 3 {
			vd.report(0, "fixed header flags", RuleQoS3, errQoS3)
		} else if p.QoS() == 0 && p.Dup() {
			vd.report(0, "fixed header flags", RuleDupQoS0, errDupQoS0)
		}
	case !flagsOK(t, p.Flags, V5):
		vd.report(0, "fixed header flags", RuleFlags, errReservedFlags)
	}

	switch t {
	case CONNECT:
		vd.connect(p)
	case CONNACK:
		if p.ConnackFlags&0xfe != 0 {
			vd.report(-1, "connack flags", RuleConnackFlags, errAckFlags)
		}
		set := &connack3Codes
		if v5 {
			set = &connack5Codes
		}
		if !set.has(p.ReasonCode) {
			vd.report(-1, "reason code", RuleConnackReason, errReasonCode)
		}
		if p.SessionPresent && p.ReasonCode != 0 {
			vd.report(-1, "session present", RuleSessionPresent, errSessionPresent)
		}
	case PUBLISH:
		if vd.utf8(p.Topic, "topic") {
			vd.report(-1, "topic", RuleTopicWildcard, errWildcardTopic)
		}
		if len(p.Topic) == 0 {
			if _, alias := p.Prop(PropTopicAlias); !v5 || !alias {
				vd.report(-1, "topic", RuleTopicLength, errEmptyTopic)
			}
		}
		if p.QoS() > 0 && p.PacketID == 0 {
			vd.report(-1, "packet id", RulePacketID, errPacketIDZero)
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		if p.PacketID == 0 {
			vd.report(-1, "packet id", RulePacketID, errPacketIDZero)
		}
		if v5 {
			set, rule := &pubackCodes, RulePubackReason
			switch t {
			case PUBREC:
				rule = RulePubrecReason
			case PUBREL:
				set, rule = &pubrelCodes, RulePubrelReason
			case PUBCOMP:
				set, rule = &pubrelCodes, RulePubcompReason
			}
			if !set.has(p.ReasonCode) {
				vd.report(-1, "reason code", rule, errReasonCode)
			}
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		if p.PacketID == 0 {
			vd.report(-1, "packet id", RulePacketID, errPacketIDZero)
		}
		if len(p.Filters) == 0 {
			rule := RuleSubscribeEmpty
			if t == UNSUBSCRIBE {
				rule = RuleUnsubscribeEmpty
			}
			vd.report(-1, "topic filters", rule, errNoFilters)
		}
		for i := range p.Filters {
			f := &p.Filters[i]
			vd.filter(f.Topic)
			if t != SUBSCRIBE {
				continue
			}
			// v3: bits 7-2 reserved; v5: bits 7-6 reserved and retain
			// handling 3 is not defined. QoS 3 is malformed in both.
			bad := f.Options&3 == 3
			if v5 {
				bad = bad || f.Options&0xc0 != 0 || f.Options&0x30 == 0x30
			} else {
				bad = bad || f.Options&0xfc != 0
			}
			if bad {
				vd.report(-1, "subscription options", RuleSubOptions, errSubOptions)
			}
		}
	case SUBACK, UNSUBACK:
		if p.PacketID == 0 {
			vd.report(-1, "packet id", RulePacketID, errPacketIDZero)
		}
		if t == SUBACK || v5 {
			set, rule := &suback3Codes, RuleSubackReason
			switch {
			case t == UNSUBACK:
				set, rule = &unsubackCodes, RuleUnsubackReason
			case v5:
				set = &suback5Codes
			}
			if len(p.ReasonCodes) == 0 {
				vd.report(-1, "reason codes", rule, errReasonCode)
			}
			for _, c := range p.ReasonCodes {
				if !set.has(c) {
					vd.report(-1, "reason codes", rule, errReasonCode)
					break
				}
			}
		}
	case DISCONNECT:
		if v5 && !disconnectCodes.has(p.ReasonCode) {
			vd.report(-1, "reason code", RuleDisconnectReason, errReasonCode)
		}
	case AUTH:
		if !authCodes.has(p.ReasonCode) {
			vd.report(-1, "reason code", RuleAuthReason, errReasonCode)
		}
	}
	if v5 || len(p.Props) > 0 {
		vd.props(p.Props, uint16(1)<<t, "properties", t == PUBLISH)
		if len(p.WillProps) > 0 {
			vd.props(p.WillProps, willBit, "will properties", false)
		}
	}
	return vd.n
}

func (vd *validator) connect(p *Packet) {
	switch string(p.ProtocolName) {
	case "MQTT":
		if p.ProtocolLevel != V311 && p.ProtocolLevel != V5 {
			vd.report(-1, "protocol level", RuleProtocolLevel, errProtocolLevel)
		}
	case "MQIsdp":
		if p.ProtocolLevel != V31 {
			vd.report(-1, "protocol level", RuleProtocolLevel, errProtocolLevel)
		}
	default:
		vd.report(-1, "protocol name", RuleProtocolName, errProtocolName)
	}
	if p.ConnectFlags&1 != 0 {
		vd.report(-1, "connect flags", RuleConnectReserved, errConnectReserve)
	}
	if p.WillFlag() {
		if p.WillQoS() == 3 {
			vd.report(-1, "connect flags", RuleWillQoS3, errWillQoS3)
		}
		if vd.utf8(p.WillTopic, "will topic") {
			vd.report(-1, "will topic", RuleTopicWildcard, errWildcardTopic)
		}
		if len(p.WillTopic) == 0 {
			vd.report(-1, "will topic", RuleTopicLength, errEmptyTopic)
		}
	} else {
		if p.WillQoS() != 0 {
			vd.report(-1, "connect flags", RuleWillQoS, errWillQoS)
		}
		if p.WillRetain() {
			vd.report(-1, "connect flags", RuleWillRetain, errWillRetain)
		}
	}
	if p.Version != V5 && p.HasPassword() && !p.HasUsername() {
		vd.report(-1, "connect flags", RulePasswordNoUser, errPasswordNoUser)
	}
	vd.utf8(p.ClientID, "client id")
	if p.Version == V311 && len(p.ClientID) == 0 && !p.CleanStart() {
		vd.report(-1, "client id", RuleClientIDEmpty, errClientIDEmpty)
	}
	if p.HasUsername() {
		vd.utf8(p.Username, "username")
	}
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasZero reports whether any byte of w is zero (the classic SWAR test:
// exact for the presence of a zero byte).
func hasZero(w uint64) bool { return (w-lo8)&^w&hi8 != 0 }

// scanString checks an MQTT UTF-8 string (well-formed, no surrogates, no
// U+0000) and reports whether it holds a wildcard character. ASCII is
// checked eight bytes at a time.
func scanString(s []byte) (bad error, wildcard bool) {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		if w&hi8 != 0 || hasZero(w) {
			break // non-ASCII or NUL: byte by byte from here
		}
		if hasZero(w^(lo8*'+')) || hasZero(w^(lo8*'#')) {
			wildcard = true
		}
	}
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			return errNulChar, wildcard
		case c == '+' || c == '#':
			wildcard = true
		case c >= utf8.RuneSelf:
			rest := s[i:]
			if !utf8.Valid(rest) {
				return errBadUTF8, wildcard
			}
			if bytes.IndexByte(rest, 0) >= 0 {
				return errNulChar, wildcard
			}
			return nil, wildcard || bytes.IndexByte(rest, '+') >= 0 || bytes.IndexByte(rest, '#') >= 0
		}
	}
	return nil, wildcard
}

// utf8 checks an MQTT UTF-8 string and reports whether it holds a
// wildcard.
func (vd *validator) utf8(s []byte, field string) bool {
	bad, wild := scanString(s)
	switch bad {
	case errBadUTF8:
		vd.report(-1, field, RuleUTF8, bad)
	case errNulChar:
		vd.report(-1, field, RuleNul, bad)
	}
	return wild
}

// filter checks a topic filter: a UTF-8 string of at least one character
// in which '#' is the last level and '+' a whole level.
func (vd *validator) filter(s []byte) {
	wild := vd.utf8(s, "topic filter")
	if len(s) == 0 {
		vd.report(-1, "topic filter", RuleTopicLength, errEmptyTopic)
		return
	}
	if !wild {
		return
	}
	for _, c := range [2]byte{'+', '#'} {
		for i := 0; i < len(s); i++ {
			j := bytes.IndexByte(s[i:], c)
			if j < 0 {
				break
			}
			i += j
			okBefore := i == 0 || s[i-1] == '/'
			okAfter := i == len(s)-1 || (c == '+' && s[i+1] == '/')
			if !okBefore || !okAfter {
				vd.report(-1, "topic filter", RuleTopicFilter, errTopicFilter)
				return
			}
		}
	}
}

// props checks properties: allowed where they are, at most once (user
// properties and, in PUBLISH, subscription identifiers may repeat), values
// in range and strings valid.
func (vd *validator) props(props []Property, where uint16, field string, publish bool) {
	var seen uint64
	for i := range props {
		pr := &props[i]
		if int(pr.ID) >= len(propTable) || propTable[pr.ID].kind == KindUnknown {
			vd.report(-1, field, RuleProperty, errUnknownProp)
			continue
		}
		info := &propTable[pr.ID]
		if info.where&where == 0 {
			vd.report(-1, field, RuleProperty, errPropNotAllowed)
		}
		repeatable := pr.ID == PropUser || (publish && pr.ID == PropSubscriptionID)
		if seen&(1<<pr.ID) != 0 && !repeatable {
			vd.report(-1, field, RuleProperty, errDupProp)
		}
		seen |= 1 << pr.ID
		switch info.kind {
		case KindString:
			vd.utf8(pr.Data, field)
		case KindPair:
			vd.utf8(pr.Key, field)
			vd.utf8(pr.Data, field)
		}
		switch pr.ID {
		case PropPayloadFormat, PropRequestProblemInfo, PropRequestResponseInfo, PropMaximumQoS,
			PropRetainAvailable, PropWildcardSubAvailable, PropSubIDAvailable, PropSharedSubAvailable:
			if pr.Int > 1 {
				vd.report(-1, field, RuleProperty, errPropValue)
			}
		case PropReceiveMaximum, PropMaximumPacketSize, PropSubscriptionID:
			if pr.Int == 0 {
				vd.report(-1, field, RuleProperty, errPropValue)
			}
		case PropTopicAlias:
			if pr.Int == 0 {
				vd.report(-1, field, RuleTopicAlias, errPropValue)
			}
		}
	}
}
