package detect

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"mqttids/decode"
	"mqttids/event"
)

// Key identifies what counters are kept per. It is comparable; its strings
// are interned by the Detector and stay valid after Observe returns.
type Key struct {
	Kind KeyKind
	Addr netip.Addr // KeySrcIP
	Name string     // KeyClientID, KeyUsername
	Flow event.Flow // KeyConnection
}

// Value is the key's value as text (allocates; for alerts only).
func (k Key) Value() string {
	switch k.Kind {
	case KeySrcIP:
		return k.Addr.String()
	case KeyConnection:
		return k.Flow.Client.String() + "-" + k.Flow.Server.String()
	case KeySensor:
		return "sensor"
	}
	return k.Name
}

// Fields is the key as the alert's detection.key object.
func (k Key) Fields() map[string]string {
	switch k.Kind {
	case KeySrcIP:
		return map[string]string{"src_ip": k.Addr.String()}
	case KeyClientID:
		return map[string]string{"client_id": k.Name}
	case KeyUsername:
		return map[string]string{"username": k.Name}
	case KeyConnection:
		return map[string]string{
			"src_ip": k.Flow.Client.Addr().Unmap().String(), "src_port": strconv.Itoa(int(k.Flow.Client.Port())),
			"dest_ip": k.Flow.Server.Addr().Unmap().String(), "dest_port": strconv.Itoa(int(k.Flow.Server.Port())),
		}
	}
	return nil
}

// Observation is one key whose counters an event changed. It is reused:
// valid only during Observer.Observe.
type Observation struct {
	Time    time.Time
	Key     Key
	Changed CounterSet
	// The connection whose packet (or timer) caused the change.
	Flow          event.Flow
	ClientID      string
	Username      string
	Version       uint8
	MalformedRule string // the rule of the malformed packet, when Changed has Malformed
	// Topic is the topic of the PUBLISH that caused the change (a v5
	// alias resolved), Filter the broadest filter of the SUBSCRIBE that
	// did (a first-level wildcard, else $SYS, else any wildcard, else the
	// first). Views into the event: valid only during Observe.
	Topic  []byte
	Filter []byte

	d     *Detector
	brk   *broker // the connection's broker, for peer distributions
	ent   *entry  // the key's entry and its table's slabs
	slabs *[numGroups]slab
	pubs  *[]pubState
	idx   int32
	now   int64
	spray int32 // spray entry when SprayUsernames changed, else -1
}

// Value returns counter c of the key over window w (gauges ignore w).
func (o *Observation) Value(c Counter, w Window) float64 { return o.value(c, w, false) }

// CounterRef is a counter over a window resolved to its storage, for
// BelowRef on the hot path.
type CounterRef struct {
	c    Counter
	w    Window
	g    group
	off  int32 // within the group; -1 for derived counters
	kind kindOf
}

// Ref resolves counter c over window w.
func Ref(c Counter, w Window) CounterRef {
	if c >= NumCounters || offsetOf[c] < 0 {
		return CounterRef{c: c, w: w, off: -1}
	}
	r := CounterRef{c: c, w: w, g: infos[c].group, kind: infos[c].kind}
	if r.kind == kEvent {
		r.off = int32(offsetOf[c] + int(w)*2)
	} else {
		r.off = int32(offsetOf[c] + int(w)*2*sketchWords)
	}
	return r
}

// BelowRef is Below for a resolved counter.
func (o *Observation) BelowRef(r CounterRef, threshold float64) bool {
	if r.off < 0 {
		return o.value(r.c, r.w, true) < threshold
	}
	e := o.ent
	slot := e.grp[r.g]
	if slot == 0 {
		return 0 < threshold
	}
	s := &o.slabs[r.g]
	off := int(slot-1)*s.stride + int(r.off)
	if r.kind == kEvent {
		return float64(s.data[off])+float64(s.data[off+1]) < threshold
	}
	cur, prev := s.data[off], s.data[off+sketchWords]
	if (cur|prev)&sketchFlag == 0 {
		return float64(cur&7+prev&7) < threshold
	}
	return o.value(r.c, r.w, false) < threshold
}

// Below reports whether counter c over w is certainly below threshold,
// cheaply: the fast reject in front of a rule's gate.
func (o *Observation) Below(c Counter, w Window, threshold float64) bool {
	if c >= NumCounters || offsetOf[c] < 0 {
		return o.value(c, w, true) < threshold
	}
	e := o.ent
	g := infos[c].group
	if e.grp[g] == 0 {
		return 0 < threshold
	}
	s := &o.slabs[g]
	if infos[c].kind == kEvent {
		off := int(e.grp[g]-1)*s.stride + offsetOf[c] + int(w)*2
		return float64(s.data[off])+float64(s.data[off+1]) < threshold
	}
	// Distinct: two buckets in exact mode hold at most their two counts.
	off := int(e.grp[g]-1)*s.stride + offsetOf[c] + int(w)*2*sketchWords
	cur, prev := s.data[off], s.data[off+sketchWords]
	if (cur|prev)&sketchFlag == 0 {
		return float64(cur&7+prev&7) < threshold
	}
	return o.value(c, w, false) < threshold
}

func (o *Observation) value(c Counter, w Window, upper bool) float64 {
	switch c {
	case SprayUsernames:
		if o.spray >= 0 {
			return o.d.spray.value(o.spray, DistinctUsernames, w, o.now, upper)
		}
		return 0
	case OpenConnections:
		if o.Key.Kind == KeySrcIP {
			return float64(o.ent.open)
		}
		return 0
	case PublishBaseline, PublishBytesBaseline:
		if o.Key.Kind == KeyUsername {
			return 0
		}
		return baselineOf(o.ent, *o.pubs, c == PublishBytesBaseline, w)
	case PublishRate, PublishBytesRate:
		if o.Key.Kind == KeyUsername || o.ent.pub == 0 {
			return 0
		}
		return (*o.pubs)[o.ent.pub-1].rate(c == PublishBytesRate, o.now)
	case PeerPublishP50, PeerPublishP99, PeerPublishBytesP50, PeerPublishBytesP99:
		if o.brk == nil || (o.Key.Kind != KeySrcIP && o.Key.Kind != KeyClientID) {
			return 0
		}
		p := &o.brk.peers[0]
		if o.Key.Kind == KeyClientID {
			p = &o.brk.peers[1]
		}
		return p.quantile(c == PeerPublishBytesP50 || c == PeerPublishBytesP99, c == PeerPublishP99 || c == PeerPublishBytesP99, o.now)
	case OpenSessions:
		if o.Key.Kind == KeySrcIP || o.Key.Kind == KeyClientID {
			return float64(o.ent.sessions)
		}
		return 0
	case SilentSessions:
		if o.Key.Kind == KeySrcIP || o.Key.Kind == KeyClientID {
			return float64(o.ent.silent)
		}
		return 0
	case Preexisting:
		if o.Key.Kind == KeySrcIP && o.ent.pre {
			return 1
		}
		return 0
	}
	if c >= NumCounters {
		return 0
	}
	return storedValue(o.ent, o.slabs, c, w, o.now, upper)
}

// FirstSeen is when the key's activity inside window w began
// (approximate: bucket granularity).
func (o *Observation) FirstSeen(w Window) time.Time {
	var t int64
	switch o.Key.Kind {
	case KeySrcIP:
		t = o.d.srcs.firstSeen(o.idx, w)
	case KeyClientID:
		t = o.d.clients.firstSeen(o.idx, w)
	case KeyUsername:
		t = o.d.users.firstSeen(o.idx, w)
	case KeyConnection:
		t = o.d.conns.firstSeen(o.idx, w)
	case KeySensor:
		t = o.d.sensor.firstSeen(o.idx, w)
	}
	return time.Unix(0, t).UTC()
}

func (d *Detector) fill(kind KeyKind, idx int32, changed CounterSet, c *connState, now int64) *Observation {
	o := &d.o
	o.Key.Kind = kind
	o.Key.Addr = netip.Addr{}
	o.Key.Name = ""
	o.Key.Flow = event.Flow{}
	o.Changed = changed
	o.idx = idx
	o.now = now
	o.Flow = c.flow
	o.brk = c.brk
	o.ClientID = c.clientID
	o.Username = c.username
	o.Version = c.version
	return o
}

func (d *Detector) emit(o *Observation) {
	if d.obs != nil {
		d.obs.Observe(o)
	}
}

func (d *Detector) observeSrc(i int32, changed CounterSet, ev *event.Event, c *connState, now int64) {
	if d.obs == nil || d.obs.Wants(KeySrcIP)&changed == 0 {
		return
	}
	o := d.fill(KeySrcIP, i, changed, c, now)
	o.Key.Addr = d.srcs.keys[i]
	o.ent, o.slabs = &d.srcs.ents[i], &d.srcs.slabs
	o.pubs = &d.srcs.pubs
	d.emitEv(o, ev)
}

func (d *Detector) observeName(kind KeyKind, i int32, changed CounterSet, ev *event.Event, c *connState, now int64) {
	if d.obs == nil || d.obs.Wants(kind)&changed == 0 {
		return
	}
	o := d.fill(kind, i, changed, c, now)
	if kind == KeyClientID {
		o.Key.Name = d.clients.keys[i]
		o.ent, o.slabs = &d.clients.ents[i], &d.clients.slabs
		o.pubs = &d.clients.pubs
	} else {
		o.Key.Name = d.users.keys[i]
		o.ent, o.slabs = &d.users.ents[i], &d.users.slabs
		o.pubs = &d.users.pubs
	}
	d.emitEv(o, ev)
}

func (d *Detector) observeConn(i int32, changed CounterSet, ev *event.Event, c *connState, now int64) {
	if d.obs == nil || d.obs.Wants(KeyConnection)&changed == 0 {
		return
	}
	o := d.fill(KeyConnection, i, changed, c, now)
	o.Key.Flow = d.conns.aux[i].flow
	o.ent, o.slabs = &d.conns.ents[i], &d.conns.slabs
	o.pubs = &d.conns.pubs
	d.emitEv(o, ev)
}

// observeSensor reports the sensor's own key (no connection).
func (d *Detector) observeSensor(changed CounterSet, now int64) {
	if d.obs == nil || d.obs.Wants(KeySensor)&changed == 0 {
		return
	}
	var none connState
	o := d.fill(KeySensor, 0, changed, &none, now)
	o.ent, o.slabs = &d.sensor.ents[0], &d.sensor.slabs
	o.pubs = &d.sensor.pubs
	d.emitEv(o, nil)
}

func (d *Detector) observeTimer(kind KeyKind, i int32, changed CounterSet, c *connState, now int64) {
	switch kind {
	case KeySrcIP:
		d.observeSrc(i, changed, nil, c, now)
	default:
		d.observeName(kind, i, changed, nil, c, now)
	}
}

// emitEv prefers the event's packet time (exact) over the int64 copy.
func (d *Detector) emitEv(o *Observation, ev *event.Event) {
	if ev != nil {
		o.Time = ev.Time
		if o.Version == 0 && ev.Conn != nil {
			o.Version = ev.Conn.Version
		}
	} else {
		o.Time = time.Unix(0, o.now).UTC()
	}
	d.emit(o)
}

// malformedRule names the violated rule of a malformed event.
func malformedRule(err error) string {
	var me *decode.MalformedError
	if errors.As(err, &me) {
		return me.Rule
	}
	if err == nil {
		return ""
	}
	return "other"
}

// Stats are the Detector's bookkeeping numbers.
type Stats struct {
	Sources, ClientIDs, Usernames, Conns, Passwords int // tracked now
	Evictions                                       uint64
	EvictionsSources, EvictionsClientIDs            uint64
	EvictionsUsernames, EvictionsConns              uint64
	EvictionsPasswords                              uint64
	TimersDropped                                   uint64
	Brokers                                         int
	BrokersUntracked                                uint64 // connections to brokers beyond MaxBrokers
	Subscriptions                                   int    // shadow subscriptions tracked
	SubscriptionsDropped                            uint64 // not tracked: table full
	MemBytes                                        int    // estimate of the counter tables
	// CleartextByBroker: logins the broker accepted whose password crossed
	// a non-TLS port, per broker address (the posture, whatever the rules
	// alert on).
	CleartextByBroker map[string]uint64
	// UndeliverablePending: (connection, topic) checks waiting for the
	// broker to forward a publish.
	UndeliverablePending int
}

// Stats returns the bookkeeping numbers. It may be called from any
// goroutine: it returns a snapshot the Handle goroutine refreshes once per
// second of packet time and at Flush.
func (d *Detector) Stats() Stats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.stats
}

// snapshot refreshes the Stats snapshot (on the Handle goroutine).
func (d *Detector) snapshot() {
	s := d.computeStats()
	d.statsMu.Lock()
	d.stats = s
	d.statsMu.Unlock()
}

func (d *Detector) computeStats() Stats {
	s := Stats{
		Sources: d.srcs.len(), ClientIDs: d.clients.len(), Usernames: d.users.len(),
		Conns: d.conns.len(), Passwords: d.spray.len(),
		EvictionsSources: d.srcs.evictions, EvictionsClientIDs: d.clients.evictions,
		EvictionsUsernames: d.users.evictions, EvictionsConns: d.conns.evictions,
		EvictionsPasswords: d.spray.evictions,
		TimersDropped:      d.idleQ.dropped + d.pingQ.dropped + d.undelivQ.dropped + d.silentQ.dropped,
		Brokers:            len(d.brokers),
		BrokersUntracked:   d.brokersFull,
	}
	s.Evictions = s.EvictionsSources + s.EvictionsClientIDs + s.EvictionsUsernames + s.EvictionsConns + s.EvictionsPasswords
	for addr, b := range d.brokers {
		s.Subscriptions += b.nsubs
		s.SubscriptionsDropped += b.full
		if b.cleartext > 0 {
			if s.CleartextByBroker == nil {
				s.CleartextByBroker = make(map[string]uint64)
			}
			s.CleartextByBroker[addr.Unmap().String()] += b.cleartext
		}
	}
	s.UndeliverablePending = d.undelivQ.n
	s.MemBytes = d.srcs.memBytes(24) + d.clients.memBytes(16+16) + d.users.memBytes(16+16) +
		d.conns.memBytes(8) + d.spray.memBytes(8)
	return s
}
