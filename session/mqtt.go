package session

import (
	"time"

	"mqttids/decode"
	"mqttids/event"
)

// Emitter receives the session layer's events (capture's worker, which
// orders and forwards them).
type Emitter interface {
	Emit(ev *event.Event)
}

// Options size the sessions of a Layer. The zero value means defaults.
type Options struct {
	// MaxPacketSize is the largest MQTT packet decoded (0: decode's
	// default); larger ones are skipped.
	MaxPacketSize int
	// MaxBuffer caps a framer's partial-packet buffer (0: decode's
	// default).
	MaxBuffer int
}

// Counters are a Layer's statistics; only its goroutine writes them.
type Counters struct {
	Conns     uint64            // connections whose CONNECT was seen
	Packets   uint64            // control packets decoded
	Malformed uint64            // violations: framing errors and Validate findings
	ByType    [16]uint64        // decoded packets by type
	ByRule    map[string]uint64 // violations by rule id ("too-large", "other")
}

// State is the application-layer state of one connection. The zero value
// is a connection without a session; Layer.Start gives it an MQTT one.
type State struct {
	// Info is what every event of the connection carries. The transport
	// sets ID and TLS when it opens the connection; the session fills the
	// rest.
	Info     event.Conn
	fr       [2]*decode.Framer // 0: client → server, 1: server → client; nil without an MQTT session
	alias    [2]Aliases        // v5 topic aliases per direction
	discSeen bool
}

// DisconnectSeen reports whether the client sent DISCONNECT.
func (s *State) DisconnectSeen() bool { return s.discSeen }

// HasMQTT reports whether the connection has an MQTT session (false for a
// TLS connection, which is counted, not decoded).
func (s *State) HasMQTT() bool { return s.fr[0] != nil }

// Layer is one worker's session layer. Use it from one goroutine.
type Layer struct {
	opts Options
	out  Emitter
	free []*decode.Framer
	pkt  decode.Packet
	ev   event.Event
	St   Counters

	// the delivery in progress, for the Validate callback
	cur     *State
	curFrom bool
	curFlow *event.Flow
	curTS   time.Time
	curSeq  uint64
	valFn   func(v *decode.MalformedError)
}

// NewLayer returns a session layer that emits to out.
func NewLayer(o Options, out Emitter) *Layer {
	l := &Layer{opts: o, out: out}
	l.St.ByRule = make(map[string]uint64)
	l.valFn = l.onViolation
	return l
}

// Start gives s an MQTT session: a framer for each direction.
func (l *Layer) Start(s *State) {
	for i := range s.fr {
		s.fr[i] = l.newFramer()
	}
}

// End returns s's framers to the pool and clears s.
func (l *Layer) End(s *State) {
	for i := range s.fr {
		if s.fr[i] != nil {
			l.free = append(l.free, s.fr[i])
		}
	}
	*s = State{}
}

func (l *Layer) newFramer() *decode.Framer {
	if n := len(l.free); n > 0 {
		f := l.free[n-1]
		l.free = l.free[:n-1]
		f.Reset()
		return f
	}
	return decode.NewFramer(decode.FramerOptions{MaxPacketSize: l.opts.MaxPacketSize, MaxBuffer: l.opts.MaxBuffer})
}

// Gap tells the direction's framer that n bytes were lost, so that it
// resynchronises. The transport emits the Gap event itself.
func (l *Layer) Gap(s *State, fromClient bool, n int) {
	s.fr[dirOf(fromClient)].Gap(n)
}

func dirOf(fromClient bool) int {
	if fromClient {
		return 0
	}
	return 1
}

// Deliver feeds in-order bytes of one direction to its framer and emits an
// MQTT or Malformed event for every packet decoded, in stream order,
// stamped with flow, ts and seq (the segment that delivered them).
func (l *Layer) Deliver(s *State, fromClient bool, data []byte, flow *event.Flow, ts time.Time, seq uint64) {
	f := s.fr[dirOf(fromClient)]
	f.Feed(data)
	for range maxPacketsPerFeed(len(data)) {
		err := f.Next(&l.pkt)
		if err == nil {
			l.mqtt(s, fromClient, flow, ts, seq)
			continue
		}
		if err == decode.ErrShortBuffer {
			return
		}
		// p.Type is set and the packet filled as far as it decoded: a
		// malformed CONNECT still tells the version and client.
		if l.pkt.Type == decode.CONNECT && fromClient && !s.Info.ConnectSeen {
			switch l.pkt.ProtocolLevel {
			case decode.V31, decode.V311, decode.V5:
				l.connect(s, &l.pkt)
			}
		}
		l.malformed(s, fromClient, flow, ts, seq, err)
	}
}

// maxPacketsPerFeed bounds the Next loop: every packet or error consumes
// at least one byte (two for a packet), so a framer that stops making
// progress cannot hang the worker.
func maxPacketsPerFeed(n int) int { return n + 64 }

func (l *Layer) newEvent(k event.Kind, s *State, flow *event.Flow, ts time.Time, seq uint64, fromClient bool) *event.Event {
	l.ev = event.Event{Kind: k, Time: ts, Flow: *flow, FromClient: fromClient, Conn: &s.Info, Seq: seq}
	return &l.ev
}

// mqtt handles one decoded control packet in l.pkt.
func (l *Layer) mqtt(s *State, fromClient bool, flow *event.Flow, ts time.Time, seq uint64) {
	p := &l.pkt
	if p.Type == decode.CONNECT && fromClient {
		l.connect(s, p)
	}
	if p.Type == decode.DISCONNECT && fromClient {
		s.discSeen = true
	}
	if !s.Info.ConnectSeen {
		// Mid-stream: the framer's guess (4, or 5 once a v5-only shape
		// was seen).
		if v, _ := s.fr[dirOf(fromClient)].Version(); v > s.Info.Version {
			s.Info.Version, s.Info.Inferred = v, true
		}
	}
	l.St.Packets++
	l.St.ByType[p.Type&15]++
	ev := l.newEvent(event.MQTT, s, flow, ts, seq, fromClient)
	ev.Packet = p
	if p.Type == decode.PUBLISH {
		ev.Topic, ev.TopicKnown = s.alias[dirOf(fromClient)].Resolve(p)
	}
	l.out.Emit(ev)
	l.cur, l.curFrom, l.curFlow, l.curTS, l.curSeq = s, fromClient, flow, ts, seq
	decode.Validate(p, l.valFn)
	l.cur, l.curFlow = nil, nil
}

// connect records what a CONNECT says about the connection.
func (l *Layer) connect(s *State, p *decode.Packet) {
	if !s.Info.ConnectSeen {
		l.St.Conns++
	}
	in := &s.Info
	in.ConnectSeen = true
	in.Inferred = false
	in.Version = p.ProtocolLevel
	in.KeepAlive = p.KeepAlive
	in.HasPassword = p.HasPassword()
	// Strings are made once per connection; a repeated CONNECT with the
	// same values (a protocol violation anyway) does not allocate again.
	if in.ClientID != string(p.ClientID) {
		in.ClientID = string(p.ClientID)
	}
	if in.Username != string(p.Username) {
		in.Username = string(p.Username)
	}
	switch p.ProtocolLevel {
	case decode.V31, decode.V311, decode.V5:
		s.fr[1].SetVersion(p.ProtocolLevel)
	}
}

// StreamViolation reports a violation found below MQTT in the connection's
// byte stream (capture's reassembler: e.g. overlapping retransmissions with
// different bytes, rule "stream-overlap-conflict"): counted by rule like a
// malformed packet and emitted as a Malformed event without a packet, so
// that detection treats it as one. err must stay valid during the call.
func (l *Layer) StreamViolation(s *State, fromClient bool, flow *event.Flow, ts time.Time, seq uint64, err *decode.MalformedError) {
	l.St.Malformed++
	l.St.ByRule[err.Rule]++
	ev := l.newEvent(event.Malformed, s, flow, ts, seq, fromClient)
	ev.Err = err
	l.out.Emit(ev)
}

// onViolation receives decode.Validate's findings for l.pkt.
func (l *Layer) onViolation(v *decode.MalformedError) {
	l.malformed(l.cur, l.curFrom, l.curFlow, l.curTS, l.curSeq, v)
}

// malformed counts a violation by rule and emits it with the packet as far
// as it decoded.
func (l *Layer) malformed(s *State, fromClient bool, flow *event.Flow, ts time.Time, seq uint64, err error) {
	l.St.Malformed++
	switch e := err.(type) {
	case *decode.MalformedError:
		l.St.ByRule[e.Rule]++
	case *decode.TooLargeError:
		l.St.ByRule["too-large"]++
	default:
		l.St.ByRule["other"]++
	}
	ev := l.newEvent(event.Malformed, s, flow, ts, seq, fromClient)
	ev.Err = err
	ev.Packet = &l.pkt
	l.out.Emit(ev)
}
