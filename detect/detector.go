package detect

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"mqttids/event"
)

// Observer receives the counters of a key after an event changed them.
// rules.Engine implements it. Its methods run on the Handle goroutine.
type Observer interface {
	// Observe: o and what it points to are valid only during the call.
	Observe(o *Observation)
	// Tick: packet time moved on (at most once per second of packet time).
	Tick(now time.Time)
	// Wants returns the counters of kind the observer reads; Observe is
	// only called when one of them changed. It is asked on every
	// observation, so a reload takes effect at once.
	Wants(kind KeyKind) CounterSet
}

type connTimer struct {
	at   int64
	conn ref
}

// undelivKey names the pending undeliverable check of one topic on one
// connection.
type undelivKey struct {
	conn ref
	h    uint64
}

// undelivTimer waits for the broker to forward n publishes of topic h
// (consecutive publishes of one topic on one connection share a timer).
type undelivTimer struct {
	n    uint32
	at   int64
	sent int64
	conn ref
	brk  *broker
	h    uint64
}

// Detector keeps the behaviour counters. It implements event.Handler and
// must be driven from one goroutine.
type Detector struct {
	opts    Options
	obs     Observer
	srcs    *table[netip.Addr, struct{}]
	clients *table[string, clientAux]
	users   *table[string, struct{}]
	conns   *table[uint64, connState]
	spray   *table[uint64, struct{}]
	sensor  *table[struct{}, struct{}] // one entry: the sensor's own counters
	evicted uint64                     // evictions already counted in sensor
	brokers map[netip.Addr]*broker     // by server host: listeners of one broker share subscriptions
	pwSeed  maphash.Seed

	idleQ    fifo[connTimer]
	pingQ    fifo[connTimer]
	undelivQ fifo[undelivTimer]
	silentQ  deadlines
	// undelivIdx finds the queued check of a (connection, topic) pair, so
	// a client alternating between topics shares one check per topic
	// instead of queueing one per PUBLISH.
	undelivIdx map[undelivKey]uint64

	now         int64
	lastTick    int64
	statsMu     sync.Mutex // guards stats, the snapshot Stats returns
	stats       Stats
	o           Observation
	brokersFull uint64
}

// New returns a Detector reporting to obs (nil: counters only).
func New(opts Options, obs Observer) *Detector {
	opts.setDefaults()
	d := &Detector{
		opts:    opts,
		obs:     obs,
		srcs:    newTable[netip.Addr, struct{}](KeySrcIP, opts.MaxSources),
		clients: newTable[string, clientAux](KeyClientID, opts.MaxClientIDs),
		users:   newTable[string, struct{}](KeyUsername, opts.MaxUsernames),
		conns:   newTable[uint64, connState](KeyConnection, opts.MaxConns),
		spray:   newTable[uint64, struct{}](0, opts.MaxPasswords),
		brokers: make(map[netip.Addr]*broker),
		pwSeed:  maphash.MakeSeed(),
	}
	d.conns.onEvict = d.evictConn
	d.sensor = newTable[struct{}, struct{}](KeySensor, 1)
	d.idleQ.max, d.pingQ.max, d.undelivQ.max = opts.MaxTimers, opts.MaxTimers, opts.MaxTimers
	d.silentQ.max = opts.MaxTimers
	d.undelivIdx = make(map[undelivKey]uint64)
	d.o.d = d
	d.o.spray = -1
	return d
}

var _ event.Handler = (*Detector)(nil)

// Handle updates the counters for one event and reports the keys it
// changed to the observer.
func (d *Detector) Handle(ev *event.Event) {
	now := ev.Time.UnixNano()
	d.advance(now)
	switch ev.Kind {
	case event.TCPOpen:
		d.tcpOpen(ev, now)
	case event.TLS:
		if i := d.conns.lookup(connKey(ev)); i >= 0 {
			c := &d.conns.aux[i]
			c.tls = true
			if b := d.brokerOf(c, now); b != nil && !b.tlsSeen {
				b.tlsSeen = true
				b.first = now // learning starts now
			}
		}
	case event.MQTT:
		if ev.Packet == nil {
			return
		}
		if ev.FromClient {
			d.fromClient(ev, now)
		} else {
			d.fromServer(ev, now)
		}
	case event.Malformed:
		if ev.FromClient {
			d.malformed(ev, now)
		}
	case event.TCPClose:
		d.tcpClose(ev, now)
	}
}

// Flush fires the timers due at or before now. At the end of a capture,
// pass the time of its last packet after the capture has closed its
// remaining connections: timers due later are not fired, since what those
// connections would have done is unknown.
func (d *Detector) Flush(now time.Time) {
	d.advance(now.UnixNano())
	d.snapshot()
}

func (d *Detector) advance(now int64) {
	if now <= d.now {
		return
	}
	d.now = now
	d.fireTimers(now)
	if now/1e9 != d.lastTick {
		d.lastTick = now / 1e9
		d.countEvictions(now)
		d.snapshot()
		if d.obs != nil {
			d.obs.Tick(time.Unix(0, now))
		}
	}
}

func (d *Detector) fireTimers(now int64) {
	for t := d.idleQ.peek(); t != nil && t.at <= now; t = d.idleQ.peek() {
		r := t.conn
		at := t.at
		d.idleQ.pop()
		if !d.conns.valid(r) {
			continue
		}
		c := &d.conns.aux[r.i]
		if c.connectSeen || c.midstream || c.tls {
			continue
		}
		s := d.srcOf(c, at)
		d.srcs.add(s, IdleNoConnect, 1)
		d.srcs.add(s, IdleConns, 1)
		d.observeTimer(KeySrcIP, s, Set(IdleNoConnect, IdleConns), c, at)
	}
	for t := d.pingQ.peek(); t != nil && t.at <= now; t = d.pingQ.peek() {
		r := t.conn
		at := t.at
		d.pingQ.pop()
		if !d.conns.valid(r) {
			continue
		}
		c := &d.conns.aux[r.i]
		if c.active || c.refused || !c.connectSeen {
			continue
		}
		s := d.srcOf(c, at)
		d.srcs.add(s, PingOnly, 1)
		d.srcs.add(s, IdleConns, 1)
		d.observeTimer(KeySrcIP, s, Set(PingOnly, IdleConns), c, at)
		if cl := d.clientOf(c, at); cl >= 0 {
			d.clients.add(cl, PingOnly, 1)
			d.clients.add(cl, IdleConns, 1)
			d.observeTimer(KeyClientID, cl, Set(PingOnly, IdleConns), c, at)
		}
	}
	for t := d.silentQ.peek(); t != nil && t.at <= now; t = d.silentQ.peek() {
		r, at := t.conn, t.at
		d.silentQ.pop()
		if !d.conns.valid(r) {
			continue
		}
		c := &d.conns.aux[r.i]
		if !c.sessOpen || c.active || c.silent {
			continue
		}
		d.silence(c, at)
	}
	for t := d.undelivQ.peek(); t != nil && t.at <= now; t = d.undelivQ.peek() {
		x := *t
		k := d.undelivQ.popped
		d.undelivQ.pop()
		uk := undelivKey{x.conn, x.h}
		if d.undelivIdx[uk] == k {
			delete(d.undelivIdx, uk)
		}
		if x.brk.deliveredSince(x.h, x.sent-int64(d.opts.DeliveredMemory)) {
			continue
		}
		if !d.conns.valid(x.conn) {
			continue
		}
		c := &d.conns.aux[x.conn.i]
		d.conns.touch(x.conn.i, x.at)
		d.undeliverable(x.conn.i, c, x.h, x.n, x.at, nil)
	}
}

// countEvictions adds the evictions since the last second to the sensor's
// own key, so a rule can say that state is churning.
func (d *Detector) countEvictions(now int64) {
	total := d.srcs.evictions + d.clients.evictions + d.users.evictions + d.conns.evictions + d.spray.evictions
	n := total - d.evicted
	if n == 0 {
		return
	}
	d.evicted = total
	i := d.sensor.get(struct{}{}, now)
	d.sensor.add(i, Evictions, uint32(min(n, 1<<31)))
	d.observeSensor(Set(Evictions), now)
}
