package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
)

// refEval is the brute-force evaluator the engine is checked against: at
// every observation it runs every rule of the key's kind that reads a
// counter the event changed — no gate, no upper bounds, the VM with every
// counter and string of the environment filled — with an unbounded
// suppression table. It also runs each rule's native condition beside the
// VM and records any disagreement.
type refEval struct {
	t      testing.TB
	rules  []*Rule
	supp   map[suppKey]int64
	env    Env
	envF   [detect.NumCounters]*float64
	vm     vm.VM
	ctx    evalCtx
	fired  []string
	native uint64 // native evaluations compared with the VM
}

func newRefEval(t testing.TB, rs *Ruleset) *refEval {
	r := &refEval{t: t, supp: make(map[suppKey]int64)}
	if err := bindEnv(&r.env, &r.envF); err != nil {
		t.Fatal(err)
	}
	for _, x := range rs.rules {
		if x.Enabled {
			r.rules = append(r.rules, x)
		}
	}
	return r
}

func (r *refEval) Wants(detect.KeyKind) detect.CounterSet { return ^detect.CounterSet(0) }
func (r *refEval) Tick(time.Time)                         {}

func (r *refEval) fullEnv(o *detect.Observation, x *Rule) { fullEnv(&r.env, &r.envF, o, x) }

// fullEnv fills every field of env (envF points into it) for rule x at o.
func fullEnv(env *Env, envF *[detect.NumCounters]*float64, o *detect.Observation, x *Rule) {
	for c := detect.Counter(0); c < detect.NumCounters; c++ {
		*envF[c] = o.Value(c, x.win)
	}
	env.Threshold, env.WindowS, env.Version = x.Threshold, x.Window.Seconds(), float64(o.Version)
	env.ClientID, env.Username, env.MalformedRule = o.ClientID, o.Username, o.MalformedRule
	env.SrcIP, env.DestIP, env.Broker = addrText(srcIP(o)), addrText(destIP(o)), addrText(destIP(o))
	env.SrcPort, env.DestPort = float64(o.Flow.Client.Port()), float64(o.Flow.Server.Port())
	env.Topic, env.Filter = string(o.Topic), string(o.Filter)
}

func (r *refEval) Observe(o *detect.Observation) {
	now := o.Time.UnixNano()
	for _, x := range r.rules {
		if x.Key != o.Key.Kind || x.mask&o.Changed == 0 || !x.Match.allows(o) {
			continue
		}
		var cond bool
		if x.prog != nil {
			r.fullEnv(o, x)
			out, err := r.vm.Run(x.prog, &r.env)
			cond, _ = out.(bool)
			cond = cond && err == nil
			if x.native != nil {
				r.ctx.o, r.ctx.win = o, x.win
				if got := x.native(&r.ctx); got != cond {
					r.t.Errorf("rule %s: native %v, VM %v (err %v) for %s at %s", x.ID, got, cond, err, o.Key.Value(), o.Time.Format(time.RFC3339Nano))
				}
				r.native++
			}
		}
		v := o.Value(x.count, x.win)
		if (x.gate || x.prog == nil) && v < x.Threshold {
			continue
		}
		sk := suppKey{rule: x.ID, key: o.Key}
		if x.Per == "broker" {
			sk.brk = destIP(o)
		}
		if until, ok := r.supp[sk]; ok && now < until {
			continue
		}
		if x.prog != nil && !cond {
			continue
		}
		if x.Suppress > 0 {
			r.supp[sk] = now + int64(x.Suppress)
		}
		k, _ := json.Marshal(o.Key.Fields())
		r.fired = append(r.fired, firing(x.ID, string(k), o.Time, v))
	}
}

func firing(rule, key string, at time.Time, count float64) string {
	return fmt.Sprintf("%s %s %s count=%g", at.UTC().Format(time.RFC3339Nano), rule, key, count)
}

type engineOut struct{ fired []string }

func (e *engineOut) EmitAlert(a *alerts.Alert) {
	e.fired = append(e.fired, firing(a.Detection.Rule, a.Detection.Key.String(), a.Timestamp, a.Detection.Count))
}
func (e *engineOut) EmitBlock(*block.Event) {}

// tee hands every event to both detectors.
type tee [2]event.Handler

func (t tee) Handle(ev *event.Event) { t[0].Handle(ev); t[1].Handle(ev) }

// propertyRules are the built-in rules plus rules with low thresholds and
// conditions over every part of the language, so that short random
// streams reach them many times.
const propertyRules = `
rules:
  - {id: p-flood, sid: 2900001, category: publish-flood, key: client_id, window: 30s, count: publishes, threshold: 20,
     condition: "publish_baseline > 0 ? publishes > 3 * publish_baseline : publish_rate >= max(15, min(2 * peer_publish_p99, 60))", suppress: 2s}
  - {id: p-flood-src, sid: 2900002, category: publish-flood, key: src_ip, window: 30s, count: publishes, threshold: 30,
     condition: "publish_baseline > 0 ? publishes > 3 * publish_baseline : preexisting == 0 && publish_rate >= 20", suppress: 3s}
  - {id: p-storm, sid: 2900003, category: connect-storm, key: src_ip, window: 30s, count: tcp_opens, threshold: 5,
     condition: "tcp_opens - auth_failures >= threshold", suppress: 1s}
  - {id: p-auth, sid: 2900004, category: auth-bruteforce, key: username, window: 5m, count: auth_failures, threshold: 3,
     condition: "distinct_sources >= 2 || username in ['root', 'admin']", suppress: 5s}
  - {id: p-silent, sid: 2900005, category: idle-connection, key: client_id, window: 30s,
     condition: "silent_sessions >= 1 && open_sessions >= 1 && !(client_id startsWith 'ok-')", suppress: 500ms}
  - {id: p-scope, sid: 2900006, category: topic-scan, key: src_ip, window: 5m, count: subscribes, threshold: 2,
     condition: "!in_network(src_ip, '10.0.0.0/16') && (filter == '#' || filter matches '^[$]SYS' || filter endsWith '/#')", suppress: 1s}
  - {id: p-arith, sid: 2900007, category: publish-flood, key: src_ip, window: 5m,
     condition: "publish_bytes / max(publishes, 1) > 40 && -publishes < -2 && abs(publish_bytes_rate - publish_rate) ** 0.5 >= 0 && dest_port == 1883", suppress: 2s}
  - {id: p-text, sid: 2900008, category: unexpected-source, key: src_ip, window: 30s,
     condition: "connects >= 1 && (src_ip == '10.66.0.7' || src_ip startsWith '10.66.1.' || broker != '10.0.0.1' || topic contains 'x')", suppress: 1s}
  - {id: p-match, sid: 2900009, category: topic-scan, key: client_id, window: 30s, count: distinct_topics, threshold: 4,
     match: {src_networks: [10.66.0.0/16], not_src_networks: [10.66.0.3], brokers: [10.0.0.1], dest_ports: [1883]}, suppress: 1s}
  - {id: p-conn, sid: 2900010, category: publish-flood, key: connection, window: 30s, count: publishes, threshold: 15,
     condition: "publishes > 2 * publish_baseline || malformed >= 1 && malformed_rule startsWith 'MQTT-3'", suppress: 1s}
  - {id: p-broker, sid: 2900011, category: cleartext-credentials, key: username, per: broker, window: 30m, count: cleartext_credentials, threshold: 1, suppress: 10s}
  - {id: p-ternary-bool, sid: 2900012, category: abnormal-termination, key: src_ip, window: 30s,
     condition: "(protocol_version == 5 ? closes_rst >= 1 : closes_fin >= 2) && not (src_port in [1, 2, 3])", suppress: 1s}
`

// randomStream drives s with n random actions: clients appear mid-window,
// bursts last from 1 µs to 10 s at 1× to 100× the low thresholds above,
// refusals, silent sessions, subscriptions, closes, and packet time that
// sometimes steps back a little (reordering across flows).
func randomStream(s *detecttest.Sim, rng *rand.Rand, n int) {
	srcs := []string{"10.66.0.3", "10.66.0.7", "10.66.1.4", "10.0.2.1", "10.0.2.2", "192.0.2.9"}
	users := []string{"", "admin", "root", "sensor", "ops"}
	topics := []string{"plant/1/temp", "plant/2/x", "a/b", "$SYS/load", "x/y/z"}
	filters := []string{"#", "$SYS/#", "plant/#", "a/+", "cmd/1"}
	servers := []string{"10.0.0.1:1883", "10.0.0.2:1883", "10.0.0.1:8883"}
	var open []*detecttest.Client
	for i := 0; i < n; i++ {
		switch k := rng.IntN(100); {
		case k < 15 || len(open) == 0: // a new connection
			src := srcs[rng.IntN(len(srcs))]
			c := s.DialTo(src, netip.MustParseAddrPort(servers[rng.IntN(len(servers))]))
			if rng.IntN(10) == 0 {
				s.Version = 5
			} else {
				s.Version = 4
			}
			id := fmt.Sprintf("c%d", rng.IntN(12))
			if rng.IntN(4) == 0 {
				id = "ok-" + id
			}
			pw := ""
			if rng.IntN(2) == 0 {
				pw = "pw"
			}
			c.Connect(id, users[rng.IntN(len(users))], pw, uint16(rng.IntN(4)*30))
			switch rng.IntN(6) {
			case 0:
				c.Connack(5)
				c.Close(event.CloseFIN)
			case 1:
				c.Connack(0x87)
				c.Close(event.CloseRST)
			default:
				c.Connack(0)
				open = append(open, c)
			}
		case k < 45: // a burst
			c := open[rng.IntN(len(open))]
			count := 1 + rng.IntN(60)*rng.IntN(40)
			dur := time.Duration(1 + rng.Int64N(int64(10*time.Second)))
			if rng.IntN(3) == 0 {
				dur = time.Duration(1+rng.IntN(1000)) * time.Microsecond
			}
			step := dur / time.Duration(count)
			for j := 0; j < count && i < n; j++ {
				c.Publish(topics[rng.IntN(len(topics))], rng.IntN(80), uint8(rng.IntN(2)))
				s.Advance(step)
				i++
			}
		case k < 55:
			c := open[rng.IntN(len(open))]
			c.Subscribe(filters[rng.IntN(len(filters))], filters[rng.IntN(len(filters))])
		case k < 62:
			c := open[rng.IntN(len(open))]
			c.Deliver(topics[rng.IntN(len(topics))], 10)
		case k < 68:
			open[rng.IntN(len(open))].Ping()
		case k < 72:
			open[rng.IntN(len(open))].Malformed("MQTT-3.1.2-1")
		case k < 80: // a close
			j := rng.IntN(len(open))
			c := open[j]
			switch rng.IntN(3) {
			case 0:
				c.Disconnect().Close(event.CloseFIN)
			case 1:
				c.Close(event.CloseRST)
			default:
				c.Close(event.CloseFIN)
			}
			open = slices.Delete(open, j, j+1)
		case k < 83: // reordering: a packet a little earlier than the last
			s.Now = s.Now.Add(-time.Duration(rng.IntN(100)) * time.Millisecond)
		default: // time passes: up to a few windows' worth
			s.Advance(time.Duration(rng.Int64N(int64(40 * time.Second))))
		}
	}
}

// TestEngineMatchesReference: random streams give exactly the alerts
// (rule, key, time, count) of the brute-force evaluator, and every native
// condition agrees with the VM.
func TestEngineMatchesReference(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(f, []byte(propertyRules), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := Load([]string{f}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.rules {
		if r.prog != nil && r.native == nil {
			t.Errorf("rule %s: condition not compiled natively", r.ID)
		}
	}
	seeds := 25
	if testing.Short() {
		seeds = 8
	}
	var natives uint64
	total := 0
	for seed := range seeds {
		out := &engineOut{}
		eng, err := NewEngine(Options{Ruleset: rs, Emitter: out})
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefEval(t, rs)
		a, b := detect.New(detect.Options{}, eng), detect.New(detect.Options{}, ref)
		s := detecttest.New(tee{a, b})
		randomStream(s, rand.New(rand.NewPCG(uint64(seed), 77)), 4000)
		a.Flush(s.Now)
		b.Flush(s.Now)
		if !slices.Equal(out.fired, ref.fired) {
			t.Fatalf("seed %d: engine and reference differ:\nengine (%d):\n%s\nreference (%d):\n%s", seed,
				len(out.fired), strings.Join(out.fired, "\n"), len(ref.fired), strings.Join(ref.fired, "\n"))
		}
		natives += ref.native
		total += len(ref.fired)
	}
	if total < 100*seeds/10 || natives == 0 {
		t.Errorf("streams too tame: %d alerts, %d native evaluations over %d seeds", total, natives, seeds)
	}
	t.Logf("%d seeds: %d alerts equal, %d native conditions equal to the VM", seeds, total, natives)
}
