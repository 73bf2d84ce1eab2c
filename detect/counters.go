package detect

import (
	"fmt"
	"time"
)

// Counter names one behaviour counter. The rules engine reads counters by
// Counter and Window through an Observation.
type Counter uint8

// Counters. The name in the comment is the identifier rules use; Info gives
// meaning and the keys that maintain it.
const (
	TCPOpens              Counter = iota // tcp_opens
	Connects                             // connects
	UnexpectedSource                     // unexpected_source
	IdleNoConnect                        // idle_no_connect
	PingOnly                             // ping_only
	IdleConns                            // idle_conns
	KeepAliveHigh                        // keepalive_high
	CleartextCredentials                 // cleartext_credentials
	CleartextLogins                      // cleartext_logins
	Malformed                            // malformed
	AbnormalCloses                       // abnormal_closes
	ClosesRST                            // closes_rst
	ClosesFIN                            // closes_fin
	ClosesTimeout                        // closes_timeout
	AuthFailures                         // auth_failures
	ConnackRefusals                      // connack_refusals
	RefusedBadCredentials                // refused_bad_credentials
	RefusedNotAuthorized                 // refused_not_authorized
	RefusedBadAuthMethod                 // refused_bad_auth_method
	Takeovers                            // takeovers
	DistinctUsernames                    // distinct_usernames
	DistinctClientIDs                    // distinct_client_ids
	DistinctSources                      // distinct_sources
	Publishes                            // publishes
	PublishBytes                         // publish_bytes
	Subscribes                           // subscribes
	WildcardSubs                         // wildcard_subs
	RootWildcardSubs                     // root_wildcard_subs
	SysSubs                              // sys_subs
	Undeliverable                        // undeliverable
	DistinctTopics                       // distinct_topics
	DistinctFilters                      // distinct_filters
	UndeliverableTopics                  // undeliverable_topics
	SprayUsernames                       // spray_usernames (derived, src_ip)
	OpenConnections                      // open_connections (gauge)
	PublishBaseline                      // publish_baseline (gauge)
	PublishBytesBaseline                 // publish_bytes_baseline (gauge)
	PublishRate                          // publish_rate (gauge, msg/s)
	PublishBytesRate                     // publish_bytes_rate (gauge, bytes/s)
	PeerPublishP50                       // peer_publish_p50 (gauge, msg/s)
	PeerPublishP99                       // peer_publish_p99 (gauge, msg/s)
	PeerPublishBytesP50                  // peer_publish_bytes_p50 (gauge, bytes/s)
	PeerPublishBytesP99                  // peer_publish_bytes_p99 (gauge, bytes/s)
	OpenSessions                         // open_sessions (gauge)
	SilentSessions                       // silent_sessions (gauge)
	Preexisting                          // preexisting (gauge, 0 or 1)
	Evictions                            // evictions (sensor)
	NumCounters
)

// CounterSet is a set of counters, one bit each.
type CounterSet uint64

// Has reports whether c is in the set.
func (s CounterSet) Has(c Counter) bool { return s&(1<<c) != 0 }

// Set returns the set of the given counters.
func Set(cs ...Counter) CounterSet {
	var s CounterSet
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// KeyKind is what a counter is kept per.
type KeyKind uint8

// Key kinds.
const (
	KeySrcIP KeyKind = iota + 1
	KeyClientID
	KeyUsername
	KeyConnection
	// KeySensor is the sensor itself (one key): counters of its own state,
	// such as evictions.
	KeySensor
	// NumKeyKinds bounds the kinds (for arrays indexed by kind).
	NumKeyKinds
)

func (k KeyKind) String() string {
	switch k {
	case KeySrcIP:
		return "src_ip"
	case KeyClientID:
		return "client_id"
	case KeyUsername:
		return "username"
	case KeyConnection:
		return "connection"
	case KeySensor:
		return "sensor"
	}
	return "unknown"
}

// ParseKeyKind is the inverse of KeyKind.String.
func ParseKeyKind(s string) (KeyKind, bool) {
	for k := KeySrcIP; k < NumKeyKinds; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Window is one of the sliding windows every windowed counter keeps.
type Window uint8

// The windows. Each is estimated from two buckets of its own length (the
// current and the previous one, the previous weighted by how much of it is
// still inside the window), so a count needs 2×3 integers, not a ring.
const (
	Win30s Window = iota
	Win5m
	Win30m
	NumWindows
)

var windowDur = [NumWindows]time.Duration{30 * time.Second, 5 * time.Minute, 30 * time.Minute}

// Duration of the window.
func (w Window) Duration() time.Duration { return windowDur[w] }

func (w Window) String() string { return windowDur[w].String() }

// ParseWindow maps a duration to a supported window.
func ParseWindow(d time.Duration) (Window, error) {
	for w, wd := range windowDur {
		if d == wd {
			return Window(w), nil
		}
	}
	return 0, fmt.Errorf("window %s not supported (use 30s, 5m or 30m)", d)
}

type kindOf uint8

const (
	kEvent    kindOf = iota + 1 // windowed event count
	kDistinct                   // windowed distinct count (linear counting)
	kDerived                    // computed at observation time
)

// group is the lazily allocated block a counter lives in; a spoofed source
// that only ever sends SYNs pays for the connection group alone.
type group uint8

const (
	gOpen group = iota // what a bare TCP connection touches
	gConn
	gAuth
	gPub
	numGroups
)

// CounterInfo documents one counter.
type CounterInfo struct {
	Name    string
	Meaning string
	Keys    []KeyKind // the keys that maintain it (zero for the others)
	kind    kindOf
	group   group
}

var (
	kSrc    = []KeyKind{KeySrcIP}
	kSCU    = []KeyKind{KeySrcIP, KeyClientID, KeyUsername}
	kSC     = []KeyKind{KeySrcIP, KeyClientID}
	kSU     = []KeyKind{KeySrcIP, KeyUsername}
	kSCN    = []KeyKind{KeySrcIP, KeyClientID, KeyConnection}
	kSN     = []KeyKind{KeySrcIP, KeyConnection}
	kCU     = []KeyKind{KeyClientID, KeyUsername}
	kAll    = []KeyKind{KeySrcIP, KeyClientID, KeyUsername, KeyConnection}
	kSensor = []KeyKind{KeySensor}
	infos   = [NumCounters]CounterInfo{
		TCPOpens:              {"tcp_opens", "TCP connections opened to an MQTT port", kSrc, kEvent, gOpen},
		Connects:              {"connects", "CONNECT packets sent", kSCU, kEvent, gConn},
		UnexpectedSource:      {"unexpected_source", "connections from outside the allowed networks (only counted when allowed networks are configured)", kSrc, kEvent, gOpen},
		IdleNoConnect:         {"idle_no_connect", "TCP connections without CONNECT within the idle-connect timeout of the handshake", kSrc, kEvent, gOpen},
		PingOnly:              {"ping_only", "MQTT connections that sent nothing but PINGREQ and received no PUBLISH for the ping-only timeout after CONNECT", kSC, kEvent, gConn},
		IdleConns:             {"idle_conns", "idle connections of either kind: idle_no_connect + ping_only", kSC, kEvent, gOpen},
		KeepAliveHigh:         {"keepalive_high", "CONNECTs whose keep-alive is at or above the high keep-alive limit (default 4 h; 65535 s is the classic sign)", kSC, kEvent, gConn},
		CleartextCredentials:  {"cleartext_credentials", "CONNECTs carrying a password on a port that is not a TLS port", kSU, kEvent, gConn},
		CleartextLogins:       {"cleartext_logins", "CONNECTs carrying a password on a port that is not a TLS port that the broker accepted (valid credentials on the wire)", kSU, kEvent, gConn},
		Malformed:             {"malformed", "malformed packets (protocol violations) sent by the client; the last rule is in malformed_rule", kSN, kEvent, gConn},
		AbnormalCloses:        {"abnormal_closes", "MQTT connections (CONNECT seen, not refused, not taken over) closed without DISCONNECT", kSC, kEvent, gConn},
		ClosesRST:             {"closes_rst", "abnormal closes by TCP RST", kSC, kEvent, gConn},
		ClosesFIN:             {"closes_fin", "abnormal closes by TCP FIN", kSC, kEvent, gConn},
		ClosesTimeout:         {"closes_timeout", "abnormal closes by the capture's idle timeout", kSC, kEvent, gConn},
		AuthFailures:          {"auth_failures", "CONNACK refusals for credentials: v3 codes 4 and 5, v5 0x86, 0x87, 0x8C", kSCU, kEvent, gAuth},
		ConnackRefusals:       {"connack_refusals", "CONNACK refusals of any code (v3 1-5, v5 >= 0x80)", kSCU, kEvent, gAuth},
		RefusedBadCredentials: {"refused_bad_credentials", "CONNACK v3 4 / v5 0x86 (bad user name or password)", kSU, kEvent, gAuth},
		RefusedNotAuthorized:  {"refused_not_authorized", "CONNACK v3 5 / v5 0x87 (not authorized; what mosquitto sends for a wrong password)", kSU, kEvent, gAuth},
		RefusedBadAuthMethod:  {"refused_bad_auth_method", "CONNACK v5 0x8C (bad authentication method)", kSU, kEvent, gAuth},
		Takeovers:             {"takeovers", "client id taken over: CONNECT with a client id that is open from another source address, or a v5 DISCONNECT 0x8E", kSC, kEvent, gAuth},
		DistinctUsernames:     {"distinct_usernames", "distinct user names in CONNECTs", kSrc, kDistinct, gAuth},
		DistinctClientIDs:     {"distinct_client_ids", "distinct client ids in CONNECTs", kSrc, kDistinct, gAuth},
		DistinctSources:       {"distinct_sources", "distinct source addresses using the client id / user name", kCU, kDistinct, gAuth},
		Publishes:             {"publishes", "PUBLISH packets sent (per connection only while a rule reads a publish counter of the connection key)", kSCN, kEvent, gPub},
		PublishBytes:          {"publish_bytes", "bytes of PUBLISH packets sent (fixed header included)", kSCN, kEvent, gPub},
		Subscribes:            {"subscribes", "topic filters subscribed", kSCN, kEvent, gPub},
		WildcardSubs:          {"wildcard_subs", "filters subscribed that contain + or #", kSCN, kEvent, gPub},
		RootWildcardSubs:      {"root_wildcard_subs", "filters subscribed whose first level is a wildcard (#, +/...), i.e. everything", kSCN, kEvent, gPub},
		SysSubs:               {"sys_subs", "filters subscribed under $SYS", kSCN, kEvent, gPub},
		Undeliverable:         {"undeliverable", "publishes that reached no subscriber: v5 PUBACK/PUBREC 0x10; otherwise no recorded subscription matches and the broker was not seen delivering the topic", kSCN, kEvent, gPub},
		DistinctTopics:        {"distinct_topics", "distinct topics published", kSCN, kDistinct, gPub},
		DistinctFilters:       {"distinct_filters", "distinct filters subscribed", kSCN, kDistinct, gPub},
		UndeliverableTopics:   {"undeliverable_topics", "distinct topics of undeliverable publishes", kSCN, kDistinct, gPub},
		SprayUsernames:        {"spray_usernames", "distinct user names refused with the password of this connection, over all sources (password never stored: a per-run keyed hash)", kSrc, kDerived, gAuth},
		OpenConnections:       {"open_connections", "TCP connections currently open (gauge, any window)", kSrc, kDerived, gOpen},
		PublishBaseline:       {"publish_baseline", "the key's normal publish count per window (EWMA of 5 s buckets, scaled to the window; 0 until the key's first complete bucket)", kSCN, kDerived, gPub},
		PublishBytesBaseline:  {"publish_bytes_baseline", "the key's normal publish bytes per window (as publish_baseline)", kSCN, kDerived, gPub},
		PublishRate:           {"publish_rate", "the key's publishes per second over the last second (sliding estimate from 1 s buckets; any window)", kSCN, kDerived, gPub},
		PublishBytesRate:      {"publish_bytes_rate", "the key's publish bytes per second over the last second (as publish_rate)", kSCN, kDerived, gPub},
		PeerPublishP50:        {"peer_publish_p50", "median publish rate (msg/s) of the keys of this kind on the same broker: the busiest second of each 5 s bucket of every key with a normal of its own, over the last 30 min; 0 until 20 samples were seen", kSC, kDerived, gPub},
		PeerPublishP99:        {"peer_publish_p99", "99th percentile publish rate (msg/s) of the keys of this kind on the same broker (as peer_publish_p50)", kSC, kDerived, gPub},
		PeerPublishBytesP50:   {"peer_publish_bytes_p50", "median publish volume (bytes/s) of the keys of this kind on the same broker (as peer_publish_p50)", kSC, kDerived, gPub},
		PeerPublishBytesP99:   {"peer_publish_bytes_p99", "99th percentile publish volume (bytes/s) of the keys of this kind on the same broker (as peer_publish_p50)", kSC, kDerived, gPub},
		OpenSessions:          {"open_sessions", "MQTT sessions currently open: CONNECT seen, not refused, connection not closed (gauge, any window)", kSC, kDerived, gOpen},
		SilentSessions:        {"silent_sessions", "open sessions that since CONNECT have sent nothing but PINGREQ and received nothing, for the silent timeout (default 10 s, at most 1.5x the keep-alive) or longer (gauge, any window)", kSC, kDerived, gOpen},
		Evictions:             {"evictions", "keys evicted from a full state table (sources, client ids, user names, connections, passwords), counted each second of packet time: state churning faster than rules can judge it", kSensor, kEvent, gOpen},
		Preexisting:           {"preexisting", "1 when the key was first seen on a connection that was already established when the capture began (its arrival was not seen), else 0", kSC, kDerived, gOpen},
	}
)

func (c Counter) String() string {
	if c < NumCounters {
		return infos[c].Name
	}
	return fmt.Sprintf("counter(%d)", c)
}

// Info documents counter c.
func (c Counter) Info() CounterInfo { return infos[c] }

// ParseCounter finds a counter by name.
func ParseCounter(name string) (Counter, bool) {
	for c := Counter(0); c < NumCounters; c++ {
		if infos[c].Name == name {
			return c, true
		}
	}
	return 0, false
}

// storage layout: each counter's offset (in uint32 words) within its group.
const (
	eventWords    = int(NumWindows) * 2               // cur, prev per window
	distinctWords = int(NumWindows) * 2 * sketchWords // sketch cur, prev per window
)

var (
	offsetOf   [NumCounters]int
	groupWords [numGroups]int
)

func init() {
	for c := Counter(0); c < NumCounters; c++ {
		in := &infos[c]
		g := in.group
		switch in.kind {
		case kEvent:
			offsetOf[c] = groupWords[g]
			groupWords[g] += eventWords
		case kDistinct:
			offsetOf[c] = groupWords[g]
			groupWords[g] += distinctWords
		default:
			offsetOf[c] = -1
		}
	}
}
