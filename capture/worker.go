package capture

import (
	"errors"
	"slices"
	"time"

	"mqttids/decode"
	"mqttids/event"
	"mqttids/session"
)

// conn is one tracked TCP connection.
type conn struct {
	key     flowKey
	cliIsA  bool // the client is endpoint a of key
	flow    event.Flow
	app     session.State // the application layer: event.Conn, framers (none for TLS)
	tls     bool
	half    [2]half // 0: client → server, 1: server → client
	last    int64   // packet time of the last segment, ns
	hash    uint64  // key.hash()
	idx     int     // position in flowTable.list
	openSeq uint64
}

// dirSink adapts one direction of a conn to streamSink.
type dirSink struct {
	w   *worker
	c   *conn
	dir int
	ts  time.Time
	seq uint64
}

// counters are a worker's transport statistics; only the worker writes
// them. The MQTT counts are the session layer's (session.Counters).
type counters struct {
	tcpFlows, gaps, dropped, evicted, tls uint64
	overlapConflicts                      uint64
	dropBy                                [dropReasons]uint64 // dropped by reason
}

// emitter receives a worker's events. phase and tie order events of one
// packet sequence number across workers: phase 0 are idle-timeout closes
// (tie = connection id), phase 1 the events of the packet itself.
type emitter interface {
	emit(ev *event.Event, phase uint8, tie uint64)
}

// worker owns a shard of the flows. It is used by one goroutine at a time.
type worker struct {
	opts       *Options
	ports      *portSet
	tls        *portSet
	maxFlows   int
	flows      flowTable
	free       []*conn
	total      int
	pool       segPool
	lim        reasmLimits
	out        emitter
	app        *session.Layer
	ev         event.Event
	sink       dirSink
	st         counters
	expired    []*conn
	tie        uint64 // order of events within one packet (see emitter)
	tieHi      uint64 // connection id << 24 while closing in phase 0
	phase      uint8
	pub        published
	overlapErr decode.MalformedError // the violation of dirSink.overlap, reused
}

func newWorker(o *Options, pl *Plan, out emitter) *worker {
	w := &worker{
		opts:     o,
		ports:    newPortSet(o.Ports),
		tls:      newPortSet(o.TLSPorts),
		maxFlows: pl.MaxFlows,
		out:      out,
	}
	w.app = session.NewLayer(session.Options{MaxPacketSize: o.MaxPacketSize, MaxBuffer: o.MaxFlowBuffer}, w)
	w.lim = reasmLimits{
		maxFlow:  pl.MaxFlowBuffer,
		maxTotal: pl.MaxBufferTotal,
		total:    &w.total,
		pool:     &w.pool,
		maxSegs:  maxOOOSegments,
		dropped:  &w.st.dropped,
		dropBy:   &w.st.dropBy,
	}
	w.sink.w = w
	w.phase = 1
	return w
}

// portSet is a 65536-bit set of TCP ports.
type portSet [1024]uint64

func newPortSet(ports []uint16) *portSet {
	var s portSet
	for _, p := range ports {
		s[p>>6] |= 1 << (p & 63)
	}
	return &s
}

func (s *portSet) has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }

// packet processes one parsed TCP segment; seq is its index in the input.
func (w *worker) packet(pi *pktInfo, key *flowKey, hash uint64, fromA bool, ts time.Time, seq uint64) {
	w.tie = 0
	c := w.flows.get(key, hash)
	if c == nil {
		c = w.open(pi, key, hash, fromA, ts, seq)
		if c == nil {
			return
		}
	}
	fromClient := fromA == c.cliIsA
	dir := 0
	if !fromClient {
		dir = 1
	}
	if pi.flags&(tcpSYN|tcpACK) == tcpSYN && fromClient && c.half[0].init && pi.seq+1 != c.half[0].next {
		// A new SYN with another ISN: the 5-tuple is reused by a new
		// connection and the end of the old one was not captured.
		w.close(c, event.CloseEvicted, ts, seq, fromClient)
		if c = w.open(pi, key, hash, fromA, ts, seq); c == nil {
			return
		}
	}
	c.last = ts.UnixNano()
	if c.tls {
		switch {
		case pi.flags&tcpRST != 0:
			w.close(c, event.CloseRST, ts, seq, fromClient)
		case pi.flags&tcpFIN != 0:
			h := &c.half[dir]
			h.fin, h.finDone = true, true
			if c.half[0].finDone && c.half[1].finDone {
				w.close(c, event.CloseFIN, ts, seq, fromClient)
			}
		}
		return
	}
	h := &c.half[dir]
	s := &w.sink
	s.c, s.dir, s.ts, s.seq = c, dir, ts, seq
	dseq := pi.seq
	if pi.flags&tcpSYN != 0 {
		if !h.init {
			h.init = true
			h.next = pi.seq + 1
		}
		dseq = pi.seq + 1
	}
	// The acknowledgement refers to data sent before this segment: apply
	// it first.
	if pi.flags&tcpACK != 0 {
		if o := &c.half[1-dir]; o.init {
			if !o.ackSeen || int32(pi.ack-o.peerAck) > 0 {
				o.peerAck, o.ackSeen = pi.ack, true
			}
			if !o.finDone && (len(o.ooo) > 0 || o.fin) {
				s.dir = 1 - dir
				o.acked(pi.ack, &w.lim, s)
				s.dir = dir
			}
		}
	}
	if pi.flags&tcpRST != 0 {
		if len(pi.payload) > 0 {
			h.segment(dseq, pi.payload, false, &w.lim, s)
		}
		w.close(c, event.CloseRST, ts, seq, fromClient)
		return
	}
	if len(pi.payload) > 0 || pi.flags&tcpFIN != 0 {
		h.segment(dseq, pi.payload, pi.flags&tcpFIN != 0, &w.lim, s)
	}
	if c.half[0].finDone && c.half[1].finDone {
		w.close(c, event.CloseFIN, ts, seq, fromClient)
	}
}

// open creates a connection for a segment of an unknown flow, or returns
// nil when the segment does not start one we track.
func (w *worker) open(pi *pktInfo, key *flowKey, hash uint64, fromA bool, ts time.Time, seq uint64) *conn {
	if pi.flags&tcpRST != 0 {
		return nil
	}
	var clientIsSrc bool
	syn, ack := pi.flags&tcpSYN != 0, pi.flags&tcpACK != 0
	switch {
	case syn && !ack:
		if !w.ports.has(pi.dport) && !w.tls.has(pi.dport) {
			return nil // other ports: picked up from the first CONNECT
		}
		clientIsSrc = true
	case syn && ack:
		if !w.ports.has(pi.sport) && !w.tls.has(pi.sport) {
			return nil
		}
		clientIsSrc = false
	case len(pi.payload) == 0:
		return nil // a bare ACK or FIN says nothing about who is who
	case w.ports.has(pi.dport) || w.tls.has(pi.dport):
		clientIsSrc = true
	case w.ports.has(pi.sport) || w.tls.has(pi.sport):
		clientIsSrc = false
	case session.LooksLikeConnect(pi.payload):
		clientIsSrc = true
	default:
		return nil
	}
	if w.flows.len() >= w.maxFlows {
		w.evict(ts, seq)
	}
	c := w.newConn()
	c.key = *key
	c.hash = hash
	c.cliIsA = fromA == clientIsSrc
	cli, srv := addrPort(&pi.src, pi.v4, pi.sport), addrPort(&pi.dst, pi.v4, pi.dport)
	if !clientIsSrc {
		cli, srv = srv, cli
	}
	c.flow = event.Flow{Client: cli, Server: srv}
	c.tls = w.tls.has(srv.Port())
	c.openSeq = seq
	c.app.Info.ID = seq + 1
	c.app.Info.TLS = c.tls
	c.last = ts.UnixNano()
	if !c.tls {
		w.app.Start(&c.app)
	}
	w.flows.put(c)
	w.st.tcpFlows++
	ev := w.newEvent(event.TCPOpen, c, ts, seq, clientIsSrc)
	w.emit(ev)
	if c.tls {
		w.st.tls++
		ev = w.newEvent(event.TLS, c, ts, seq, clientIsSrc)
		w.emit(ev)
	}
	return c
}

// Emit is the session layer's way out (session.Emitter).
func (w *worker) Emit(ev *event.Event) { w.emit(ev) }

// emit hands an event on: straight to the handler for a single-worker
// engine (no interface hop), else into the worker's batch.
func (w *worker) emit(ev *event.Event) {
	if d, ok := w.out.(direct); ok {
		d.e.handle(ev)
		return
	}
	w.out.emit(ev, w.phase, w.nextTie())
}

func (w *worker) nextTie() uint64 { w.tie++; return w.tieHi | w.tie&(1<<24-1) }

func (w *worker) newConn() *conn {
	if n := len(w.free); n > 0 {
		c := w.free[n-1]
		w.free = w.free[:n-1]
		return c
	}
	return &conn{}
}

func (w *worker) newEvent(k event.Kind, c *conn, ts time.Time, seq uint64, fromClient bool) *event.Event {
	w.ev = event.Event{Kind: k, Time: ts, Flow: c.flow, FromClient: fromClient, Conn: &c.app.Info, Seq: seq}
	return &w.ev
}

// close ends a connection: what is still buffered is delivered (with
// gaps), then TCPClose is emitted and the state recycled.
func (w *worker) close(c *conn, why event.CloseReason, ts time.Time, seq uint64, fromClient bool) {
	if !c.tls {
		s := &w.sink
		for dir := range c.half {
			if len(c.half[dir].ooo) > 0 {
				s.c, s.dir, s.ts, s.seq = c, dir, ts, seq
				c.half[dir].flush(s, &w.lim)
			}
		}
	}
	ev := w.newEvent(event.TCPClose, c, ts, seq, fromClient)
	ev.Close = why
	ev.DisconnectSeen = c.app.DisconnectSeen()
	w.emit(ev)
	w.remove(c)
}

func (w *worker) remove(c *conn) {
	w.flows.del(c)
	for i := range c.half {
		c.half[i].release(&w.lim)
	}
	w.app.End(&c.app)
	back0, back1 := c.half[0].back, c.half[1].back
	*c = conn{}
	c.half[0].back, c.half[1].back = back0, back1
	c.half[0].resetWindow()
	c.half[1].resetWindow()
	w.free = append(w.free, c)
}

// evict closes an idle connection to make room (see flowTable.victim).
func (w *worker) evict(ts time.Time, seq uint64) {
	c := w.flows.victim()
	if c == nil {
		return
	}
	w.st.evicted++
	w.close(c, event.CloseEvicted, ts, seq, true)
}

// sweep closes connections idle for longer than the timeout. Expired
// connections are closed in id order so that the output does not depend on
// how flows are spread over workers.
func (w *worker) sweep(ts time.Time, seq uint64) {
	limit := ts.UnixNano() - int64(w.opts.IdleTimeout)
	w.expired = w.expired[:0]
	for _, c := range w.flows.list {
		if c.last < limit {
			w.expired = append(w.expired, c)
		}
	}
	if len(w.expired) == 0 {
		return
	}
	slices.SortFunc(w.expired, func(a, b *conn) int { return cmpU64(a.app.Info.ID, b.app.Info.ID) })
	w.closeExpired(event.CloseTimeout, ts, seq)
}

// closeAll ends every connection (end of input), in id order.
func (w *worker) closeAll(why event.CloseReason, ts time.Time, seq uint64) {
	w.expired = append(w.expired[:0], w.flows.list...)
	slices.SortFunc(w.expired, func(a, b *conn) int { return cmpU64(a.app.Info.ID, b.app.Info.ID) })
	w.closeExpired(why, ts, seq)
}

// closeExpired closes w.expired in phase 0: their events sort by
// connection id among the events of every worker at this sequence number.
func (w *worker) closeExpired(why event.CloseReason, ts time.Time, seq uint64) {
	w.phase = 0
	for _, c := range w.expired {
		w.tieHi, w.tie = c.app.Info.ID<<24, 0
		w.close(c, why, ts, seq, true)
	}
	w.phase, w.tieHi, w.tie = 1, 0, 0
	clear(w.expired)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// deliver hands in-order bytes to the connection's session.
func (s *dirSink) deliver(data []byte) {
	s.w.app.Deliver(&s.c.app, s.dir == 0, data, &s.c.flow, s.ts, s.seq)
}

func (s *dirSink) gap(n int) {
	w, c := s.w, s.c
	w.st.gaps++
	w.app.Gap(&c.app, s.dir == 0, n)
	ev := w.newEvent(event.Gap, c, s.ts, s.seq, s.dir == 0)
	ev.GapBytes = n
	w.emit(ev)
}

// maxOverlapConflicts is how many segments per direction may carry bytes
// that differ from those buffered for the same range before the stream is
// reported as malformed (rule RuleOverlapConflict). A TCP sender
// retransmits the bytes it sent, repacketised perhaps but never changed,
// so a conflict comes from a middlebox rewriting, corruption the capture
// cannot rule out (checksums are not verified) or an evasion attempt that
// shows the IDS one version of the stream and the broker another. A few
// are tolerated for the first two; more is the third.
const maxOverlapConflicts = 3

// RuleOverlapConflict is the decode.MalformedError rule of a stream whose
// retransmissions disagree with the bytes already buffered more than
// maxOverlapConflicts times: a Malformed event, counted by the session
// layer like any violation (Stats.MalformedByRule) and by detection as a
// malformed packet of the sending side.
const RuleOverlapConflict = "stream-overlap-conflict"

// errOverlapConflict is the cause in the MalformedError of RuleOverlapConflict.
var errOverlapConflict = errors.New("retransmitted bytes differ from those buffered for the same range (first seen kept)")

// overlap counts a conflicting overlap; one more than maxOverlapConflicts
// in a direction reports the stream malformed, once.
func (s *dirSink) overlap() {
	w, c := s.w, s.c
	w.st.overlapConflicts++
	if c.half[s.dir].conflicts == maxOverlapConflicts+1 {
		w.overlapErr = decode.MalformedError{Field: "tcp stream", Rule: RuleOverlapConflict, Err: errOverlapConflict}
		w.app.StreamViolation(&c.app, s.dir == 0, &c.flow, s.ts, s.seq, &w.overlapErr)
	}
}
