package block

import (
	"container/heap"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Allowlist names what is never blocked.
type Allowlist struct {
	Networks  []netip.Prefix // a src_ip inside, or a CIDR overlapping one, is refused
	ClientIDs []string
	Usernames []string
}

// Options configure a List; the zero value means defaults
// (no emitter, no enforcers: a list that only answers Blocked).
type Options struct {
	MaxEntries int // active entries; beyond, Block refuses and counts; default 65536
	// MaxTTL caps escalation: a repeat offender's TTL doubles with each
	// block up to MaxTTL (default 24 h). A base TTL above it is kept.
	MaxTTL time.Duration
	// NoEscalation keeps every TTL as asked.
	NoEscalation bool
	// RepeatWindow is how long after an entry ended a new block of the
	// same value counts as a repeat (default 24 h).
	RepeatWindow time.Duration
	// Allow is the allowlist (--block-allowlist).
	Allow Allowlist
	// Brokers are the operator's broker addresses (a host as a /32 or
	// /128, or a network; --brokers), never blocked, like Allow.Networks.
	// They are configuration only: an address seen answering on an MQTT
	// port is not a broker to this list, since one spoofed SYN-ACK would
	// otherwise make its sender unblockable.
	Brokers []netip.Prefix
	// Emitter receives every Event (for the alert sinks); may be nil.
	Emitter Emitter
	// Enforcers apply every Event, in this order.
	Enforcers []Enforcer
	// OnError, when set, is called with enforcer errors (they are
	// counted in Stats either way).
	OnError func(enforcer string, err error)
}

// Entry is one active entry.
type Entry struct {
	Target  string
	Value   string
	Expires time.Time     // packet time
	TTL     time.Duration // as last applied, after escalation
	Strikes int           // earlier blocks of this value within RepeatWindow
	Reason  Reason
}

// Stats are the block list's counters.
type Stats struct {
	Active         int               `json:"active"`
	Added          uint64            `json:"added"`
	Extended       uint64            `json:"extended"`
	Removed        uint64            `json:"removed"`
	Escalated      uint64            `json:"escalated"`
	Refused        uint64            `json:"refused_full"`
	Allowlisted    uint64            `json:"allowlisted"`
	AlreadyLonger  uint64            `json:"already_blocked"`
	Invalid        uint64            `json:"invalid"`
	EnforcerErrors map[string]uint64 `json:"enforcer_errors,omitempty"`
}

type entry struct {
	Entry
	key   string
	index int // in the expiry heap
}

type history struct {
	strikes int
	lastEnd time.Time
}

// List is the dynamic block list. Entries expire on
// packet time through Tick. Every change becomes a Event, emitted and
// applied to each enforcer in order. Block, Tick and Remove are meant for
// one goroutine (the rules engine); the queries and Stats are safe from any.
type List struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*entry // key target "\x00" value
	cidrs   map[string]netip.Prefix
	exp     expiryHeap
	hist    map[string]history
	allowN  []netip.Prefix
	allowC  map[string]bool
	allowU  map[string]bool
	st      Stats
}

// New validates opts and returns an empty list.
func New(opts Options) (*List, error) {
	var errs []error
	if opts.MaxEntries < 0 {
		errs = append(errs, errors.New("max entries must not be negative"))
	}
	if opts.MaxTTL < 0 || opts.RepeatWindow < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	for i, p := range opts.Allow.Networks {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("allow network %d: invalid prefix", i))
		}
	}
	for i, p := range opts.Brokers {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("broker %d: invalid prefix", i))
		}
	}
	for i, e := range opts.Enforcers {
		if e == nil {
			errs = append(errs, fmt.Errorf("enforcer %d is nil", i))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("block list: %w", errors.Join(errs...))
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 65536
	}
	if opts.MaxTTL == 0 {
		opts.MaxTTL = 24 * time.Hour
	}
	if opts.RepeatWindow == 0 {
		opts.RepeatWindow = 24 * time.Hour
	}
	l := &List{
		opts:    opts,
		entries: map[string]*entry{},
		cidrs:   map[string]netip.Prefix{},
		hist:    map[string]history{},
		allowC:  map[string]bool{},
		allowU:  map[string]bool{},
		st:      Stats{EnforcerErrors: map[string]uint64{}},
	}
	for _, p := range opts.Allow.Networks {
		l.allowN = append(l.allowN, unmapPrefix(p).Masked())
	}
	for _, c := range opts.Allow.ClientIDs {
		l.allowC[c] = true
	}
	for _, u := range opts.Allow.Usernames {
		l.allowU[u] = true
	}
	for _, p := range opts.Brokers {
		if p = unmapPrefix(p).Masked(); !slices.Contains(l.allowN, p) {
			l.allowN = append(l.allowN, p)
		}
	}
	return l, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// normalize checks target and value and returns the canonical value
// (addresses unmapped, CIDRs masked, a full-length prefix as an address).
func normalize(target, value string) (string, netip.Prefix, error) {
	if value == "" {
		return "", netip.Prefix{}, errors.New("empty value")
	}
	switch target {
	case TargetClientID, TargetUsername:
		return value, netip.Prefix{}, nil
	case TargetSrcIP:
		if strings.Contains(value, "/") {
			p, err := netip.ParsePrefix(value)
			if err != nil {
				return "", netip.Prefix{}, fmt.Errorf("src_ip %q: %w", value, err)
			}
			p = unmapPrefix(p).Masked()
			if p.Bits() == p.Addr().BitLen() {
				return p.Addr().String(), p, nil
			}
			return p.String(), p, nil
		}
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", netip.Prefix{}, fmt.Errorf("src_ip %q: %w", value, err)
		}
		a = a.Unmap().WithZone("")
		return a.String(), netip.PrefixFrom(a, a.BitLen()), nil
	}
	return "", netip.Prefix{}, fmt.Errorf("unknown block target %q", target)
}

func (l *List) allowedLocked(target, value string, p netip.Prefix) bool {
	switch target {
	case TargetClientID:
		return l.allowC[value]
	case TargetUsername:
		return l.allowU[value]
	}
	for _, a := range l.allowN {
		if a.Overlaps(p) {
			return true
		}
	}
	return false
}

// Allowed reports whether target=value is on the allowlist.
func (l *List) Allowed(target, value string) bool {
	v, p, err := normalize(target, value)
	if err != nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowedLocked(target, v, p)
}

// Block asks for target=value (TargetSrcIP, TargetClientID,
// TargetUsername) to be blocked for ttl (before escalation) because of
// reason; now is packet time. A new entry, or an active one whose expiry
// moves later, emits an "add" event; the TTL is escalated for a value
// blocked before within RepeatWindow. It returns the TTL applied and false
// when the value is allowlisted, already blocked for longer, invalid, or
// the list is full.
func (l *List) Block(now time.Time, target, value string, ttl time.Duration, reason Reason) (time.Duration, bool) {
	v, p, err := normalize(target, value)
	if err != nil || ttl <= 0 {
		l.mu.Lock()
		l.st.Invalid++
		l.mu.Unlock()
		return 0, false
	}
	key := target + "\x00" + v
	l.mu.Lock()
	if l.allowedLocked(target, v, p) {
		l.st.Allowlisted++
		l.mu.Unlock()
		return 0, false
	}
	if e, ok := l.entries[key]; ok {
		eff := l.escalate(ttl, e.Strikes)
		exp := now.Add(eff)
		if !exp.After(e.Expires) {
			l.st.AlreadyLonger++
			l.mu.Unlock()
			return 0, false
		}
		e.Expires, e.TTL, e.Reason = exp, eff, reason
		heap.Fix(&l.exp, e.index)
		l.st.Extended++
		ev := l.event(now, "add", &e.Entry, eff)
		l.mu.Unlock()
		l.publish(ev)
		return eff, true
	}
	if len(l.entries) >= l.opts.MaxEntries {
		l.st.Refused++
		l.mu.Unlock()
		return 0, false
	}
	strikes := 0
	if h, ok := l.hist[key]; ok && now.Sub(h.lastEnd) <= l.opts.RepeatWindow {
		strikes = h.strikes + 1
		l.st.Escalated++
	}
	eff := l.escalate(ttl, strikes)
	e := &entry{key: key, Entry: Entry{Target: target, Value: v, Expires: now.Add(eff), TTL: eff, Strikes: strikes, Reason: reason}}
	l.entries[key] = e
	if target == TargetSrcIP && strings.Contains(v, "/") {
		l.cidrs[key] = p
	}
	heap.Push(&l.exp, e)
	l.st.Added++
	l.st.Active = len(l.entries)
	ev := l.event(now, "add", &e.Entry, eff)
	l.mu.Unlock()
	l.publish(ev)
	return eff, true
}

func (l *List) escalate(ttl time.Duration, strikes int) time.Duration {
	if l.opts.NoEscalation || strikes == 0 || ttl >= l.opts.MaxTTL {
		return ttl
	}
	for i := 0; i < strikes && ttl < l.opts.MaxTTL; i++ {
		ttl *= 2
	}
	return min(ttl, l.opts.MaxTTL)
}

func (l *List) event(now time.Time, op string, e *Entry, ttl time.Duration) *Event {
	return &Event{Timestamp: now, EventType: "block", Op: op, Target: e.Target, Value: e.Value,
		TTLS: ttl.Seconds(), Reason: e.Reason}
}

// publish hands ev to the emitter and every enforcer, in order. It runs
// without the lock: enforcers may take a moment.
func (l *List) publish(ev *Event) {
	if l.opts.Emitter != nil {
		l.opts.Emitter.EmitBlock(ev)
	}
	for _, enf := range l.opts.Enforcers {
		if err := enf.Apply(ev); err != nil {
			l.mu.Lock()
			l.st.EnforcerErrors[enf.Name()]++
			l.mu.Unlock()
			if l.opts.OnError != nil {
				l.opts.OnError(enf.Name(), err)
			}
		}
	}
}

// Tick expires entries on packet time: entries whose expiry is at or before now are
// removed, earliest first (ties by target and value), each a "remove".
func (l *List) Tick(now time.Time) {
	for {
		l.mu.Lock()
		if len(l.exp) == 0 || l.exp[0].Expires.After(now) {
			l.pruneHistory(now)
			l.mu.Unlock()
			return
		}
		e := heap.Pop(&l.exp).(*entry)
		ev := l.removeLocked(now, e)
		l.mu.Unlock()
		l.publish(ev)
	}
}

func (l *List) removeLocked(now time.Time, e *entry) *Event {
	delete(l.entries, e.key)
	delete(l.cidrs, e.key)
	if len(l.hist) < 4*l.opts.MaxEntries {
		l.hist[e.key] = history{strikes: e.Strikes, lastEnd: now}
	}
	l.st.Removed++
	l.st.Active = len(l.entries)
	return l.event(now, "remove", &e.Entry, 0)
}

func (l *List) pruneHistory(now time.Time) {
	// Amortised: only when the history is large compared to the list.
	if len(l.hist) < 1024 || len(l.hist) < 2*len(l.entries) {
		return
	}
	for k, h := range l.hist {
		if now.Sub(h.lastEnd) > l.opts.RepeatWindow {
			delete(l.hist, k)
		}
	}
}

// Remove ends an entry before its TTL (an operator's decision); it emits
// a "remove" and reports whether the entry existed. It counts as a block
// for escalation.
func (l *List) Remove(now time.Time, target, value string) bool {
	v, _, err := normalize(target, value)
	if err != nil {
		return false
	}
	l.mu.Lock()
	e, ok := l.entries[target+"\x00"+v]
	if !ok {
		l.mu.Unlock()
		return false
	}
	heap.Remove(&l.exp, e.index)
	ev := l.removeLocked(now, e)
	l.mu.Unlock()
	l.publish(ev)
	return true
}

// Blocked reports whether target=value is blocked now; a src_ip is also
// blocked when a blocked CIDR contains it.
func (l *List) Blocked(target, value string) bool {
	v, p, err := normalize(target, value)
	if err != nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.entries[target+"\x00"+v]; ok {
		return true
	}
	if target == TargetSrcIP {
		for _, c := range l.cidrs {
			if c.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

// Entries returns the active entries sorted by target and value.
func (l *List) Entries() []Entry {
	l.mu.Lock()
	out := make([]Entry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, e.Entry)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

// Stats returns a copy of the counters.
func (l *List) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.EnforcerErrors = make(map[string]uint64, len(l.st.EnforcerErrors))
	for k, v := range l.st.EnforcerErrors {
		st.EnforcerErrors[k] = v
	}
	return st
}

// Close closes every enforcer (the entries stay where they were applied).
func (l *List) Close() error {
	var errs []error
	for _, e := range l.opts.Enforcers {
		if err := e.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close enforcer %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// expiryHeap orders entries by expiry, then key, so Tick's output does not
// depend on map order.
type expiryHeap []*entry

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	if !h[i].Expires.Equal(h[j].Expires) {
		return h[i].Expires.Before(h[j].Expires)
	}
	return h[i].key < h[j].key
}
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
