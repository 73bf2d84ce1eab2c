package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"mqttids/detect"
	"mqttids/detect/detecttest"
)

// condCorpus: conditions whose native and VM results must agree, beyond the
// built-in and property rules (edge cases of expr's semantics: NaN from
// 0/0, max/min keeping the first of equal or NaN arguments, integer
// literals against floats, empty and unknown strings, addresses as text).
var condCorpus = []string{
	"publishes > 10 * publish_baseline && (publish_baseline > 0 || publishes >= 3 * threshold)",
	"publish_baseline > 0 ? publishes > 10 * publish_baseline : publish_rate >= max(500, min(10 * peer_publish_p99, 5000))",
	"0 / publishes > 1 || publishes / 0 > 1",
	"max(publishes / publish_baseline, 0.0) >= 0.0",
	"min(publish_bytes / publishes, 1.0) == 1.0",
	"max(1, publishes, 2.5) == 2.5 && min(3.0, 3.5) == 3 && max(1, min(2, 2.5)) > 0.5",
	"abs(-publishes) == publishes && -(-1) == 1 && +publishes >= 0",
	"publishes ** 2 >= publishes ^ 1",
	"threshold == 1 && window_s == 30 && protocol_version in [3, 4, 5]",
	"client_id == '' || username != '' || malformed_rule == ''",
	"src_ip == '' || src_ip == '10.66.0.7' || src_ip == '::ffff:10.66.0.7' || src_ip == '010.66.0.7'",
	"dest_ip startsWith '10.' && broker endsWith '.1' && src_ip contains '66'",
	"src_ip matches '^10\\\\.66' || topic matches 'x/.*'",
	"src_ip in ['10.66.0.7', '10.0.2.1'] || client_id in ['c1', 'ok-c2']",
	"not (client_id in ['c3']) && !(username == 'root')",
	"in_network(src_ip, '10.66.0.0/16') != in_network(dest_ip, '10.0.0.2')",
	"(publishes > 3 and connects >= 1) or (silent_sessions > 0 and not (open_sessions == 0))",
	"true ? publishes > 1 : publishes < 1",
	"(publishes > 1 ? true : false) == (publishes >= 2)",
	"dest_port == 8883 || src_port > 40000",
	"client_id + username == 'c1admin' || topic == filter",
}

// condObserver evaluates conditions both ways at every observation.
type condObserver struct {
	t      testing.TB
	rules  []*Rule
	env    Env
	envF   [detect.NumCounters]*float64
	vm     vm.VM
	ctx    evalCtx
	checks int
}

func (c *condObserver) Wants(detect.KeyKind) detect.CounterSet { return ^detect.CounterSet(0) }
func (c *condObserver) Tick(time.Time)                         {}
func (c *condObserver) Observe(o *detect.Observation) {
	for _, r := range c.rules {
		fullEnv(&c.env, &c.envF, o, r)
		out, err := c.vm.Run(r.prog, &c.env)
		want, _ := out.(bool)
		want = want && err == nil
		c.ctx.o, c.ctx.win = o, r.win
		if got := r.native(&c.ctx); got != want {
			c.t.Fatalf("%q: native %v, VM %v (err %v) at %s key %s", r.Condition, got, want, err, o.Time.Format(time.RFC3339Nano), o.Key.Value())
		}
		c.checks++
	}
}

func condRules(t testing.TB, conds []string) []*Rule {
	var out []*Rule
	for i, s := range conds {
		prog, counters, tree, _, err := compileExpr(s)
		if err != nil {
			if _, fuzz := t.(*testing.F); fuzz || len(conds) == 1 {
				t.Skipf("%q: %v", s, err) // not a condition: nothing to compare
			}
			t.Fatalf("%q: %v", s, err)
		}
		r := &Rule{ID: fmt.Sprintf("c%d", i), Condition: s, Threshold: 1, Window: 30 * time.Second, prog: prog, reads: counters}
		r.native = nativeCondition(tree, r)
		if r.native == nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

func runConds(t testing.TB, rules []*Rule, seed uint64, n int) int {
	obs := &condObserver{t: t, rules: rules}
	if err := bindEnv(&obs.env, &obs.envF); err != nil {
		t.Fatal(err)
	}
	d := detect.New(detect.Options{}, obs)
	s := detecttest.New(d)
	randomStream(s, rand.New(rand.NewPCG(seed, 5)), n)
	d.Flush(s.Now)
	return obs.checks
}

// TestNativeMatchesVM: every corpus condition compiles natively and gives
// the VM's result at every observation of a random stream.
func TestNativeMatchesVM(t *testing.T) {
	rules := condRules(t, condCorpus)
	if len(rules) != len(condCorpus) {
		for _, s := range condCorpus {
			_, _, tree, _, _ := compileExpr(s)
			if nativeCondition(tree, &Rule{}) == nil {
				t.Errorf("%q not compiled natively", s)
			}
		}
	}
	n := 0
	for seed := range 5 {
		n += runConds(t, rules, uint64(seed), 3000)
	}
	t.Logf("%d evaluations compared", n)
}

// FuzzNativeMatchesVM: any condition that compiles natively agrees with the
// VM.
func FuzzNativeMatchesVM(f *testing.F) {
	for _, s := range condCorpus {
		f.Add(s)
	}
	rs, _ := Load(nil, LoadOptions{})
	for _, r := range rs.rules {
		if r.Condition != "" {
			f.Add(r.Condition)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 300 {
			return
		}
		rules := condRules(t, []string{s})
		if len(rules) == 0 {
			return
		}
		runConds(t, rules, 1, 400)
	})
}

// BenchmarkCondition compares the VM and the native evaluator on the
// built-in flood condition, on one observation (the PUBLISH path).
func BenchmarkCondition(b *testing.B) {
	rs, _ := Load(nil, LoadOptions{})
	var r *Rule
	for _, x := range rs.rules {
		if x.ID == "publish-flood" {
			r = x
		}
	}
	var o *detect.Observation
	grab := observerFunc(func(x *detect.Observation) {
		if x.Key.Kind == detect.KeyClientID && o == nil {
			b.Run("vm", func(b *testing.B) {
				e := &Engine{}
				_ = bindEnv(&e.env, &e.envF)
				b.ReportAllocs()
				for b.Loop() {
					e.fillEnv(x, r)
					_, _ = e.vm.Run(r.prog, &e.env)
				}
			})
			b.Run("native", func(b *testing.B) {
				ctx := &evalCtx{o: x, win: r.win}
				b.ReportAllocs()
				for b.Loop() {
					r.native(ctx)
				}
			})
			o = x
		}
	})
	d := detect.New(detect.Options{}, grab)
	s := detecttest.New(d)
	c := s.Session("10.0.2.1", "sensor-1", "", "")
	for range 10 {
		c.Publish("plant/1/temp", 8, 0)
		s.Advance(time.Second)
	}
}

type observerFunc func(*detect.Observation)

func (f observerFunc) Observe(o *detect.Observation)          { f(o) }
func (f observerFunc) Tick(time.Time)                         {}
func (f observerFunc) Wants(detect.KeyKind) detect.CounterSet { return ^detect.CounterSet(0) }
