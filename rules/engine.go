package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/detect"
)

// Options configure an Engine.
type Options struct {
	Ruleset *Ruleset       // nil: the built-in rules
	Emitter alerts.Emitter // required
	Blocker Blocker        // nil: no blocking, action stays "allowed"
	// MaxSuppressed bounds the suppression table (default 100,000 keys).
	MaxSuppressed int
	// OnEvalError, if set, is called the first time a rule's condition
	// fails at run time (on the Observe goroutine); later failures of the
	// same rule are only counted (EngineStats.EvalErrorsByRule).
	OnEvalError func(rule string, err error)
}

// Blocker is the dynamic block list as the engine uses it (block.List).
// Time is packet time.
type Blocker interface {
	// Block asks for target=value ("src_ip", "client_id", "username") to
	// be blocked for ttl (before escalation); it returns the TTL applied
	// and false when the list refused (allowlisted, already blocked for
	// longer, full).
	Block(now time.Time, target, value string, ttl time.Duration, reason block.Reason) (time.Duration, bool)
	// Tick expires entries whose TTL has passed at now.
	Tick(now time.Time)
}

// EngineStats are the engine's totals.
type EngineStats struct {
	Alerts      uint64
	ByCategory  map[string]uint64
	Suppressed  uint64 // firings not emitted because the key was suppressed
	Blocked     uint64 // alerts whose block entry the Blocker accepted
	Evaluations uint64 // conditions run (after the gate)
	EvalErrors  uint64
	// EvalErrorsByRule: run-time condition failures per rule id (a failing
	// condition counts as false, so the rule does not fire).
	EvalErrorsByRule map[string]uint64
	SuppressFull     uint64 // suppression entries not recorded: table full
}

type suppKey struct {
	rule string
	key  detect.Key
	brk  netip.Addr // rules with per: broker
}

// compiledSet is a Ruleset indexed for Observe: enabled rules by key kind.
type compiledSet struct {
	byKey [detect.NumKeyKinds][]*Rule
	masks [detect.NumKeyKinds][]detect.CounterSet // byKey's masks, contiguous for the scan
	wants [detect.NumKeyKinds]detect.CounterSet
}

// Engine evaluates rules over the detector's observations and emits alerts.
// It implements detect.Observer. Observe and Tick run on the detector's
// goroutine; Reload and Stats may be called from any goroutine.
type Engine struct {
	set     atomic.Pointer[compiledSet]
	emitter alerts.Emitter
	blocker Blocker
	maxSupp int

	supp  map[suppKey]int64 // suppressed until (packet time)
	env   Env
	ctx   evalCtx
	envF  [detect.NumCounters]*float64
	vm    vm.VM
	total atomic.Uint64
	byCat [16]atomic.Uint64
	supps atomic.Uint64
	blk   atomic.Uint64
	evals atomic.Uint64
	errs  atomic.Uint64
	full  atomic.Uint64

	onErr   func(string, error)
	errMu   sync.Mutex
	errRule map[string]uint64
}

var _ detect.Observer = (*Engine)(nil)

// NewEngine returns an engine for opts.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Emitter == nil {
		return nil, errors.New("rules engine: no emitter")
	}
	if opts.Ruleset == nil {
		rs, err := Load(nil, LoadOptions{})
		if err != nil {
			return nil, fmt.Errorf("rules engine: built-in rules: %w", err)
		}
		opts.Ruleset = rs
	}
	if opts.MaxSuppressed <= 0 {
		opts.MaxSuppressed = 100_000
	}
	e := &Engine{emitter: opts.Emitter, blocker: opts.Blocker, maxSupp: opts.MaxSuppressed,
		supp: make(map[suppKey]int64), onErr: opts.OnEvalError, errRule: make(map[string]uint64)}
	if err := bindEnv(&e.env, &e.envF); err != nil {
		return nil, err
	}
	e.Reload(opts.Ruleset)
	return e, nil
}

// bindEnv points f[c] at the Env field tagged with counter c's name.
func bindEnv(env *Env, f *[detect.NumCounters]*float64) error {
	v := reflect.ValueOf(env).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if c, ok := detect.ParseCounter(t.Field(i).Tag.Get("expr")); ok {
			f[c] = v.Field(i).Addr().Interface().(*float64)
		}
	}
	for c := range f {
		if f[c] == nil {
			return fmt.Errorf("rules engine: counter %s has no Env field", detect.Counter(c))
		}
	}
	return nil
}

// Reload replaces the rules; counters (kept by detect) and suppression
// state are kept.
func (e *Engine) Reload(rs *Ruleset) {
	cs := &compiledSet{}
	for _, r := range rs.rules {
		if r.Enabled {
			cs.byKey[r.Key] = append(cs.byKey[r.Key], r)
			cs.masks[r.Key] = append(cs.masks[r.Key], r.mask)
			cs.wants[r.Key] |= r.mask
		}
	}
	e.set.Store(cs)
}

// Stats returns the totals so far.
func (e *Engine) Stats() EngineStats {
	s := EngineStats{
		Alerts: e.total.Load(), Suppressed: e.supps.Load(), Blocked: e.blk.Load(),
		Evaluations: e.evals.Load(), EvalErrors: e.errs.Load(), SuppressFull: e.full.Load(),
		ByCategory: make(map[string]uint64),
	}
	e.errMu.Lock()
	if len(e.errRule) > 0 {
		s.EvalErrorsByRule = make(map[string]uint64, len(e.errRule))
		for k, v := range e.errRule {
			s.EvalErrorsByRule[k] = v
		}
	}
	e.errMu.Unlock()
	for i, c := range categories {
		if n := e.byCat[i].Load(); n > 0 {
			s.ByCategory[c] = n
		}
	}
	return s
}

// Wants returns the counters the enabled rules of kind read.
func (e *Engine) Wants(kind detect.KeyKind) detect.CounterSet {
	if int(kind) >= len(e.set.Load().wants) {
		return 0
	}
	return e.set.Load().wants[kind]
}

// Tick expires block entries on packet time.
func (e *Engine) Tick(now time.Time) {
	if e.blocker != nil {
		e.blocker.Tick(now)
	}
}

// Observe evaluates the rules of o's key kind that read a counter the
// event changed. A rule fires at the first such event at which its count
// has reached its threshold in its window and its condition holds; then it
// is suppressed for the key. Nothing else is cached: whether a rule fires
// depends only on the counters at that event (TestEngineMatchesReference
// checks this against an evaluator without any shortcut).
func (e *Engine) Observe(o *detect.Observation) {
	cs := e.set.Load()
	rules := cs.byKey[o.Key.Kind]
	for i, m := range cs.masks[o.Key.Kind] {
		if m&o.Changed == 0 {
			continue
		}
		r := rules[i]
		if r.scoped && !r.Match.allows(o) {
			continue
		}
		// The gate: an upper bound of the count below the threshold means
		// the count itself is (BelowRef), then the exact value.
		if (r.gate || r.prog == nil) && o.BelowRef(r.ref, r.Threshold) {
			continue
		}
		v := o.Value(r.count, r.win)
		if (r.gate || r.prog == nil) && v < r.Threshold {
			continue
		}
		now := o.Time.UnixNano()
		sk := suppKey{rule: r.ID, key: o.Key}
		if r.perBkr {
			sk.brk = destIP(o)
		}
		if until, ok := e.supp[sk]; ok && now < until {
			e.supps.Add(1)
			continue
		}
		if r.prog != nil && !e.condition(o, r) {
			continue
		}
		e.suppress(sk, now, r.Suppress)
		e.fire(o, r, v)
	}
}

// condition runs r's condition for o: natively when it compiled, else on
// the VM (errors counted, and false).
func (e *Engine) condition(o *detect.Observation, r *Rule) bool {
	e.evals.Add(1)
	if r.native != nil {
		e.ctx.o, e.ctx.win = o, r.win
		ok := r.native(&e.ctx)
		e.ctx.o = nil
		return ok
	}
	e.fillEnv(o, r)
	out, err := e.vm.Run(r.prog, &e.env)
	if err != nil {
		e.errs.Add(1)
		e.errMu.Lock()
		e.errRule[r.ID]++
		first := e.errRule[r.ID] == 1
		e.errMu.Unlock()
		if first && e.onErr != nil {
			e.onErr(r.ID, err)
		}
		return false
	}
	ok, _ := out.(bool)
	return ok
}

func (e *Engine) fillEnv(o *detect.Observation, r *Rule) {
	for _, c := range r.reads {
		*e.envF[c] = o.Value(c, r.win)
	}
	e.env.Threshold = r.Threshold
	e.env.WindowS = r.Window.Seconds()
	e.env.Version = float64(o.Version)
	e.env.ClientID = o.ClientID
	e.env.Username = o.Username
	e.env.MalformedRule = o.MalformedRule
	e.env.SrcPort = float64(o.Flow.Client.Port())
	e.env.DestPort = float64(o.Flow.Server.Port())
	e.env.SrcIP, e.env.DestIP, e.env.Broker, e.env.Topic, e.env.Filter = "", "", "", "", ""
	if r.vmStrs == 0 {
		return
	}
	// Text only for what the condition names (it allocates).
	for i, name := range envStrings {
		if r.vmStrs&(1<<i) == 0 {
			continue
		}
		switch name {
		case "src_ip":
			e.env.SrcIP = addrText(srcIP(o))
		case "dest_ip":
			e.env.DestIP = addrText(destIP(o))
		case "broker":
			e.env.Broker = addrText(destIP(o))
		case "topic":
			e.env.Topic = string(o.Topic)
		case "filter":
			e.env.Filter = string(o.Filter)
		}
	}
}

func (e *Engine) suppress(sk suppKey, now int64, d time.Duration) {
	if d > 0 {
		remember(e.supp, sk, now, int64(d), e.maxSupp, &e.full)
	}
}

// remember sets m[k] = now+d in a map bounded to max entries: when full,
// expired entries are swept; if none expired, the entry is not recorded
// (counted in full).
func remember(m map[suppKey]int64, k suppKey, now, d int64, max int, full *atomic.Uint64) {
	if _, ok := m[k]; !ok && len(m) >= max {
		for k, until := range m {
			if until <= now {
				delete(m, k)
			}
		}
		if len(m) >= max {
			full.Add(1)
			return
		}
	}
	m[k] = now + d
}

// alertKey is k as the alert's flat key: the fields k.Fields names,
// without a map (TestAlertKeyMatchesFields holds them equal).
func alertKey(k *detect.Key) alerts.Key {
	switch k.Kind {
	case detect.KeySrcIP:
		return alerts.Key{SrcIP: k.Addr}
	case detect.KeyClientID:
		return alerts.Key{ClientID: k.Name}
	case detect.KeyUsername:
		return alerts.Key{Username: k.Name}
	case detect.KeyConnection:
		return alerts.Key{
			SrcIP: k.Flow.Client.Addr().Unmap(), SrcPort: k.Flow.Client.Port(),
			DestIP: k.Flow.Server.Addr().Unmap(), DestPort: k.Flow.Server.Port(),
		}
	}
	return alerts.Key{}
}

// alertAlloc holds an alert and the objects it points to, so that firing
// costs one allocation (the alert outlives Observe: sinks queue it).
type alertAlloc struct {
	a alerts.Alert
	d alerts.Detection
	m alerts.MQTTInfo
}

func (e *Engine) fire(o *detect.Observation, r *Rule, count float64) {
	x := &alertAlloc{}
	x.d = alerts.Detection{
		Rule:      r.ID,
		Key:       alertKey(&o.Key),
		Count:     count,
		WindowS:   r.Window.Seconds(),
		FirstSeen: o.FirstSeen(r.win),
		LastSeen:  o.Time,
	}
	a := &x.a
	*a = alerts.Alert{
		Timestamp: o.Time,
		EventType: "alert",
		Proto:     "TCP",
		AppProto:  "mqtt",
		Alert: alerts.AlertInfo{
			Action: "allowed", GID: GID, SignatureID: r.SID, Rev: r.Rev,
			Signature: r.Description, Category: r.Category, Severity: r.Severity,
		},
		Detection: &x.d,
	}
	if o.Flow.Client.IsValid() {
		a.SrcIP = o.Flow.Client.Addr().Unmap().String()
		a.SrcPort = o.Flow.Client.Port()
		a.DestIP = o.Flow.Server.Addr().Unmap().String()
		a.DestPort = o.Flow.Server.Port()
	}
	if o.ClientID != "" || o.Username != "" || o.Version != 0 {
		x.m = alerts.MQTTInfo{ClientID: o.ClientID, Username: o.Username, ProtocolVersion: o.Version}
		a.MQTT = &x.m
	}
	if r.Action == "block" && e.blocker != nil {
		var value string
		switch r.Target {
		case "src_ip":
			if o.Key.Kind == detect.KeySrcIP {
				value = o.Key.Addr.String()
			} else if o.Flow.Client.IsValid() {
				value = o.Flow.Client.Addr().Unmap().String()
			}
		case "client_id":
			value = o.ClientID
		case "username":
			value = o.Username
		}
		if value != "" {
			ttl, ok := e.blocker.Block(o.Time, r.Target, value, r.TTL,
				block.Reason{SignatureID: r.SID, Category: r.Category})
			if ok {
				a.Alert.Action = "blocked"
				a.Block = &alerts.BlockInfo{Target: r.Target, Value: value, TTLS: ttl.Seconds()}
				e.blk.Add(1)
			}
		}
	}
	e.total.Add(1)
	if r.cat >= 0 && r.cat < len(e.byCat) {
		e.byCat[r.cat].Add(1)
	}
	e.emitter.EmitAlert(a)
}
