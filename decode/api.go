package decode

// This file pins the API that capture/, detect/ and the tests build on.
// Implementation lives in the other files of the package.

// Type is the MQTT control packet type (the high nibble of the fixed header).
type Type uint8

// Control packet types, MQTT 3.1/3.1.1/5.0.
const (
	Reserved    Type = 0
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

// Protocol levels as carried in CONNECT.
const (
	V31  uint8 = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 uint8 = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   uint8 = 5 // MQTT 5.0
)

// Filter is one topic filter of a SUBSCRIBE (Options carries the
// subscription options byte; QoS is Options&3) or UNSUBSCRIBE (Options 0).
type Filter struct {
	Topic   []byte
	Options uint8
}

// Property is one MQTT 5 property. For string and binary properties the
// value is in Data; for the user property Key holds the name and Data the
// value; integer properties (byte, two- and four-byte, variable byte integer)
// are in Int.
type Property struct {
	ID   uint8
	Int  uint32
	Key  []byte
	Data []byte
}

// Packet is one decoded control packet. All byte-slice fields are views into
// the buffer the packet was decoded from and are valid only as long as that
// buffer is (for a Framer: until the next call to Feed, Gap or Next). Filters
// and Props reuse their backing arrays across decodes, so a Packet that is
// reused for every decode stops allocating once it has seen its largest
// packet.
type Packet struct {
	Type    Type
	Flags   uint8 // low nibble of the fixed header
	Len     int   // bytes on the wire: fixed header + remaining length
	Version uint8 // protocol level the packet was decoded with (3, 4 or 5)

	// CONNECT
	ProtocolName  []byte
	ProtocolLevel uint8
	ConnectFlags  uint8
	KeepAlive     uint16
	ClientID      []byte
	WillTopic     []byte
	WillPayload   []byte
	Username      []byte
	Password      []byte
	WillProps     []Property

	// CONNACK: SessionPresent; ReasonCode is the v3 return code or the v5
	// reason code. PUBACK/PUBREC/PUBREL/PUBCOMP/DISCONNECT/AUTH (v5) also
	// carry ReasonCode (0 when absent).
	SessionPresent bool
	ReasonCode     uint8
	ConnackFlags   uint8 // CONNACK acknowledge flags byte as sent (bit 0 is SessionPresent)

	// PUBLISH
	Topic   []byte
	Payload []byte

	// PUBLISH (QoS>0), PUBACK..PUBCOMP, SUBSCRIBE..UNSUBACK
	PacketID uint16

	Filters     []Filter // SUBSCRIBE, UNSUBSCRIBE
	ReasonCodes []byte   // SUBACK, UNSUBACK (v5) return/reason codes

	Props []Property // MQTT 5 properties of the variable header

	// filled records which groups of fields the last Decode set, so that
	// the next one clears only those (zeroing the whole struct costs as
	// much as decoding a small PUBLISH).
	filled uint8
}

// QoS of a PUBLISH (bits 1-2 of the fixed-header flags).
func (p *Packet) QoS() uint8 { return (p.Flags >> 1) & 3 }

// Retain flag of a PUBLISH.
func (p *Packet) Retain() bool { return p.Flags&1 != 0 }

// Dup flag of a PUBLISH.
func (p *Packet) Dup() bool { return p.Flags&8 != 0 }

// CONNECT flag accessors.
func (p *Packet) CleanStart() bool  { return p.ConnectFlags&0x02 != 0 }
func (p *Packet) WillFlag() bool    { return p.ConnectFlags&0x04 != 0 }
func (p *Packet) WillQoS() uint8    { return (p.ConnectFlags >> 3) & 3 }
func (p *Packet) WillRetain() bool  { return p.ConnectFlags&0x20 != 0 }
func (p *Packet) HasPassword() bool { return p.ConnectFlags&0x40 != 0 }
func (p *Packet) HasUsername() bool { return p.ConnectFlags&0x80 != 0 }
