package detect

import (
	"net/netip"
	"strings"
	"time"

	"mqttids/event"
)

type clientAux struct {
	open ref        // the connection currently using the client id
	addr netip.Addr // its source
}

type connState struct {
	src, client, user ref
	flow              event.Flow
	clientID          string // interned (the client table's key)
	username          string // interned
	subKey            string // shadow-table subscriber: client id or a per-connection name
	brk               *broker
	passHash          uint64
	opened            int64
	version           uint8
	openSeq           uint64 // Seq of the packet that opened it
	midstream         bool   // the opening packet carried MQTT: no handshake seen
	connectSeen       bool
	refused           bool
	takenOver         bool
	serverDisc        bool // server ended it with DISCONNECT (v5)
	active            bool // sent or received application traffic
	tls               bool
	clean             bool // session ends with the connection
	cleartext         bool // CONNECT carried a password in clear
	loginSeen         bool // its accepting CONNACK was counted
	sessOpen          bool // counted in open_sessions
	silent            bool // counted in silent_sessions
	ownsSrc           bool // this connection created its source's entry
	clientSpoke       bool // the client has sent an MQTT packet
	pend              [4]pendPub
	undelivSeq        uint64    // 1 + element number of the connection's latest undeliverable timer
	undelivRecent     [4]uint64 // 1 + element numbers of its recent checks (other topics)
	undelivNext       uint8     // next slot of undelivRecent
	matchH            uint64    // last topic matched against the shadow table,
	matchGen          uint64    // at this broker generation (0: none),
	matchOK           bool      // with this result
	pendN             uint8
}

// pendPub maps a v5 QoS>0 packet id to its topic hash until PUBACK/PUBREC.
type pendPub struct {
	pid uint16
	h   uint64
}

func srcAddr(f event.Flow) netip.Addr { return f.Client.Addr().Unmap() }

// seen notes an MQTT-level event on c: when it came from the very packet
// that opened the connection, the capture started mid-stream and the
// missing CONNECT is not the client's fault.
func (d *Detector) seen(c *connState, ev *event.Event) {
	if ev.Seq == c.openSeq && ev.Seq != 0 {
		c.midstream = true
	}
}

// connKey names a connection: the capture's connection id (unique within a
// run, and cheaper to hash than the 4-tuple), else a hash of the 4-tuple.
func connKey(ev *event.Event) uint64 {
	if ev.Conn != nil && ev.Conn.ID != 0 {
		return ev.Conn.ID
	}
	c, s := ev.Flow.Client.Addr().As16(), ev.Flow.Server.Addr().As16()
	h := hashBytes(c[:]) ^ mix(hashBytes(s[:])+uint64(ev.Flow.Client.Port())<<16+uint64(ev.Flow.Server.Port()))
	return h | 1<<63 // apart from small capture ids
}

// conn returns the tracked connection of ev, creating it when the capture
// did not report its opening (index and whether it is new).
func (d *Detector) conn(ev *event.Event, now int64) int32 {
	i := d.conns.lookup(connKey(ev))
	if i >= 0 {
		d.conns.touch(i, now)
		return i
	}
	return d.newConn(ev, now)
}

func (d *Detector) newConn(ev *event.Event, now int64) int32 {
	i := d.conns.get(connKey(ev), now)
	c := &d.conns.aux[i]
	c.flow = ev.Flow
	c.opened = now
	c.openSeq = ev.Seq
	c.tls = ev.Conn != nil && ev.Conn.TLS
	addr := srcAddr(ev.Flow)
	c.ownsSrc = d.srcs.lookup(addr) < 0
	s := d.srcs.get(addr, now)
	d.srcs.ents[s].open++
	c.src = d.srcs.ref(s)
	return i
}

// spoke notes the client's first MQTT packet: a connection whose first
// packet is not CONNECT was established before the capture began, and a
// source first seen on it was already there (preexisting).
func (d *Detector) spoke(c *connState, first bool) {
	if c.clientSpoke {
		return
	}
	c.clientSpoke = true
	if !first && c.ownsSrc && d.srcs.valid(c.src) {
		d.srcs.ents[c.src.i].pre = true
	}
}

// openSession counts c's session (CONNECT seen) in open_sessions and arms
// its silent deadline.
func (d *Detector) openSession(ci int32, c *connState, keepAlive uint16, now int64) {
	c.sessOpen = true
	wait := d.opts.SilentTimeout
	if ka := time.Duration(keepAlive) * 1500 * time.Millisecond; keepAlive > 0 && ka < wait {
		wait = ka
	}
	d.silentQ.push(connTimer{at: now + int64(wait), conn: d.conns.ref(ci)})
	if d.srcs.valid(c.src) {
		d.srcs.ents[c.src.i].sessions++
	}
	if d.clients.valid(c.client) {
		d.clients.ents[c.client.i].sessions++
	}
}

// activate notes application traffic on c: a silent session is no longer.
func (d *Detector) activate(c *connState, ev *event.Event, now int64) {
	c.active = true
	if c.silent {
		c.silent = false
		d.gaugeDown(c, 0, 1)
		d.sessionGauges(c, Set(SilentSessions), ev, now)
	}
}

// dropSession takes c's session out of the gauges (refused, closed, evicted).
func (d *Detector) dropSession(c *connState) (changed CounterSet) {
	if !c.sessOpen {
		return 0
	}
	c.sessOpen = false
	changed = Set(OpenSessions)
	var silent int32
	if c.silent {
		c.silent = false
		silent = 1
		changed |= Set(SilentSessions)
	}
	d.gaugeDown(c, 1, silent)
	return changed
}

func (d *Detector) gaugeDown(c *connState, open, silent int32) {
	if d.srcs.valid(c.src) {
		e := &d.srcs.ents[c.src.i]
		e.sessions = max(e.sessions-open, 0)
		e.silent = max(e.silent-silent, 0)
	}
	if d.clients.valid(c.client) {
		e := &d.clients.ents[c.client.i]
		e.sessions = max(e.sessions-open, 0)
		e.silent = max(e.silent-silent, 0)
	}
}

// silence counts c in silent_sessions (its deadline passed).
func (d *Detector) silence(c *connState, now int64) {
	c.silent = true
	s := d.srcOf(c, now)
	d.srcs.ents[s].silent++
	if cl := d.clientOf(c, now); cl >= 0 {
		d.clients.ents[cl].silent++
	}
	d.sessionGauges(c, Set(SilentSessions), nil, now)
}

// sessionGauges reports a change of the session gauges of c's source and
// client id.
func (d *Detector) sessionGauges(c *connState, changed CounterSet, ev *event.Event, now int64) {
	if d.srcs.valid(c.src) {
		d.srcs.touch(c.src.i, now)
		d.observeSrc(c.src.i, changed, ev, c, now)
	}
	if d.clients.valid(c.client) {
		d.clients.touch(c.client.i, now)
		d.observeName(KeyClientID, c.client.i, changed, ev, c, now)
	}
}

func (d *Detector) tcpOpen(ev *event.Event, now int64) {
	if i := d.conns.lookup(connKey(ev)); i >= 0 {
		// The 4-tuple is reused without a close we saw: start over.
		d.endConn(i)
		d.conns.remove(i)
	}
	i := d.newConn(ev, now)
	c := &d.conns.aux[i]
	addr := srcAddr(ev.Flow)
	s := c.src.i
	d.srcs.add(s, TCPOpens, 1)
	changed := Set(TCPOpens, OpenConnections)
	if len(d.opts.AllowedNetworks) > 0 && !d.allowed(addr) {
		d.srcs.add(s, UnexpectedSource, 1)
		changed |= Set(UnexpectedSource)
	}
	if !c.tls {
		d.idleQ.push(connTimer{at: now + int64(d.opts.IdleConnectTimeout), conn: d.conns.ref(i)})
	}
	d.observeSrc(s, changed, ev, c, now)
}

func (d *Detector) allowed(a netip.Addr) bool {
	for _, p := range d.opts.AllowedNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (d *Detector) isTLSPort(p uint16) bool {
	for _, t := range d.opts.TLSPorts {
		if t == p {
			return true
		}
	}
	return false
}

func (d *Detector) srcOf(c *connState, now int64) int32 {
	if d.srcs.valid(c.src) {
		d.srcs.touch(c.src.i, now)
		return c.src.i
	}
	s := d.srcs.get(srcAddr(c.flow), now)
	c.src = d.srcs.ref(s)
	return s
}

func (d *Detector) clientOf(c *connState, now int64) int32 {
	if c.clientID == "" {
		return -1
	}
	if d.clients.valid(c.client) {
		d.clients.touch(c.client.i, now)
		return c.client.i
	}
	i := d.clients.get(c.clientID, now)
	c.client = d.clients.ref(i)
	return i
}

func (d *Detector) userOf(c *connState, now int64) int32 {
	if c.username == "" {
		return -1
	}
	if d.users.valid(c.user) {
		d.users.touch(c.user.i, now)
		return c.user.i
	}
	i := d.users.get(c.username, now)
	c.user = d.users.ref(i)
	return i
}

// intern returns the stored copy of s from t, creating the entry.
func internKey[A any](t *table[string, A], s string, now int64) (int32, string) {
	if i := t.lookup(s); i >= 0 {
		t.touch(i, now)
		return i, t.keys[i]
	}
	k := strings.Clone(s)
	return t.get(k, now), k
}

func (d *Detector) brokerOf(c *connState, now int64) *broker {
	if c.brk != nil {
		return c.brk
	}
	b := d.brokers[c.flow.Server.Addr()]
	if b == nil {
		if len(d.brokers) >= d.opts.MaxBrokers {
			d.brokersFull++
			return nil
		}
		b = newBroker(now)
		d.brokers[c.flow.Server.Addr()] = b
	}
	c.brk = b
	return b
}

func (d *Detector) tcpClose(ev *event.Event, now int64) {
	ci := d.conns.lookup(connKey(ev))
	if ci < 0 {
		return
	}
	d.conns.touch(ci, now)
	c := &d.conns.aux[ci]
	var which Counter
	switch ev.Close {
	case event.CloseRST:
		which = ClosesRST
	case event.CloseFIN:
		which = ClosesFIN
	case event.CloseTimeout:
		which = ClosesTimeout
	}
	sess := d.dropSession(c)
	if which != 0 && !ev.DisconnectSeen && c.connectSeen && !c.refused && !c.takenOver && !c.serverDisc {
		changed := Set(AbnormalCloses, which, OpenConnections) | sess
		s := d.srcOf(c, now)
		d.srcs.add(s, AbnormalCloses, 1)
		d.srcs.add(s, which, 1)
		cl := d.clientOf(c, now)
		if cl >= 0 {
			d.clients.add(cl, AbnormalCloses, 1)
			d.clients.add(cl, which, 1)
		}
		d.endConn(ci)
		d.observeSrc(s, changed, ev, c, now)
		if cl >= 0 {
			d.observeName(KeyClientID, cl, changed, ev, c, now)
		}
	} else {
		d.endConn(ci)
		if sess != 0 {
			d.sessionGauges(c, sess, ev, now)
		}
	}
	d.conns.remove(ci)
}

// endConn releases what connection i holds in other tables.
func (d *Detector) endConn(i int32) {
	c := &d.conns.aux[i]
	d.dropSession(c)
	if d.srcs.valid(c.src) {
		if e := &d.srcs.ents[c.src.i]; e.open > 0 {
			e.open--
		}
	}
	if d.clients.valid(c.client) {
		if a := &d.clients.aux[c.client.i]; a.open.i == i && d.conns.valid(a.open) {
			a.open = ref{}
		}
	}
	if c.clean && c.brk != nil && c.subKey != "" && !c.takenOver {
		c.brk.endSession(c.subKey)
	}
}

func (d *Detector) evictConn(i int32) { d.endConn(i) }

// matches asks the shadow table, remembering the answer for the
// connection's last topic: a sensor publishes to the same topic each time.
func (c *connState) matches(b *broker, topic []byte, h uint64) bool {
	if c.matchGen == b.gen+1 && c.matchH == h {
		return c.matchOK
	}
	c.matchOK = b.matches(topic)
	c.matchH, c.matchGen = h, b.gen+1
	return c.matchOK
}
