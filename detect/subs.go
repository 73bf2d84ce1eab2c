package detect

import "bytes"

// broker is the shadow state kept per MQTT server address: the
// subscriptions seen on the wire and the topics the broker was seen
// delivering. Together they judge v3 (and v5 QoS 0) publishes undeliverable.
type broker struct {
	first     int64 // packet time learning started (first seen, or first TLS connection)
	tlsSeen   bool  // a TLS connection to the host was seen: deliveries may be invisible
	root      subNode
	bySub     map[string][]string // subscriber → filters, for UNSUBSCRIBE and session ends
	nsubs     int
	full      uint64           // subscriptions not recorded because the table was full
	gen       uint64           // bumped on every change, for per-connection match caches
	delivered map[uint64]int64 // topic hash → last time the broker delivered it
	// peers: publish rates of the source addresses ([0]) and client ids
	// ([1]) publishing to this broker, the normal of a key without one.
	peers [2]peerDist
	// cleartext: CONNECTs with a password on a non-TLS port (the posture,
	// counted for --stats whatever the rules alert on).
	cleartext uint64
}

type subNode struct {
	children map[string]*subNode
	subs     map[string]struct{} // subscribers whose filter ends here
}

func newBroker(now int64) *broker {
	return &broker{first: now, bySub: make(map[string][]string), delivered: make(map[uint64]int64)}
}

// shareFilter strips a shared-subscription prefix ($share/group/filter).
func shareFilter(f []byte) []byte {
	if rest, ok := bytes.CutPrefix(f, []byte("$share/")); ok {
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			return rest[i+1:]
		}
		return nil
	}
	return f
}

// subscribe records that sub subscribed to filter. It reports false when
// the table is full.
func (b *broker) subscribe(sub string, filter []byte, max int) bool {
	filter = shareFilter(filter)
	if len(filter) == 0 {
		return true
	}
	n := &b.root
	rest := filter
	for {
		i := bytes.IndexByte(rest, '/')
		level := rest
		if i >= 0 {
			level = rest[:i]
		}
		c := n.children[string(level)]
		if c == nil {
			if b.nsubs >= max {
				b.full++
				return false
			}
			if n.children == nil {
				n.children = make(map[string]*subNode)
			}
			c = &subNode{}
			n.children[string(level)] = c
		}
		n = c
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if _, ok := n.subs[sub]; ok {
		return true
	}
	if b.nsubs >= max {
		b.full++
		return false
	}
	if n.subs == nil {
		n.subs = make(map[string]struct{})
	}
	n.subs[sub] = struct{}{}
	b.nsubs++
	b.gen++
	b.bySub[sub] = append(b.bySub[sub], string(filter))
	return true
}

// unsubscribe removes sub's subscription to filter.
func (b *broker) unsubscribe(sub string, filter []byte) {
	filter = shareFilter(filter)
	fs := b.bySub[sub]
	for i, f := range fs {
		if f == string(filter) {
			fs[i] = fs[len(fs)-1]
			fs = fs[:len(fs)-1]
			b.drop(sub, f)
			break
		}
	}
	if len(fs) == 0 {
		delete(b.bySub, sub)
	} else {
		b.bySub[sub] = fs
	}
}

// endSession removes every subscription of sub.
func (b *broker) endSession(sub string) {
	for _, f := range b.bySub[sub] {
		b.drop(sub, f)
	}
	delete(b.bySub, sub)
}

func (b *broker) drop(sub, filter string) {
	n := &b.root
	rest := filter
	for {
		i := indexByteString(rest, '/')
		level := rest
		if i >= 0 {
			level = rest[:i]
		}
		n = n.children[level]
		if n == nil {
			return
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if _, ok := n.subs[sub]; ok {
		delete(n.subs, sub)
		b.nsubs--
		b.gen++
	}
	// Empty nodes stay: they cost little and are reused by the next
	// subscriber, and pruning would need parent links.
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// matches reports whether any recorded subscription matches topic. Topics
// starting with $ are not matched by a leading + or # [MQTT-4.7.2-1].
func (b *broker) matches(topic []byte) bool {
	dollar := len(topic) > 0 && topic[0] == '$'
	return b.root.match(topic, 0, dollar)
}

// match walks the levels of topic from pos (pos < 0: all levels consumed).
func (n *subNode) match(topic []byte, pos int, noWild bool) bool {
	if !noWild {
		if h := n.children["#"]; h != nil && len(h.subs) > 0 {
			return true
		}
	}
	if pos < 0 {
		return len(n.subs) > 0
	}
	next := -1
	level := topic[pos:]
	if i := bytes.IndexByte(level, '/'); i >= 0 {
		level = level[:i]
		next = pos + i + 1
	}
	if c := n.children[string(level)]; c != nil && c.match(topic, next, false) {
		return true
	}
	if !noWild {
		if c := n.children["+"]; c != nil && c.match(topic, next, false) {
			return true
		}
	}
	return false
}

// noteDelivered records that the broker sent a PUBLISH on topic hash h: the
// topic has a subscriber, even one that subscribed before the capture began.
func (b *broker) noteDelivered(h uint64, now int64, max int, memory int64) {
	if _, ok := b.delivered[h]; !ok && len(b.delivered) >= max {
		for k, t := range b.delivered {
			if now-t > memory {
				delete(b.delivered, k)
			}
		}
		if len(b.delivered) >= max {
			return
		}
	}
	b.delivered[h] = now
}

func (b *broker) deliveredSince(h uint64, since int64) bool {
	t, ok := b.delivered[h]
	return ok && t >= since
}

// filterClass classifies a subscribed filter.
func filterClass(f []byte) (wildcard, rootWildcard, sys bool) {
	f = shareFilter(f)
	wildcard = bytes.IndexByte(f, '#') >= 0 || bytes.IndexByte(f, '+') >= 0
	rootWildcard = len(f) > 0 && (f[0] == '#' || f[0] == '+')
	sys = bytes.HasPrefix(f, []byte("$SYS"))
	return
}
