package decode

// Rule identifiers carried in MalformedError.Rule. They are the conformance
// statement ids of MQTT 5.0 ("MQTT-x.y.z-n"); the same statements in MQTT
// 3.1.1 have other numbers, noted beside each. A few structural rules have
// no numbered statement: those name the section that defines the field.
const (
	RuleVarInt           = "MQTT-1.5.5"    // at most four bytes (3.1.1: 2.2.3)
	RuleVarIntMinimal    = "MQTT-1.5.5-1"  // minimum number of bytes
	RuleUTF8             = "MQTT-1.5.4-1"  // well-formed UTF-8, no surrogates (3.1.1: MQTT-1.5.3-1)
	RuleNul              = "MQTT-1.5.4-2"  // no U+0000 (3.1.1: MQTT-1.5.3-2)
	RuleReservedType     = "MQTT-2.1.2"    // packet type 0 is forbidden
	RuleFlags            = "MQTT-2.1.3-1"  // reserved fixed-header flags (3.1.1: MQTT-2.2.2-1)
	RuleRemainingLength  = "MQTT-2.1.4"    // remaining length must match the fields
	RulePacketID         = "MQTT-2.2.1-3"  // non-zero packet id (3.1.1: MQTT-2.3.1-1)
	RuleProperty         = "MQTT-2.2.2.2"  // known identifier, allowed in this packet, at most once
	RuleProtocolName     = "MQTT-3.1.2-1"  // "MQTT" (3.1: "MQIsdp")
	RuleProtocolLevel    = "MQTT-3.1.2-2"  // level matching the name (3.1.1: MQTT-3.1.2-2)
	RuleConnectReserved  = "MQTT-3.1.2-3"  // reserved connect flag 0
	RuleWillQoS          = "MQTT-3.1.2-11" // will flag 0 => will QoS 0 (3.1.1: MQTT-3.1.2-13)
	RuleWillQoS3         = "MQTT-3.1.2-12" // will QoS not 3 (3.1.1: MQTT-3.1.2-14)
	RuleWillRetain       = "MQTT-3.1.2-13" // will flag 0 => will retain 0 (3.1.1: MQTT-3.1.2-15)
	RuleWillPresent      = "MQTT-3.1.2-9"  // will flag 1 => will fields present
	RuleUsername         = "MQTT-3.1.2-17" // username flag 1 => username present
	RulePassword         = "MQTT-3.1.2-19" // password flag 1 => password present
	RulePasswordNoUser   = "MQTT-3.1.2-22" // 3.1.1 only: password flag needs username flag
	RuleClientID         = "MQTT-3.1.3-3"  // client id present
	RuleClientIDEmpty    = "MQTT-3.1.3-7"  // 3.1.1 only: empty client id needs clean session
	RuleConnackFlags     = "MQTT-3.2.2-1"  // connack flag bits 7-1 are 0
	RuleSessionPresent   = "MQTT-3.2.2-6"  // non-zero reason => session present 0
	RuleConnackReason    = "MQTT-3.2.2-8"  // one of the CONNACK reason codes
	RuleDupQoS0          = "MQTT-3.3.1-2"  // DUP 0 at QoS 0
	RuleQoS3             = "MQTT-3.3.1-4"  // QoS bits not both 1
	RuleTopicName        = "MQTT-3.3.2-1"  // topic name present, UTF-8
	RuleTopicWildcard    = "MQTT-3.3.2-2"  // no wildcards in topic name
	RuleTopicAlias       = "MQTT-3.3.2-8"  // topic alias not 0
	RulePubackReason     = "MQTT-3.4.2-1"
	RulePubrecReason     = "MQTT-3.5.2-1"
	RulePubrelReason     = "MQTT-3.6.2-1"
	RulePubcompReason    = "MQTT-3.7.2-1"
	RuleSubscribeEmpty   = "MQTT-3.8.3-2" // at least one filter (3.1.1: MQTT-3.8.3-3)
	RuleSubOptions       = "MQTT-3.8.3-5" // reserved option bits 0 (3.1.1: MQTT-3-8.3-4)
	RuleSubackReason     = "MQTT-3.9.3-2"
	RuleUnsubscribeEmpty = "MQTT-3.10.3-2"
	RuleUnsubackReason   = "MQTT-3.11.3-2"
	RuleDisconnectReason = "MQTT-3.14.2-1"
	RuleAuthReason       = "MQTT-3.15.2-1"
	RuleTopicFilter      = "MQTT-4.7.1-1" // '#' last and alone in its level (+ likewise: MQTT-4.7.1-2)
	RuleTopicLength      = "MQTT-4.7.3-1" // topic names and filters at least one character
)
