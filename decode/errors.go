package decode

import (
	"errors"
	"strconv"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrShortBuffer means the buffer ends before the packet does: feed
	// more bytes and try again. It never means the bytes are bad.
	ErrShortBuffer = errors.New("mqtt: short buffer")
	// ErrMalformed is the errors.Is target of every *MalformedError.
	ErrMalformed = errors.New("mqtt: malformed packet")
	// ErrTooLarge is the errors.Is target of *TooLargeError.
	ErrTooLarge = errors.New("mqtt: packet too large")
)

// Causes carried in MalformedError.Err. They are static values so that
// reporting a violation allocates nothing.
var (
	errTruncated      = errors.New("field runs past the end of the packet")
	errTrailing       = errors.New("bytes left after the last field")
	errVarIntTooLong  = errors.New("variable byte integer longer than 4 bytes")
	errVarIntNotMin   = errors.New("variable byte integer not minimally encoded")
	errReservedType   = errors.New("reserved packet type")
	errReservedFlags  = errors.New("reserved fixed-header flags")
	errQoS3           = errors.New("qos 3")
	errDupQoS0        = errors.New("dup flag set on qos 0")
	errBadUTF8        = errors.New("invalid utf-8")
	errNulChar        = errors.New("contains u+0000")
	errProtocolName   = errors.New("unknown protocol name")
	errProtocolLevel  = errors.New("protocol level does not match protocol name")
	errConnectReserve = errors.New("reserved connect flag set")
	errWillQoS        = errors.New("will qos set without will flag")
	errWillQoS3       = errors.New("will qos 3")
	errWillRetain     = errors.New("will retain set without will flag")
	errPasswordNoUser = errors.New("password flag set without username flag")
	errPacketIDZero   = errors.New("packet identifier 0")
	errNoFilters      = errors.New("no topic filters")
	errSubOptions     = errors.New("reserved subscription option bits set")
	errUnknownProp    = errors.New("unknown property identifier")
	errPropNotAllowed = errors.New("property not allowed in this packet")
	errDupProp        = errors.New("duplicate property")
	errPropValue      = errors.New("property value out of range")
	errWildcardTopic  = errors.New("wildcard in topic name")
	errEmptyTopic     = errors.New("empty topic")
	errReasonCode     = errors.New("reason code not allowed in this packet")
	errNotInVersion   = errors.New("packet type does not exist in this protocol version")
	errAckFlags       = errors.New("reserved connack flag bits set")
	errSessionPresent = errors.New("session present with non-zero return code")
	errClientIDEmpty  = errors.New("empty client id without clean session")
	errTopicFilter    = errors.New("invalid wildcard in topic filter")
)

// MalformedError is one violation of the MQTT specification. Off is the
// offset of the offending field from the first byte of the packet, Field
// names it, Rule is the conformance statement it breaks. Error never
// includes field contents: passwords and payloads must not leak into logs.
type MalformedError struct {
	Off   int
	Field string
	Rule  string
	Err   error
}

func (e *MalformedError) Error() string {
	s := "mqtt: malformed " + e.Field + " at offset " + strconv.Itoa(e.Off)
	if e.Rule != "" {
		s += " [" + e.Rule + "]"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the cause.
func (e *MalformedError) Unwrap() error { return e.Err }

// TooLargeError reports a packet whose size on the wire (fixed header plus
// remaining length) exceeds the configured maximum. Nothing of its size is
// allocated; the caller skips Size bytes.
type TooLargeError struct {
	Size int
	Max  int
}

func (e *TooLargeError) Error() string {
	return "mqtt: packet of " + strconv.Itoa(e.Size) + " bytes exceeds maximum of " + strconv.Itoa(e.Max)
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }
