package decode

import "bytes"

// One fixture table drives the decoder, encoder, validator, fuzz seeds and
// benchmarks. Every byte is commented. Rule ids in comments are MQTT 5.0
// conformance statements.

// fixture is one packet on the wire and what it decodes to.
type fixture struct {
	name    string
	version uint8 // Decoder.Version (0: unknown, the CONNECT's own level decides)
	raw     []byte
	want    Packet // Len is filled in from raw when 0

	// Malformed fixtures: the rule Decode reports (structural), or the
	// rules Validate reports (in order). Clean fixtures have neither.
	decodeRule    string
	validateRules []string

	// noEncode: Append of want does not reproduce raw byte for byte (the
	// fixture uses an encoding choice Append does not make).
	noEncode bool
}

func b(s string) []byte { return []byte(s) }

func rep(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

func cat(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }

var fixtures = []fixture{
	// ---------------------------------------------------------------
	// MQTT 3.1.1 (level 4)
	{
		name: "v4 CONNECT clean", version: 0,
		raw: []byte{
			0x10, 15, // Fixed header: CONNECT, remaining length 15
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			4,     // Protocol Level
			0x02,  // Connect Flags: clean session
			0, 60, // Keep Alive - MSB+LSB
			0, 3, // Client ID - MSB+LSB
			'z', 'e', 'n', // Client ID
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x02, KeepAlive: 60, ClientID: b("zen")},
	},
	{
		name: "v4 CONNECT empty client id",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x02, // Connect Flags: clean session
			0, 0, // Keep Alive 0
			0, 0, // Client ID - MSB+LSB: empty
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x02},
	},
	{
		name: "v4 CONNECT will username password",
		raw: []byte{
			0x10, 43, // Fixed header: CONNECT, remaining length 43
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			4,     // Protocol Level
			0xEE,  // Connect Flags: username, password, will retain, will qos 1, will flag, clean session
			0, 30, // Keep Alive 30
			0, 3, // Client ID - MSB+LSB
			'z', 'e', 'n', // Client ID
			0, 3, // Will Topic - MSB+LSB
			'l', 'w', 't', // Will Topic
			0, 8, // Will Message - MSB+LSB
			'n', 'o', 't', 'a', 'g', 'a', 'i', 'n', // Will Message
			0, 5, // Username - MSB+LSB
			'm', 'o', 'c', 'h', 'i', // Username
			0, 4, // Password - MSB+LSB
			',', '.', '/', ';', // Password
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0xEE, KeepAlive: 30,
			ClientID: b("zen"), WillTopic: b("lwt"), WillPayload: b("notagain"), Username: b("mochi"), Password: b(",./;")},
	},
	{
		name: "v4 CONNACK accepted", version: 4,
		raw: []byte{
			0x20, 2, // Fixed header: CONNACK, remaining length 2
			0, // Acknowledge flags: no session present
			0, // Return code: accepted
		},
		want: Packet{Type: CONNACK, Version: 4},
	},
	{
		name: "v4 CONNACK session present", version: 4,
		raw: []byte{
			0x20, 2, // Fixed header: CONNACK, remaining length 2
			1, // Acknowledge flags: session present
			0, // Return code: accepted
		},
		want: Packet{Type: CONNACK, Version: 4, SessionPresent: true, ConnackFlags: 1},
	},
	{
		name: "v4 CONNACK not authorized", version: 4,
		raw: []byte{
			0x20, 2, // Fixed header: CONNACK, remaining length 2
			0, // Acknowledge flags
			5, // Return code: not authorized
		},
		want: Packet{Type: CONNACK, Version: 4, ReasonCode: 5},
	},
	{
		name: "v4 PUBLISH qos 0", version: 4,
		raw: []byte{
			0x30, 10, // Fixed header: PUBLISH qos 0, remaining length 10
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
			'h', 'e', 'l', 'l', 'o', // Payload
		},
		want: Packet{Type: PUBLISH, Version: 4, Topic: b("a/b"), Payload: b("hello")},
	},
	{
		name: "v4 PUBLISH zero-length payload retain", version: 4,
		raw: []byte{
			0x31, 5, // Fixed header: PUBLISH qos 0 retain, remaining length 5
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
			// Payload: empty (clears the retained message)
		},
		want: Packet{Type: PUBLISH, Flags: 1, Version: 4, Topic: b("a/b")},
	},
	{
		name: "v4 PUBLISH qos 1", version: 4,
		raw: []byte{
			0x32, 14, // Fixed header: PUBLISH qos 1, remaining length 14
			0, 5, // Topic Name - MSB+LSB
			'a', '/', 'b', '/', 'c', // Topic Name
			0, 7, // Packet ID - MSB+LSB
			'h', 'e', 'l', 'l', 'o', // Payload
		},
		want: Packet{Type: PUBLISH, Flags: 2, Version: 4, Topic: b("a/b/c"), PacketID: 7, Payload: b("hello")},
	},
	{
		name: "v4 PUBLISH qos 2 dup retain", version: 4,
		raw: []byte{
			0x3D, 7, // Fixed header: PUBLISH dup, qos 2, retain; remaining length 7
			0, 1, // Topic Name - MSB+LSB
			'x',        // Topic Name
			0xff, 0xff, // Packet ID 65535
			'!', '?', // Payload
		},
		want: Packet{Type: PUBLISH, Flags: 0x0D, Version: 4, Topic: b("x"), PacketID: 65535, Payload: b("!?")},
	},
	{
		name: "v4 PUBLISH two-byte remaining length", version: 4,
		raw: cat([]byte{
			0x30, 0x80, 0x01, // Fixed header: PUBLISH qos 0, remaining length 128 (0x80 0x01)
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
		}, rep('x', 123)), // Payload: 123 bytes of 'x'
		want: Packet{Type: PUBLISH, Version: 4, Topic: b("a/b"), Payload: rep('x', 123)},
	},
	{
		name: "v4 PUBACK", version: 4,
		raw:  []byte{0x40, 2 /* Fixed header: PUBACK, remaining length 2 */, 0, 7 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBACK, Version: 4, PacketID: 7},
	},
	{
		name: "v4 PUBREC", version: 4,
		raw:  []byte{0x50, 2 /* Fixed header: PUBREC, remaining length 2 */, 0, 8 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBREC, Version: 4, PacketID: 8},
	},
	{
		name: "v4 PUBREL", version: 4,
		raw:  []byte{0x62, 2 /* Fixed header: PUBREL, flags 0010, remaining length 2 */, 0, 8 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBREL, Flags: 2, Version: 4, PacketID: 8},
	},
	{
		name: "v4 PUBCOMP", version: 4,
		raw:  []byte{0x70, 2 /* Fixed header: PUBCOMP, remaining length 2 */, 0, 8 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBCOMP, Version: 4, PacketID: 8},
	},
	{
		name: "v4 SUBSCRIBE two filters", version: 4,
		raw: []byte{
			0x82, 14, // Fixed header: SUBSCRIBE, flags 0010, remaining length 14
			0, 15, // Packet ID - MSB+LSB
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', 'b', // Topic Filter
			1,    // Requested QoS 1
			0, 3, // Topic Filter - MSB+LSB
			'd', '/', '#', // Topic Filter
			2, // Requested QoS 2
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 4, PacketID: 15, Filters: []Filter{{Topic: b("a/b"), Options: 1}, {Topic: b("d/#"), Options: 2}}},
	},
	{
		name: "v4 SUBACK", version: 4,
		raw: []byte{
			0x90, 5, // Fixed header: SUBACK, remaining length 5
			0, 15, // Packet ID - MSB+LSB
			0, 1, 0x80, // Return codes: qos 0, qos 1, failure
		},
		want: Packet{Type: SUBACK, Version: 4, PacketID: 15, ReasonCodes: []byte{0, 1, 0x80}},
	},
	{
		name: "v4 UNSUBSCRIBE", version: 4,
		raw: []byte{
			0xA2, 12, // Fixed header: UNSUBSCRIBE, flags 0010, remaining length 12
			0, 16, // Packet ID - MSB+LSB
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', 'b', // Topic Filter
			0, 3, // Topic Filter - MSB+LSB
			'+', '/', 'c', // Topic Filter
		},
		want: Packet{Type: UNSUBSCRIBE, Flags: 2, Version: 4, PacketID: 16, Filters: []Filter{{Topic: b("a/b")}, {Topic: b("+/c")}}},
	},
	{
		name: "v4 UNSUBACK", version: 4,
		raw:  []byte{0xB0, 2 /* Fixed header: UNSUBACK, remaining length 2 */, 0, 16 /* Packet ID - MSB+LSB */},
		want: Packet{Type: UNSUBACK, Version: 4, PacketID: 16},
	},
	{
		name: "v4 PINGREQ", version: 4,
		raw:  []byte{0xC0, 0 /* Fixed header: PINGREQ, remaining length 0 */},
		want: Packet{Type: PINGREQ, Version: 4},
	},
	{
		name: "v4 PINGRESP", version: 4,
		raw:  []byte{0xD0, 0 /* Fixed header: PINGRESP, remaining length 0 */},
		want: Packet{Type: PINGRESP, Version: 4},
	},
	{
		name: "v4 DISCONNECT", version: 4,
		raw:  []byte{0xE0, 0 /* Fixed header: DISCONNECT, remaining length 0 */},
		want: Packet{Type: DISCONNECT, Version: 4},
	},

	// ---------------------------------------------------------------
	// MQTT 3.1 (protocol name MQIsdp, level 3)
	{
		name: "v3 CONNECT username password",
		raw: []byte{
			0x10, 31, // Fixed header: CONNECT, remaining length 31
			0, 6, // Protocol Name - MSB+LSB
			'M', 'Q', 'I', 's', 'd', 'p', // Protocol Name
			3,     // Protocol Level
			0xC2,  // Connect Flags: username, password, clean session
			0, 20, // Keep Alive 20
			0, 5, // Client ID - MSB+LSB
			'p', 'a', 'h', 'o', '1', // Client ID
			0, 4, // Username - MSB+LSB
			'u', 's', 'e', 'r', // Username
			0, 4, // Password - MSB+LSB
			'p', 'a', 's', 's', // Password
		},
		want: Packet{Type: CONNECT, Version: 3, ProtocolName: b("MQIsdp"), ProtocolLevel: 3, ConnectFlags: 0xC2, KeepAlive: 20,
			ClientID: b("paho1"), Username: b("user"), Password: b("pass")},
	},
	{
		name: "v3 CONNACK", version: 3,
		raw:  []byte{0x20, 2 /* Fixed header: CONNACK, remaining length 2 */, 0 /* reserved */, 0 /* Return code: accepted */},
		want: Packet{Type: CONNACK, Version: 3},
	},
	{
		name: "v3 PUBLISH qos 1", version: 3,
		raw: []byte{
			0x32, 9, // Fixed header: PUBLISH qos 1, remaining length 9
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
			0, 1, // Packet ID - MSB+LSB
			'h', 'i', // Payload
		},
		want: Packet{Type: PUBLISH, Flags: 2, Version: 3, Topic: b("a/b"), PacketID: 1, Payload: b("hi")},
	},
	{
		name: "v3 PUBACK", version: 3,
		raw:  []byte{0x40, 2 /* Fixed header: PUBACK, remaining length 2 */, 0, 1 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBACK, Version: 3, PacketID: 1},
	},
	{
		name: "v3 PUBREC", version: 3,
		raw:  []byte{0x50, 2 /* Fixed header: PUBREC, remaining length 2 */, 0, 2 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBREC, Version: 3, PacketID: 2},
	},
	{
		name: "v3 PUBREL", version: 3,
		raw:  []byte{0x62, 2 /* Fixed header: PUBREL, flags 0010, remaining length 2 */, 0, 2 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBREL, Flags: 2, Version: 3, PacketID: 2},
	},
	{
		name: "v3 PUBCOMP", version: 3,
		raw:  []byte{0x70, 2 /* Fixed header: PUBCOMP, remaining length 2 */, 0, 2 /* Packet ID - MSB+LSB */},
		want: Packet{Type: PUBCOMP, Version: 3, PacketID: 2},
	},
	{
		name: "v3 SUBSCRIBE", version: 3,
		raw: []byte{
			0x82, 8, // Fixed header: SUBSCRIBE, flags 0010, remaining length 8
			0, 3, // Packet ID - MSB+LSB
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', '+', // Topic Filter
			0, // Requested QoS 0
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 3, PacketID: 3, Filters: []Filter{{Topic: b("a/+")}}},
	},
	{
		name: "v3 SUBACK", version: 3,
		raw:  []byte{0x90, 3 /* Fixed header: SUBACK, remaining length 3 */, 0, 3 /* Packet ID - MSB+LSB */, 0 /* Granted QoS 0 */},
		want: Packet{Type: SUBACK, Version: 3, PacketID: 3, ReasonCodes: []byte{0}},
	},
	{
		name: "v3 UNSUBSCRIBE", version: 3,
		raw: []byte{
			0xA2, 7, // Fixed header: UNSUBSCRIBE, flags 0010, remaining length 7
			0, 4, // Packet ID - MSB+LSB
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', '+', // Topic Filter
		},
		want: Packet{Type: UNSUBSCRIBE, Flags: 2, Version: 3, PacketID: 4, Filters: []Filter{{Topic: b("a/+")}}},
	},
	{
		name: "v3 UNSUBACK", version: 3,
		raw:  []byte{0xB0, 2 /* Fixed header: UNSUBACK, remaining length 2 */, 0, 4 /* Packet ID - MSB+LSB */},
		want: Packet{Type: UNSUBACK, Version: 3, PacketID: 4},
	},
	{
		name: "v3 PINGREQ", version: 3,
		raw:  []byte{0xC0, 0 /* Fixed header: PINGREQ, remaining length 0 */},
		want: Packet{Type: PINGREQ, Version: 3},
	},
	{
		name: "v3 PINGRESP", version: 3,
		raw:  []byte{0xD0, 0 /* Fixed header: PINGRESP, remaining length 0 */},
		want: Packet{Type: PINGRESP, Version: 3},
	},
	{
		name: "v3 DISCONNECT", version: 3,
		raw:  []byte{0xE0, 0 /* Fixed header: DISCONNECT, remaining length 0 */},
		want: Packet{Type: DISCONNECT, Version: 3},
	},

	// ---------------------------------------------------------------
	// MQTT 5.0 (level 5)
	{
		name: "v5 CONNECT minimal",
		raw: []byte{
			0x10, 16, // Fixed header: CONNECT, remaining length 16
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			5,     // Protocol Level
			0x02,  // Connect Flags: clean start
			0, 60, // Keep Alive 60
			3,           // Properties length
			0x21, 0, 20, // Receive Maximum 20
			0, 0, // Client ID - MSB+LSB: empty
		},
		want: Packet{Type: CONNECT, Version: 5, ProtocolName: b("MQTT"), ProtocolLevel: 5, ConnectFlags: 0x02, KeepAlive: 60,
			Props: []Property{{ID: PropReceiveMaximum, Int: 20}}},
	},
	{
		name: "v5 CONNECT all properties, will, username, password",
		raw: []byte{
			0x10, 121, // Fixed header: CONNECT, remaining length 121
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			5,     // Protocol Level
			0xD6,  // Connect Flags: username, password, will qos 2, will flag, clean start
			0, 30, // Keep Alive 30
			40,                 // Properties length
			0x11, 0, 0, 0, 120, // Session Expiry Interval 120
			0x21, 1, 244, // Receive Maximum 500
			0x27, 0, 0, 0x10, 0, // Maximum Packet Size 4096
			0x22, 0, 10, // Topic Alias Maximum 10
			0x19, 1, // Request Response Information 1
			0x17, 0, // Request Problem Information 0
			0x26, 0, 1, 'k', 0, 1, 'v', // User Property k=v
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // Authentication Method
			0x16, 0, 2, 1, 2, // Authentication Data
			0, 3, // Client ID - MSB+LSB
			'z', 'e', 'n', // Client ID
			39,               // Will Properties length
			0x18, 0, 0, 0, 5, // Will Delay Interval 5
			0x01, 1, // Payload Format Indicator 1 (UTF-8)
			0x02, 0, 0, 0, 60, // Message Expiry Interval 60
			0x03, 0, 4, 't', 'e', 'x', 't', // Content Type "text"
			0x08, 0, 3, 'r', '/', 't', // Response Topic "r/t"
			0x09, 0, 2, 'c', 'd', // Correlation Data
			0x26, 0, 2, 'w', 'k', 0, 2, 'w', 'v', // User Property wk=wv
			0, 3, // Will Topic - MSB+LSB
			'l', 'w', 't', // Will Topic
			0, 4, // Will Payload - MSB+LSB
			'g', 'o', 'n', 'e', // Will Payload
			0, 4, // Username - MSB+LSB
			'u', 's', 'e', 'r', // Username
			0, 6, // Password - MSB+LSB
			's', 'e', 'c', 'r', 'e', 't', // Password
		},
		want: Packet{Type: CONNECT, Version: 5, ProtocolName: b("MQTT"), ProtocolLevel: 5, ConnectFlags: 0xD6, KeepAlive: 30,
			Props: []Property{
				{ID: PropSessionExpiry, Int: 120},
				{ID: PropReceiveMaximum, Int: 500},
				{ID: PropMaximumPacketSize, Int: 4096},
				{ID: PropTopicAliasMaximum, Int: 10},
				{ID: PropRequestResponseInfo, Int: 1},
				{ID: PropRequestProblemInfo, Int: 0},
				{ID: PropUser, Key: b("k"), Data: b("v")},
				{ID: PropAuthMethod, Data: b("SCRAM")},
				{ID: PropAuthData, Data: []byte{1, 2}},
			},
			ClientID: b("zen"),
			WillProps: []Property{
				{ID: PropWillDelay, Int: 5},
				{ID: PropPayloadFormat, Int: 1},
				{ID: PropMessageExpiry, Int: 60},
				{ID: PropContentType, Data: b("text")},
				{ID: PropResponseTopic, Data: b("r/t")},
				{ID: PropCorrelationData, Data: b("cd")},
				{ID: PropUser, Key: b("wk"), Data: b("wv")},
			},
			WillTopic: b("lwt"), WillPayload: b("gone"), Username: b("user"), Password: b("secret")},
	},
	{
		name: "v5 CONNACK all properties", version: 5,
		raw: []byte{
			0x20, 97, // Fixed header: CONNACK, remaining length 97
			0,                  // Acknowledge flags
			0,                  // Reason code: success
			94,                 // Properties length
			0x11, 0, 0, 0, 120, // Session Expiry Interval 120
			0x21, 0, 100, // Receive Maximum 100
			0x24, 1, // Maximum QoS 1
			0x25, 1, // Retain Available 1
			0x27, 0, 0, 4, 0, // Maximum Packet Size 1024
			0x12, 0, 3, 'a', 'c', 'i', // Assigned Client Identifier "aci"
			0x22, 0, 5, // Topic Alias Maximum 5
			0x1F, 0, 2, 'o', 'k', // Reason String "ok"
			0x26, 0, 1, 'k', 0, 1, 'v', // User Property k=v
			0x28, 1, // Wildcard Subscription Available 1
			0x29, 1, // Subscription Identifier Available 1
			0x2A, 0, // Shared Subscription Available 0
			0x13, 0, 45, // Server Keep Alive 45
			0x1A, 0, 4, 'r', 'e', 's', 'p', // Response Information "resp"
			0x1C, 0, 10, 'o', 't', 'h', 'e', 'r', ':', '1', '8', '8', '3', // Server Reference "other:1883"
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
			0x16, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // Authentication Data
		},
		want: Packet{Type: CONNACK, Version: 5, Props: []Property{
			{ID: PropSessionExpiry, Int: 120},
			{ID: PropReceiveMaximum, Int: 100},
			{ID: PropMaximumQoS, Int: 1},
			{ID: PropRetainAvailable, Int: 1},
			{ID: PropMaximumPacketSize, Int: 1024},
			{ID: PropAssignedClientID, Data: b("aci")},
			{ID: PropTopicAliasMaximum, Int: 5},
			{ID: PropReasonString, Data: b("ok")},
			{ID: PropUser, Key: b("k"), Data: b("v")},
			{ID: PropWildcardSubAvailable, Int: 1},
			{ID: PropSubIDAvailable, Int: 1},
			{ID: PropSharedSubAvailable, Int: 0},
			{ID: PropServerKeepAlive, Int: 45},
			{ID: PropResponseInfo, Data: b("resp")},
			{ID: PropServerReference, Data: b("other:1883")},
			{ID: PropAuthMethod, Data: b("SCRAM")},
			{ID: PropAuthData, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		}},
	},
	{
		name: "v5 CONNACK not authorized", version: 5,
		raw: []byte{
			0x20, 3, // Fixed header: CONNACK, remaining length 3
			0,    // Acknowledge flags
			0x87, // Reason code: not authorized
			0,    // Properties length
		},
		want: Packet{Type: CONNACK, Version: 5, ReasonCode: 0x87},
	},
	{
		name: "v5 PUBLISH qos 0 no properties", version: 5,
		raw: []byte{
			0x30, 8, // Fixed header: PUBLISH qos 0, remaining length 8
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
			0,        // Properties length
			'h', 'i', // Payload
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("a/b"), Payload: b("hi")},
	},
	{
		name: "v5 PUBLISH qos 1 all properties", version: 5,
		raw: []byte{
			0x32, 55, // Fixed header: PUBLISH qos 1, remaining length 55
			0, 3, // Topic Name - MSB+LSB
			'a', '/', 'b', // Topic Name
			0, 9, // Packet ID - MSB+LSB
			45,      // Properties length
			0x01, 1, // Payload Format Indicator 1
			0x02, 0, 0, 0x0e, 0x10, // Message Expiry Interval 3600
			0x23, 0, 3, // Topic Alias 3
			0x08, 0, 5, 'r', 'e', 'p', 'l', 'y', // Response Topic "reply"
			0x09, 0, 3, 1, 2, 3, // Correlation Data
			0x26, 0, 1, 'a', 0, 1, 'b', // User Property a=b
			0x0B, 0xff, 0xff, 0xff, 0x7f, // Subscription Identifier 268435455
			0x0B, 1, // Subscription Identifier 1 (may repeat in PUBLISH)
			0x03, 0, 4, 'j', 's', 'o', 'n', // Content Type "json"
			'{', '}', // Payload
		},
		want: Packet{Type: PUBLISH, Flags: 2, Version: 5, Topic: b("a/b"), PacketID: 9, Payload: b("{}"), Props: []Property{
			{ID: PropPayloadFormat, Int: 1},
			{ID: PropMessageExpiry, Int: 3600},
			{ID: PropTopicAlias, Int: 3},
			{ID: PropResponseTopic, Data: b("reply")},
			{ID: PropCorrelationData, Data: []byte{1, 2, 3}},
			{ID: PropUser, Key: b("a"), Data: b("b")},
			{ID: PropSubscriptionID, Int: 268435455},
			{ID: PropSubscriptionID, Int: 1},
			{ID: PropContentType, Data: b("json")},
		}},
	},
	{
		name: "v5 PUBLISH empty topic with topic alias", version: 5,
		raw: []byte{
			0x30, 7, // Fixed header: PUBLISH qos 0, remaining length 7
			0, 0, // Topic Name - MSB+LSB: empty, the alias names it
			3,          // Properties length
			0x23, 0, 3, // Topic Alias 3
			'x', // Payload
		},
		want: Packet{Type: PUBLISH, Version: 5, Payload: b("x"), Props: []Property{{ID: PropTopicAlias, Int: 3}}},
	},
	{
		name: "v5 PUBACK minimal", version: 5,
		raw:  []byte{0x40, 2 /* Fixed header: PUBACK, remaining length 2 */, 0, 9 /* Packet ID - MSB+LSB; reason 0 implied */},
		want: Packet{Type: PUBACK, Version: 5, PacketID: 9},
	},
	{
		name: "v5 PUBACK no matching subscribers", version: 5,
		raw: []byte{
			0x40, 3, // Fixed header: PUBACK, remaining length 3
			0, 9, // Packet ID - MSB+LSB
			0x10, // Reason code: no matching subscribers
		},
		want: Packet{Type: PUBACK, Version: 5, PacketID: 9, ReasonCode: 0x10},
	},
	{
		name: "v5 PUBREC with reason string", version: 5,
		raw: []byte{
			0x50, 10, // Fixed header: PUBREC, remaining length 10
			0, 10, // Packet ID - MSB+LSB
			0x97,                      // Reason code: quota exceeded
			6,                         // Properties length
			0x1F, 0, 3, 'q', 'e', 'x', // Reason String "qex"
		},
		want: Packet{Type: PUBREC, Version: 5, PacketID: 10, ReasonCode: 0x97, Props: []Property{{ID: PropReasonString, Data: b("qex")}}},
	},
	{
		name: "v5 PUBREL packet id not found", version: 5,
		raw: []byte{
			0x62, 3, // Fixed header: PUBREL, flags 0010, remaining length 3
			0, 10, // Packet ID - MSB+LSB
			0x92, // Reason code: packet identifier not found
		},
		want: Packet{Type: PUBREL, Flags: 2, Version: 5, PacketID: 10, ReasonCode: 0x92},
	},
	{
		name: "v5 PUBCOMP with user property", version: 5,
		raw: []byte{
			0x70, 11, // Fixed header: PUBCOMP, remaining length 11
			0, 10, // Packet ID - MSB+LSB
			0,                          // Reason code: success
			7,                          // Properties length
			0x26, 0, 1, 'k', 0, 1, 'v', // User Property k=v
		},
		want: Packet{Type: PUBCOMP, Version: 5, PacketID: 10, Props: []Property{{ID: PropUser, Key: b("k"), Data: b("v")}}},
	},
	{
		name: "v5 SUBSCRIBE with subscription identifier and options", version: 5,
		raw: []byte{
			0x82, 30, // Fixed header: SUBSCRIBE, flags 0010, remaining length 30
			0, 11, // Packet ID - MSB+LSB
			9,       // Properties length
			0x0B, 5, // Subscription Identifier 5
			0x26, 0, 1, 'k', 0, 1, 'v', // User Property k=v
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', 'b', // Topic Filter
			0x2D, // Options: retain handling 2, retain as published, no local, qos 1
			0, 9, // Topic Filter - MSB+LSB
			'$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', // Topic Filter "$share/g/"
			0x00, // Options: qos 0
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 5, PacketID: 11,
			Props:   []Property{{ID: PropSubscriptionID, Int: 5}, {ID: PropUser, Key: b("k"), Data: b("v")}},
			Filters: []Filter{{Topic: b("a/b"), Options: 0x2D}, {Topic: b("$share/g/")}}},
	},
	{
		name: "v5 SUBACK", version: 5,
		raw: []byte{
			0x90, 10, // Fixed header: SUBACK, remaining length 10
			0, 11, // Packet ID - MSB+LSB
			5,                    // Properties length
			0x1F, 0, 2, 'n', 'o', // Reason String "no"
			0x01, 0x87, // Reason codes: granted qos 1, not authorized
		},
		want: Packet{Type: SUBACK, Version: 5, PacketID: 11, Props: []Property{{ID: PropReasonString, Data: b("no")}}, ReasonCodes: []byte{0x01, 0x87}},
	},
	{
		name: "v5 UNSUBSCRIBE", version: 5,
		raw: []byte{
			0xA2, 8, // Fixed header: UNSUBSCRIBE, flags 0010, remaining length 8
			0, 12, // Packet ID - MSB+LSB
			0,    // Properties length
			0, 3, // Topic Filter - MSB+LSB
			'a', '/', 'b', // Topic Filter
		},
		want: Packet{Type: UNSUBSCRIBE, Flags: 2, Version: 5, PacketID: 12, Filters: []Filter{{Topic: b("a/b")}}},
	},
	{
		name: "v5 UNSUBACK", version: 5,
		raw: []byte{
			0xB0, 5, // Fixed header: UNSUBACK, remaining length 5
			0, 12, // Packet ID - MSB+LSB
			0,          // Properties length
			0x00, 0x11, // Reason codes: success, no subscription existed
		},
		want: Packet{Type: UNSUBACK, Version: 5, PacketID: 12, ReasonCodes: []byte{0x00, 0x11}},
	},
	{
		name: "v5 PINGREQ", version: 5,
		raw:  []byte{0xC0, 0 /* Fixed header: PINGREQ, remaining length 0 */},
		want: Packet{Type: PINGREQ, Version: 5},
	},
	{
		name: "v5 PINGRESP", version: 5,
		raw:  []byte{0xD0, 0 /* Fixed header: PINGRESP, remaining length 0 */},
		want: Packet{Type: PINGRESP, Version: 5},
	},
	{
		name: "v5 DISCONNECT minimal", version: 5,
		raw:  []byte{0xE0, 0 /* Fixed header: DISCONNECT, remaining length 0: normal disconnection */},
		want: Packet{Type: DISCONNECT, Version: 5},
	},
	{
		name: "v5 DISCONNECT reason only", version: 5,
		raw:  []byte{0xE0, 1 /* Fixed header: DISCONNECT, remaining length 1 */, 0x8E /* Reason code: session taken over */},
		want: Packet{Type: DISCONNECT, Version: 5, ReasonCode: 0x8E},
	},
	{
		name: "v5 DISCONNECT with properties", version: 5,
		raw: []byte{
			0xE0, 18, // Fixed header: DISCONNECT, remaining length 18
			0x9C,             // Reason code: use another server
			16,               // Properties length
			0x11, 0, 0, 0, 0, // Session Expiry Interval 0
			0x1F, 0, 2, 'g', 'o', // Reason String "go"
			0x1C, 0, 3, 's', 'r', 'v', // Server Reference "srv"
		},
		want: Packet{Type: DISCONNECT, Version: 5, ReasonCode: 0x9C, Props: []Property{
			{ID: PropSessionExpiry, Int: 0}, {ID: PropReasonString, Data: b("go")}, {ID: PropServerReference, Data: b("srv")}}},
	},
	{
		name: "v5 AUTH continue", version: 5,
		raw: []byte{
			0xF0, 15, // Fixed header: AUTH, remaining length 15
			0x18,                                // Reason code: continue authentication
			13,                                  // Properties length
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // Authentication Method "SCRAM"
			0x16, 0, 2, 0xAB, 0xCD, // Authentication Data
		},
		want: Packet{Type: AUTH, Version: 5, ReasonCode: 0x18, Props: []Property{{ID: PropAuthMethod, Data: b("SCRAM")}, {ID: PropAuthData, Data: []byte{0xAB, 0xCD}}}},
	},
	{
		name: "v5 AUTH minimal", version: 5,
		raw:  []byte{0xF0, 0 /* Fixed header: AUTH, remaining length 0: success */},
		want: Packet{Type: AUTH, Version: 5},
	},

	// ---------------------------------------------------------------
	// Malformed: Decode reports the rule (structural).
	{
		name: "remaining length over four bytes", version: 4,
		raw:  []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01 /* Remaining length: fifth byte [MQTT-1.5.5] */},
		want: Packet{Type: PUBLISH, Version: 4, Len: 5}, decodeRule: RuleVarInt, noEncode: true,
	},
	{
		name: "remaining length not minimal", version: 4,
		raw:  []byte{0xC0, 0x80, 0x00 /* Fixed header: PINGREQ, remaining length 0 in two bytes [MQTT-1.5.5-1] */},
		want: Packet{Type: PINGREQ, Version: 4}, decodeRule: RuleVarIntMinimal, noEncode: true,
	},
	{
		name: "reserved packet type 0", version: 4,
		raw:  []byte{0x00, 0 /* Fixed header: type 0 (forbidden), remaining length 0 */},
		want: Packet{Type: Reserved, Version: 4}, decodeRule: RuleReservedType, validateRules: []string{RuleReservedType},
	},
	{
		name: "PINGREQ with a body", version: 4,
		raw:  []byte{0xC0, 1 /* Fixed header: PINGREQ, remaining length 1 */, 0 /* extra byte [MQTT-2.1.4] */},
		want: Packet{Type: PINGREQ, Version: 4}, decodeRule: RuleRemainingLength, noEncode: true,
	},
	{
		name: "v4 PUBACK with a reason code", version: 4,
		raw:  []byte{0x40, 3 /* Fixed header: PUBACK, remaining length 3 */, 0, 1 /* Packet ID */, 0x10 /* v5-only reason code */},
		want: Packet{Type: PUBACK, Version: 4, PacketID: 1}, decodeRule: RuleRemainingLength, noEncode: true,
	},
	{
		name: "truncated topic", version: 4,
		raw: []byte{
			0x30, 4, // Fixed header: PUBLISH, remaining length 4
			0, 9, // Topic Name - MSB+LSB: 9 bytes, but only 2 follow
			'a', 'b',
		},
		want: Packet{Type: PUBLISH, Version: 4}, decodeRule: RuleTopicName, noEncode: true,
	},
	{
		name: "CONNECT username flag without username",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x82, // Connect Flags: username, clean session
			0, 0, // Keep Alive 0
			0, 0, // Client ID: empty; the username is missing [MQTT-3.1.2-17]
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x82}, decodeRule: RuleUsername, noEncode: true,
	},
	{
		name: "CONNECT will flag without will fields",
		raw: []byte{
			0x10, 13, // Fixed header: CONNECT, remaining length 13
			0, 4, // Protocol Name - MSB+LSB
			'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x06, // Connect Flags: will flag, clean session
			0, 0, // Keep Alive 0
			0, 1, 'c', // Client ID "c"; will topic and payload missing [MQTT-3.1.2-9]
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x06, ClientID: b("c")}, decodeRule: RuleWillPresent, noEncode: true,
	},
	{
		name: "v5 unknown property", version: 5,
		raw: []byte{
			0x30, 7, // Fixed header: PUBLISH, remaining length 7
			0, 1, 't', // Topic Name "t"
			2,       // Properties length
			0x7F, 0, // Property 0x7F: not defined [MQTT-2.2.2.2]
			'x', // Payload
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("t")}, decodeRule: RuleProperty, noEncode: true,
	},
	{
		name: "v5 property length past the packet", version: 5,
		raw: []byte{
			0x30, 6, // Fixed header: PUBLISH, remaining length 6
			0, 1, 't', // Topic Name "t"
			9,       // Properties length 9, but 2 bytes remain [MQTT-2.1.4]
			0x01, 1, // Payload Format Indicator 1
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("t")}, decodeRule: RuleRemainingLength, noEncode: true,
	},

	// ---------------------------------------------------------------
	// Malformed: Validate reports the rules (decoding succeeds).
	{
		name: "PUBACK reserved flags", version: 4,
		raw:  []byte{0x41, 2 /* Fixed header: PUBACK with flag bit 0 set [MQTT-2.1.3-1] */, 0, 1 /* Packet ID */},
		want: Packet{Type: PUBACK, Flags: 1, Version: 4, PacketID: 1}, validateRules: []string{RuleFlags},
	},
	{
		name: "SUBSCRIBE flags 0000", version: 4,
		raw: []byte{
			0x80, 6, // Fixed header: SUBSCRIBE with flags 0000 instead of 0010 [MQTT-2.1.3-1]
			0, 1, // Packet ID
			0, 1, 'a', // Topic Filter "a"
			0, // Requested QoS 0
		},
		want: Packet{Type: SUBSCRIBE, Version: 4, PacketID: 1, Filters: []Filter{{Topic: b("a")}}}, validateRules: []string{RuleFlags},
	},
	{
		name: "PUBLISH qos 3", version: 4,
		raw: []byte{
			0x36, 5, // Fixed header: PUBLISH qos 3 [MQTT-3.3.1-4]
			0, 1, 't', // Topic Name "t"
			0, 1, // Packet ID (a QoS 3 packet is read as if QoS > 0)
		},
		want: Packet{Type: PUBLISH, Flags: 6, Version: 4, Topic: b("t"), PacketID: 1}, validateRules: []string{RuleQoS3},
	},
	{
		name: "PUBLISH dup at qos 0", version: 4,
		raw:  []byte{0x38, 3 /* Fixed header: PUBLISH dup, qos 0 [MQTT-3.3.1-2] */, 0, 1, 't' /* Topic Name */},
		want: Packet{Type: PUBLISH, Flags: 8, Version: 4, Topic: b("t")}, validateRules: []string{RuleDupQoS0},
	},
	{
		name: "PUBLISH qos 1 packet id 0", version: 4,
		raw:  []byte{0x32, 5 /* Fixed header: PUBLISH qos 1 */, 0, 1, 't' /* Topic Name */, 0, 0 /* Packet ID 0 [MQTT-2.2.1-3] */},
		want: Packet{Type: PUBLISH, Flags: 2, Version: 4, Topic: b("t")}, validateRules: []string{RulePacketID},
	},
	{
		name: "topic invalid utf-8", version: 4,
		raw:  []byte{0x30, 4 /* Fixed header: PUBLISH */, 0, 2, 0xC3, 0x28 /* Topic Name: invalid 2-byte sequence [MQTT-1.5.4-1] */},
		want: Packet{Type: PUBLISH, Version: 4, Topic: []byte{0xC3, 0x28}}, validateRules: []string{RuleUTF8},
	},
	{
		name: "topic surrogate", version: 4,
		raw:  []byte{0x30, 5 /* Fixed header: PUBLISH */, 0, 3, 0xED, 0xA0, 0x80 /* Topic Name: U+D800 [MQTT-1.5.4-1] */},
		want: Packet{Type: PUBLISH, Version: 4, Topic: []byte{0xED, 0xA0, 0x80}}, validateRules: []string{RuleUTF8},
	},
	{
		name: "topic with U+0000", version: 4,
		raw:  []byte{0x30, 5 /* Fixed header: PUBLISH */, 0, 3, 'a', 0, 'b' /* Topic Name with U+0000 [MQTT-1.5.4-2] */},
		want: Packet{Type: PUBLISH, Version: 4, Topic: []byte{'a', 0, 'b'}}, validateRules: []string{RuleNul},
	},
	{
		name: "topic with wildcard", version: 4,
		raw:  []byte{0x30, 5 /* Fixed header: PUBLISH */, 0, 3, 'a', '/', '#' /* Topic Name with '#' [MQTT-3.3.2-2] */},
		want: Packet{Type: PUBLISH, Version: 4, Topic: b("a/#")}, validateRules: []string{RuleTopicWildcard},
	},
	{
		name: "CONNECT unknown protocol name",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, 'M', 'Q', 'T', 'X', // Protocol Name "MQTX" [MQTT-3.1.2-1]
			4,    // Protocol Level
			0x02, // Connect Flags
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTX"), ProtocolLevel: 4, ConnectFlags: 0x02}, validateRules: []string{RuleProtocolName},
	},
	{
		name: "CONNECT MQTT with level 3",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name "MQTT"
			3,    // Protocol Level 3 belongs to "MQIsdp" [MQTT-3.1.2-2]
			0x02, // Connect Flags
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
		},
		want: Packet{Type: CONNECT, Version: 3, ProtocolName: b("MQTT"), ProtocolLevel: 3, ConnectFlags: 0x02}, validateRules: []string{RuleProtocolLevel},
	},
	{
		name: "CONNECT reserved flag",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x03, // Connect Flags: clean session + reserved bit 0 [MQTT-3.1.2-3]
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x03}, validateRules: []string{RuleConnectReserved},
	},
	{
		name: "CONNECT will qos and retain without will flag",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x2A, // Connect Flags: will retain, will qos 1, clean session; no will flag [MQTT-3.1.2-11] [MQTT-3.1.2-13]
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x2A}, validateRules: []string{RuleWillQoS, RuleWillRetain},
	},
	{
		name: "CONNECT will qos 3",
		raw: []byte{
			0x10, 18, // Fixed header: CONNECT, remaining length 18
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x1E, // Connect Flags: will qos 3, will flag, clean session [MQTT-3.1.2-12]
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
			0, 1, 'w', // Will Topic "w"
			0, 1, 'x', // Will Message "x"
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x1E, WillTopic: b("w"), WillPayload: b("x")}, validateRules: []string{RuleWillQoS3},
	},
	{
		name: "v4 CONNECT password without username",
		raw: []byte{
			0x10, 15, // Fixed header: CONNECT, remaining length 15
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x42, // Connect Flags: password, clean session; no username [3.1.1 MQTT-3.1.2-22]
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
			0, 1, 'p', // Password
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x42, Password: b("p")}, validateRules: []string{RulePasswordNoUser},
	},
	{
		name: "v4 CONNECT empty client id without clean session",
		raw: []byte{
			0x10, 12, // Fixed header: CONNECT, remaining length 12
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x00, // Connect Flags: no clean session [3.1.1 MQTT-3.1.3-7]
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4}, validateRules: []string{RuleClientIDEmpty},
	},
	{
		name: "SUBSCRIBE without filters", version: 4,
		raw:  []byte{0x82, 2 /* Fixed header: SUBSCRIBE */, 0, 1 /* Packet ID; no filters [MQTT-3.8.3-2] */},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 4, PacketID: 1}, validateRules: []string{RuleSubscribeEmpty},
	},
	{
		name: "UNSUBSCRIBE without filters", version: 4,
		raw:  []byte{0xA2, 2 /* Fixed header: UNSUBSCRIBE */, 0, 1 /* Packet ID; no filters [MQTT-3.10.3-2] */},
		want: Packet{Type: UNSUBSCRIBE, Flags: 2, Version: 4, PacketID: 1}, validateRules: []string{RuleUnsubscribeEmpty},
	},
	{
		name: "SUBSCRIBE packet id 0 and reserved option bits", version: 4,
		raw: []byte{
			0x82, 6, // Fixed header: SUBSCRIBE
			0, 0, // Packet ID 0 [MQTT-2.2.1-3]
			0, 1, 'a', // Topic Filter "a"
			0x04, // Options: reserved bit 2 set in 3.1.1 [MQTT-3.8.3-5]
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 4, Filters: []Filter{{Topic: b("a"), Options: 4}}}, validateRules: []string{RulePacketID, RuleSubOptions},
	},
	{
		name: "SUBSCRIBE bad wildcard", version: 4,
		raw: []byte{
			0x82, 10, // Fixed header: SUBSCRIBE
			0, 1, // Packet ID
			0, 5, 'a', '/', '#', '/', 'b', // Topic Filter "a/#/b": '#' not last [MQTT-4.7.1-1]
			0, // Options
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 4, PacketID: 1, Filters: []Filter{{Topic: b("a/#/b")}}}, validateRules: []string{RuleTopicFilter},
	},
	{
		name: "v4 CONNACK unknown return code", version: 4,
		raw:  []byte{0x20, 2 /* Fixed header: CONNACK */, 0, 6 /* Return code 6: not defined [MQTT-3.2.2-8] */},
		want: Packet{Type: CONNACK, Version: 4, ReasonCode: 6}, validateRules: []string{RuleConnackReason},
	},
	{
		name: "v4 SUBACK qos 3", version: 4,
		raw:  []byte{0x90, 3 /* Fixed header: SUBACK */, 0, 1 /* Packet ID */, 3 /* Return code 3: not defined [MQTT-3.9.3-2] */},
		want: Packet{Type: SUBACK, Version: 4, PacketID: 1, ReasonCodes: []byte{3}}, validateRules: []string{RuleSubackReason},
	},
	{
		name: "v4 AUTH", version: 4,
		raw:  []byte{0xF0, 0 /* Fixed header: AUTH does not exist in 3.1.1 [MQTT-2.1.2] */},
		want: Packet{Type: AUTH, Version: 4}, validateRules: []string{RuleReservedType},
	},
	{
		name: "v5 duplicate property", version: 5,
		raw: []byte{
			0x30, 10, // Fixed header: PUBLISH
			0, 1, 't', // Topic Name "t"
			6,          // Properties length
			0x23, 0, 1, // Topic Alias 1
			0x23, 0, 2, // Topic Alias 2: twice [MQTT-2.2.2.2]
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("t"), Props: []Property{{ID: PropTopicAlias, Int: 1}, {ID: PropTopicAlias, Int: 2}}}, validateRules: []string{RuleProperty},
	},
	{
		name: "v5 property not allowed", version: 5,
		raw: []byte{
			0x30, 9, // Fixed header: PUBLISH
			0, 1, 't', // Topic Name "t"
			5,                // Properties length
			0x11, 0, 0, 0, 1, // Session Expiry Interval: not a PUBLISH property [MQTT-2.2.2.2]
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("t"), Props: []Property{{ID: PropSessionExpiry, Int: 1}}}, validateRules: []string{RuleProperty},
	},
	{
		name: "v5 topic alias 0", version: 5,
		raw: []byte{
			0x30, 7, // Fixed header: PUBLISH
			0, 1, 't', // Topic Name "t"
			3,          // Properties length
			0x23, 0, 0, // Topic Alias 0 [MQTT-3.3.2-8]
		},
		want: Packet{Type: PUBLISH, Version: 5, Topic: b("t"), Props: []Property{{ID: PropTopicAlias, Int: 0}}}, validateRules: []string{RuleTopicAlias},
	},
	{
		name: "v5 DISCONNECT undefined reason", version: 5,
		raw:  []byte{0xE0, 1 /* Fixed header: DISCONNECT */, 0x05 /* Reason code 5: not a DISCONNECT code [MQTT-3.14.2-1] */},
		want: Packet{Type: DISCONNECT, Version: 5, ReasonCode: 5}, validateRules: []string{RuleDisconnectReason},
	},
	{
		name: "v5 SUBSCRIBE retain handling 3", version: 5,
		raw: []byte{
			0x82, 7, // Fixed header: SUBSCRIBE
			0, 1, // Packet ID
			0,         // Properties length
			0, 1, 'a', // Topic Filter "a"
			0x30, // Options: retain handling 3 [MQTT-3.8.3-5]
		},
		want: Packet{Type: SUBSCRIBE, Flags: 2, Version: 5, PacketID: 1, Filters: []Filter{{Topic: b("a"), Options: 0x30}}}, validateRules: []string{RuleSubOptions},
	},
	{
		name: "CONNECT password flag without password",
		raw: []byte{
			0x10, 15, // Fixed header: CONNECT, remaining length 15
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0xC2, // Connect Flags: username, password, clean session
			0, 0, // Keep Alive
			0, 0, // Client ID: empty
			0, 1, 'u', // Username "u"; the password is missing [MQTT-3.1.2-19]
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0xC2, Username: b("u")}, decodeRule: RulePassword, noEncode: true,
	},
	{
		name: "CONNECT without client id",
		raw: []byte{
			0x10, 10, // Fixed header: CONNECT, remaining length 10
			0, 4, 'M', 'Q', 'T', 'T', // Protocol Name
			4,    // Protocol Level
			0x02, // Connect Flags: clean session
			0, 0, // Keep Alive; the client id is missing [MQTT-3.1.3-3]
		},
		want: Packet{Type: CONNECT, Version: 4, ProtocolName: b("MQTT"), ProtocolLevel: 4, ConnectFlags: 0x02}, decodeRule: RuleClientID, noEncode: true,
	},
	{
		name: "v5 CONNACK properties truncated", version: 5,
		raw: []byte{
			0x20, 5, // Fixed header: CONNACK, remaining length 5
			0, 0, // Acknowledge flags, reason code
			2,       // Properties length 2
			0x21, 0, // Receive Maximum: one of its two bytes [MQTT-2.1.4]
		},
		want: Packet{Type: CONNACK, Version: 5}, decodeRule: RuleRemainingLength, noEncode: true,
	},
	{
		name: "v4 CONNACK reserved flag bits", version: 4,
		raw:  []byte{0x20, 2 /* Fixed header: CONNACK */, 0x02 /* Acknowledge flags: bit 1 set [MQTT-3.2.2-1] */, 0 /* Return code */},
		want: Packet{Type: CONNACK, Version: 4, ConnackFlags: 2}, validateRules: []string{RuleConnackFlags},
	},
	{
		name: "v4 CONNACK session present on refusal", version: 4,
		raw:  []byte{0x20, 2 /* Fixed header: CONNACK */, 1 /* Session present */, 5 /* Return code: not authorized [MQTT-3.2.2-6] */},
		want: Packet{Type: CONNACK, Version: 4, ConnackFlags: 1, SessionPresent: true, ReasonCode: 5}, validateRules: []string{RuleSessionPresent},
	},
	{
		name: "PUBLISH empty topic", version: 4,
		raw:  []byte{0x30, 3 /* Fixed header: PUBLISH */, 0, 0 /* Topic Name: empty [MQTT-4.7.3-1] */, 'x' /* Payload */},
		want: Packet{Type: PUBLISH, Version: 4, Payload: b("x")}, validateRules: []string{RuleTopicLength},
	},
	{
		name: "v5 PUBACK undefined reason", version: 5,
		raw:  []byte{0x40, 3 /* Fixed header: PUBACK */, 0, 1 /* Packet ID */, 0x05 /* Reason code 5 [MQTT-3.4.2-1] */},
		want: Packet{Type: PUBACK, Version: 5, PacketID: 1, ReasonCode: 5}, validateRules: []string{RulePubackReason},
	},
	{
		name: "v5 PUBREC undefined reason", version: 5,
		raw:  []byte{0x50, 3 /* Fixed header: PUBREC */, 0, 1 /* Packet ID */, 0x92 /* Reason code 0x92 belongs to PUBREL [MQTT-3.5.2-1] */},
		want: Packet{Type: PUBREC, Version: 5, PacketID: 1, ReasonCode: 0x92}, validateRules: []string{RulePubrecReason},
	},
	{
		name: "v5 PUBREL undefined reason", version: 5,
		raw:  []byte{0x62, 3 /* Fixed header: PUBREL */, 0, 1 /* Packet ID */, 0x10 /* Reason code 0x10 belongs to PUBACK [MQTT-3.6.2-1] */},
		want: Packet{Type: PUBREL, Flags: 2, Version: 5, PacketID: 1, ReasonCode: 0x10}, validateRules: []string{RulePubrelReason},
	},
	{
		name: "v5 PUBCOMP undefined reason", version: 5,
		raw:  []byte{0x70, 3 /* Fixed header: PUBCOMP */, 0, 1 /* Packet ID */, 0x80 /* Reason code 0x80 [MQTT-3.7.2-1] */},
		want: Packet{Type: PUBCOMP, Version: 5, PacketID: 1, ReasonCode: 0x80}, validateRules: []string{RulePubcompReason},
	},
	{
		name: "v5 UNSUBACK undefined reason", version: 5,
		raw:  []byte{0xB0, 4 /* Fixed header: UNSUBACK */, 0, 1 /* Packet ID */, 0 /* Properties length */, 0x02 /* Reason code 2 [MQTT-3.11.3-2] */},
		want: Packet{Type: UNSUBACK, Version: 5, PacketID: 1, ReasonCodes: []byte{2}}, validateRules: []string{RuleUnsubackReason},
	},
	{
		name: "v5 AUTH undefined reason", version: 5,
		raw:  []byte{0xF0, 1 /* Fixed header: AUTH */, 0x01 /* Reason code 1 [MQTT-3.15.2-1] */},
		want: Packet{Type: AUTH, Version: 5, ReasonCode: 1}, validateRules: []string{RuleAuthReason},
	},
}
