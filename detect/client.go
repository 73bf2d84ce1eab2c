package detect

import (
	"hash/maphash"
	"net/netip"
	"time"

	"mqttids/decode"
	"mqttids/event"
)

func (d *Detector) fromClient(ev *event.Event, now int64) {
	ci := d.conn(ev, now)
	c := &d.conns.aux[ci]
	d.seen(c, ev)
	p := ev.Packet
	d.spoke(c, p.Type == decode.CONNECT)
	switch p.Type {
	case decode.CONNECT:
		d.connect(ev, ci, c, p, now)
	case decode.PUBLISH:
		d.activate(c, ev, now)
		d.publish(ev, ci, c, p, now)
	case decode.SUBSCRIBE:
		d.activate(c, ev, now)
		d.subscribe(ev, ci, c, p, now)
	case decode.UNSUBSCRIBE:
		d.activate(c, ev, now)
		if b := d.brokerOf(c, now); b != nil && c.subKey != "" {
			for _, f := range p.Filters {
				b.unsubscribe(c.subKey, f.Topic)
			}
		}
	case decode.PINGREQ, decode.DISCONNECT, decode.AUTH:
	default:
		d.activate(c, ev, now)
	}
}

func (d *Detector) connect(ev *event.Event, ci int32, c *connState, p *decode.Packet, now int64) {
	if c.connectSeen {
		return // a second CONNECT is a protocol violation, reported by decode
	}
	c.connectSeen = true
	d.conns.promote(ci) // an MQTT session, not a bare (perhaps spoofed) SYN
	c.version = p.ProtocolLevel
	if p.HasPassword() {
		h := maphash.Bytes(d.pwSeed, p.Password)
		c.passHash = h | 1
	}
	c.clean = p.CleanStart() && (p.ProtocolLevel != decode.V5 || sessionExpiry(p) == 0)
	s := d.srcOf(c, now)
	addr := srcAddr(c.flow)
	srcChanged := Set(Connects)
	d.srcs.add(s, Connects, 1)
	var cl, us int32 = -1, -1
	var clChanged, usChanged CounterSet
	if len(p.ClientID) > 0 {
		cl, c.clientID = internKey(d.clients, string(p.ClientID), now)
		c.client = d.clients.ref(cl)
		c.subKey = c.clientID
		d.clients.add(cl, Connects, 1)
		d.clients.addDistinct(cl, DistinctSources, addrHash(addr))
		d.srcs.addDistinct(s, DistinctClientIDs, hashBytes(p.ClientID))
		clChanged = Set(Connects, DistinctSources)
		srcChanged |= Set(DistinctClientIDs)
		a := &d.clients.aux[cl]
		if d.conns.valid(a.open) && a.open.i != ci {
			old := &d.conns.aux[a.open.i]
			old.takenOver = true
			if a.addr != addr {
				d.clients.add(cl, Takeovers, 1)
				d.srcs.add(s, Takeovers, 1)
				clChanged |= Set(Takeovers)
				srcChanged |= Set(Takeovers)
			}
		}
		a.open, a.addr = d.conns.ref(ci), addr
	} else {
		c.subKey = "conn:" + c.flow.Client.String()
	}
	if len(p.Username) > 0 {
		us, c.username = internKey(d.users, string(p.Username), now)
		c.user = d.users.ref(us)
		d.users.add(us, Connects, 1)
		d.users.addDistinct(us, DistinctSources, addrHash(addr))
		d.srcs.addDistinct(s, DistinctUsernames, hashBytes(p.Username))
		usChanged = Set(Connects, DistinctSources)
		srcChanged |= Set(DistinctUsernames)
	}
	if p.KeepAlive > 0 && time.Duration(p.KeepAlive)*time.Second >= d.opts.HighKeepAlive {
		d.srcs.add(s, KeepAliveHigh, 1)
		srcChanged |= Set(KeepAliveHigh)
		if cl >= 0 {
			d.clients.add(cl, KeepAliveHigh, 1)
			clChanged |= Set(KeepAliveHigh)
		}
	}
	if p.HasPassword() && !c.tls && !d.isTLSPort(c.flow.Server.Port()) {
		c.cleartext = true
		d.srcs.add(s, CleartextCredentials, 1)
		srcChanged |= Set(CleartextCredentials)
		if us >= 0 {
			d.users.add(us, CleartextCredentials, 1)
			usChanged |= Set(CleartextCredentials)
		}
	}
	if c.clean && c.subKey != "" {
		if b := d.brokerOf(c, now); b != nil {
			b.endSession(c.subKey) // a clean start discards the old session
		}
	} else {
		d.brokerOf(c, now)
	}
	d.pingQ.push(connTimer{at: now + int64(d.opts.PingOnlyTimeout), conn: d.conns.ref(ci)})
	d.openSession(ci, c, p.KeepAlive, now)
	srcChanged |= Set(OpenSessions)
	clChanged |= Set(OpenSessions)
	d.observeSrc(s, srcChanged, ev, c, now)
	if cl >= 0 {
		d.observeName(KeyClientID, cl, clChanged, ev, c, now)
	}
	if us >= 0 {
		d.observeName(KeyUsername, us, usChanged, ev, c, now)
	}
}

func addrHash(a netip.Addr) uint64 {
	b := a.As16()
	return hashBytes(b[:])
}

// sessionExpiry returns the v5 Session Expiry Interval property (0x11).
func sessionExpiry(p *decode.Packet) uint32 {
	for i := range p.Props {
		if p.Props[i].ID == 0x11 {
			return p.Props[i].Int
		}
	}
	return 0
}

func (d *Detector) publish(ev *event.Event, ci int32, c *connState, p *decode.Packet, now int64) {
	topic, known := ev.Topic, ev.TopicKnown // the session layer resolved v5 aliases
	h := hashBytes(topic)
	n := uint32(max(p.Len, 0))
	const changed = CounterSet(1<<Publishes | 1<<PublishBytes | 1<<DistinctTopics | 1<<PublishBaseline | 1<<PublishBytesBaseline |
		1<<PublishRate | 1<<PublishBytesRate | 1<<PeerPublishP50 | 1<<PeerPublishP99 | 1<<PeerPublishBytesP50 | 1<<PeerPublishBytesP99)
	// Per-connection publish counters cost a third of this path; they are
	// kept only while a rule reads them.
	perConn := d.obs != nil && d.obs.Wants(KeyConnection)&changed != 0
	if perConn {
		d.conns.publish(ci, n, h, now, nil)
	}
	var srcPeers, clPeers *peerDist
	if b := d.brokerOf(c, now); b != nil {
		srcPeers, clPeers = &b.peers[0], &b.peers[1]
	}
	cl := d.clientOf(c, now)
	if cl >= 0 {
		d.clients.publish(cl, n, h, now, clPeers)
	}
	s := d.srcOf(c, now)
	d.srcs.publish(s, n, h, now, srcPeers)

	if c.connectSeen && !c.refused && known {
		if p.Version == decode.V5 && p.QoS() > 0 {
			// The broker's PUBACK/PUBREC reason 0x10 will say.
			c.pend[c.pendN%uint8(len(c.pend))] = pendPub{pid: p.PacketID, h: h}
			c.pendN++
		} else if b := d.brokerOf(c, now); b != nil && !p.Retain() &&
			(!b.tlsSeen || now-b.first >= int64(d.opts.UndeliverableLearning)) && !c.matches(b, topic, h) {
			d.pendUndeliverable(ci, c, b, h, now)
		}
	}
	d.o.Topic = topic
	if perConn {
		d.observeConn(ci, changed, ev, c, now)
	}
	if cl >= 0 {
		d.observeName(KeyClientID, cl, changed, ev, c, now)
	}
	d.observeSrc(s, changed, ev, c, now)
	d.o.Topic = nil
}

func (d *Detector) subscribe(ev *event.Event, ci int32, c *connState, p *decode.Packet, now int64) {
	cl := d.clientOf(c, now)
	s := d.srcOf(c, now)
	b := d.brokerOf(c, now)
	if c.subKey == "" { // no CONNECT seen: subscriptions still belong to this connection
		c.subKey = "conn:" + c.flow.Client.String()
	}
	changed := Set(Subscribes, DistinctFilters)
	for _, f := range p.Filters {
		h := hashBytes(f.Topic)
		d.conns.add(ci, Subscribes, 1)
		d.conns.addDistinct(ci, DistinctFilters, h)
		d.srcs.add(s, Subscribes, 1)
		d.srcs.addDistinct(s, DistinctFilters, h)
		if cl >= 0 {
			d.clients.add(cl, Subscribes, 1)
			d.clients.addDistinct(cl, DistinctFilters, h)
		}
		wild, root, sys := filterClass(f.Topic)
		for _, x := range [...]struct {
			on bool
			c  Counter
		}{{wild, WildcardSubs}, {root, RootWildcardSubs}, {sys, SysSubs}} {
			if !x.on {
				continue
			}
			changed |= Set(x.c)
			d.conns.add(ci, x.c, 1)
			d.srcs.add(s, x.c, 1)
			if cl >= 0 {
				d.clients.add(cl, x.c, 1)
			}
		}
		if b != nil && c.subKey != "" {
			b.subscribe(c.subKey, f.Topic, d.opts.MaxSubscriptions)
		}
	}
	d.o.Filter = broadest(p.Filters)
	d.observeConn(ci, changed, ev, c, now)
	if cl >= 0 {
		d.observeName(KeyClientID, cl, changed, ev, c, now)
	}
	d.observeSrc(s, changed, ev, c, now)
	d.o.Filter = nil
}

// broadest picks the filter a scoped rule is most likely about: a
// first-level wildcard, else $SYS, else any wildcard, else the first.
func broadest(fs []decode.Filter) []byte {
	best, rank := []byte(nil), -1
	for _, f := range fs {
		wild, root, sys := filterClass(f.Topic)
		r := 0
		switch {
		case root:
			r = 3
		case sys:
			r = 2
		case wild:
			r = 1
		}
		if r > rank {
			best, rank = f.Topic, r
		}
	}
	return best
}

func (d *Detector) malformed(ev *event.Event, now int64) {
	ci := d.conn(ev, now)
	c := &d.conns.aux[ci]
	d.seen(c, ev)
	s := d.srcOf(c, now)
	d.conns.add(ci, Malformed, 1)
	d.srcs.add(s, Malformed, 1)
	d.o.MalformedRule = malformedRule(ev.Err)
	d.observeConn(ci, Set(Malformed), ev, c, now)
	d.observeSrc(s, Set(Malformed), ev, c, now)
	d.o.MalformedRule = ""
}

// pendUndeliverable queues the check of a publish of topic h, or counts it
// in the check already pending for the topic on this connection: pending
// state grows with distinct (connection, topic) pairs, not with publishes.
func (d *Detector) pendUndeliverable(ci int32, c *connState, b *broker, h uint64, now int64) {
	if t := d.undelivQ.at(c.undelivSeq - 1); c.undelivSeq != 0 && t != nil && t.h == h && t.brk == b {
		t.n++ // the common case: the same topic as the connection's last publish
		return
	}
	r := d.conns.ref(ci)
	// A client cycling through a few topics finds its check among its
	// recent ones without a map lookup.
	for _, k1 := range c.undelivRecent {
		if t := d.undelivQ.at(k1 - 1); k1 != 0 && t != nil && t.conn == r && t.h == h {
			t.n++
			c.undelivSeq = k1
			return
		}
	}
	uk := undelivKey{r, h}
	if k, ok := d.undelivIdx[uk]; ok {
		if t := d.undelivQ.at(k); t != nil && t.conn == r && t.h == h {
			t.n++
			c.undelivSeq = k + 1
			c.remember(k)
			return
		}
	}
	if d.undelivQ.n >= d.undelivQ.max && d.undelivQ.n > 0 {
		// Full: the oldest check is given up (counted), never an unbounded queue.
		old := d.undelivQ.peek()
		ok := undelivKey{old.conn, old.h}
		if d.undelivIdx[ok] == d.undelivQ.popped {
			delete(d.undelivIdx, ok)
		}
		d.undelivQ.pop()
		d.undelivQ.dropped++
	}
	k := d.undelivQ.push(undelivTimer{n: 1, at: now + int64(d.opts.UndeliverableDelay), sent: now, conn: r, brk: b, h: h})
	d.undelivIdx[uk] = k
	c.undelivSeq = k + 1
	c.remember(k)
}

// remember notes element k among the connection's recent checks.
func (c *connState) remember(k uint64) {
	c.undelivRecent[c.undelivNext%uint8(len(c.undelivRecent))] = k + 1
	c.undelivNext++
}
