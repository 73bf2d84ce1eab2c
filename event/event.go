package event

import (
	"net/netip"
	"time"

	"mqttids/decode"
)

// Kind says what happened.
type Kind uint8

const (
	// TCPOpen: a SYN (or, when the capture starts mid-stream, the first
	// packet) of a new TCP connection to an MQTT port.
	TCPOpen Kind = iota + 1
	// MQTT: one decoded control packet; Packet is set.
	MQTT
	// Malformed: a protocol violation; Err is a *decode.MalformedError
	// (errors.Is(Err, decode.ErrMalformed)) naming the rule; Packet is set
	// when the packet could be decoded far enough to fill it.
	Malformed
	// Gap: GapBytes bytes of one direction were never seen (capture loss or
	// an evicted buffer); the framer resynchronised after it.
	Gap
	// TCPClose: the connection ended; Close says how and DisconnectSeen
	// whether the client sent DISCONNECT first.
	TCPClose
	// TLS: a connection on a TLS port (8883); it is counted, not decoded.
	TLS
)

func (k Kind) String() string {
	switch k {
	case TCPOpen:
		return "tcp_open"
	case MQTT:
		return "mqtt"
	case Malformed:
		return "malformed"
	case Gap:
		return "gap"
	case TCPClose:
		return "tcp_close"
	case TLS:
		return "tls"
	}
	return "unknown"
}

// CloseReason says how a connection ended.
type CloseReason uint8

const (
	CloseFIN CloseReason = iota + 1
	CloseRST
	CloseTimeout // idle timeout on packet time
	CloseEvicted // flow table full (least recently active of 32 sampled), or its 5-tuple reused by a SYN with a new ISN
	CloseEOF     // end of the capture with the connection still open
)

func (c CloseReason) String() string {
	switch c {
	case CloseFIN:
		return "fin"
	case CloseRST:
		return "rst"
	case CloseTimeout:
		return "timeout"
	case CloseEvicted:
		return "evicted"
	case CloseEOF:
		return "eof"
	}
	return "unknown"
}

// Flow is a TCP connection oriented client → server (the side that sent the
// SYN, or, mid-stream, the side not on an MQTT port).
type Flow struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// Conn is what is known of an MQTT connection. Its strings are set once per
// connection (when CONNECT is seen), not per packet.
type Conn struct {
	ID          uint64 // unique per connection within a run
	Version     uint8  // 3, 4, 5; 0 until known
	Inferred    bool   // Version inferred (no CONNECT seen)
	ClientID    string
	Username    string
	HasPassword bool
	KeepAlive   uint16
	ConnectSeen bool
	TLS         bool
}

// Event is one thing the capture stage observed. An *Event and everything it
// points to (Packet's byte slices included) are valid only during the
// Handler call that receives it; copy what must outlive it.
type Event struct {
	Kind       Kind
	Time       time.Time // packet timestamp
	Flow       Flow
	FromClient bool // direction of the packet that caused the event
	Conn       *Conn
	Packet     *decode.Packet // Kind MQTT (and Malformed when decodable)
	// Topic is a PUBLISH's topic with a v5 topic alias resolved by the
	// session layer (a view like Packet's); TopicKnown is false when the
	// alias was never defined on the connection (the topic is unknown).
	Topic          []byte
	TopicKnown     bool
	Err            error       // Kind Malformed
	GapBytes       int         // Kind Gap
	Close          CloseReason // Kind TCPClose
	DisconnectSeen bool        // Kind TCPClose
	Seq            uint64      // position of the causing packet in the input, for ordering
}

// Handler consumes events, in packet order, from one goroutine.
type Handler interface {
	Handle(ev *Event)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ev *Event)

// Handle calls f(ev).
func (f HandlerFunc) Handle(ev *Event) { f(ev) }
