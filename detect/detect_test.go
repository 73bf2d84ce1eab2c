package detect_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
)

// recorder is an Observer that keeps the last value of chosen counters per
// key, read at observation time.
type recorder struct {
	w     detect.Window
	last  map[string]map[detect.Counter]float64
	ticks int
	n     int
}

func newRecorder(w detect.Window) *recorder {
	return &recorder{w: w, last: map[string]map[detect.Counter]float64{}}
}

func (r *recorder) Observe(o *detect.Observation) {
	r.n++
	k := o.Key.Kind.String() + "=" + o.Key.Value()
	m := r.last[k]
	if m == nil {
		m = map[detect.Counter]float64{}
		r.last[k] = m
	}
	for c := detect.Counter(0); c < detect.NumCounters; c++ {
		if o.Changed.Has(c) {
			m[c] = o.Value(c, r.w)
		}
	}
}

func (r *recorder) Tick(time.Time) { r.ticks++ }

func (r *recorder) Wants(detect.KeyKind) detect.CounterSet { return ^detect.CounterSet(0) }

func (r *recorder) get(key string, c detect.Counter) float64 { return r.last[key][c] }

func TestCounters(t *testing.T) {
	type check struct {
		key string
		c   detect.Counter
		v   float64
	}
	cases := []struct {
		name string
		opts detect.Options
		run  func(s *detecttest.Sim)
		want []check
	}{
		{"tcp opens and connects", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 5 {
				s.Session("10.1.0.1", fmt.Sprintf("c%d", i), "u", "")
				s.Advance(time.Second)
			}
			s.Dial("10.1.0.1")
		}, []check{
			{"src_ip=10.1.0.1", detect.TCPOpens, 6},
			{"src_ip=10.1.0.1", detect.Connects, 5},
			{"src_ip=10.1.0.1", detect.DistinctClientIDs, 5},
			{"src_ip=10.1.0.1", detect.DistinctUsernames, 1},
			{"username=u", detect.Connects, 5},
			{"src_ip=10.1.0.1", detect.OpenConnections, 6},
		}},
		{"refusals by code v3", detect.Options{}, func(s *detecttest.Sim) {
			for code := uint8(1); code <= 5; code++ {
				c := s.Dial("10.1.0.2")
				c.Connect("x", "bob", "pw", 60)
				c.Connack(code)
			}
		}, []check{
			{"src_ip=10.1.0.2", detect.ConnackRefusals, 5},
			{"src_ip=10.1.0.2", detect.AuthFailures, 2},
			{"src_ip=10.1.0.2", detect.RefusedBadCredentials, 1},
			{"src_ip=10.1.0.2", detect.RefusedNotAuthorized, 1},
			{"username=bob", detect.AuthFailures, 2},
			{"client_id=x", detect.ConnackRefusals, 5},
		}},
		{"refusals by code v5", detect.Options{}, func(s *detecttest.Sim) {
			s.Version = 5
			for _, code := range []uint8{0x80, 0x84, 0x86, 0x87, 0x8C, 0x8C} {
				c := s.Dial("10.1.0.3")
				c.Connect("x", "bob", "pw", 60)
				c.Connack(code)
			}
			c := s.Dial("10.1.0.3")
			c.Connect("y", "bob", "pw", 60)
			c.Connack(0) // success is not a refusal
		}, []check{
			{"src_ip=10.1.0.3", detect.ConnackRefusals, 6},
			{"src_ip=10.1.0.3", detect.AuthFailures, 4},
			{"src_ip=10.1.0.3", detect.RefusedBadAuthMethod, 2},
			{"username=bob", detect.RefusedBadCredentials, 1},
			{"username=bob", detect.RefusedNotAuthorized, 1},
		}},
		{"spraying counts refused user names per password", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 6 {
				c := s.Dial(fmt.Sprintf("10.1.1.%d", i+1))
				c.Connect("x", fmt.Sprintf("user%d", i), "Winter!", 60)
				c.Connack(5)
			}
		}, []check{{"src_ip=10.1.1.6", detect.SprayUsernames, 6}}},
		{"subscriptions classified", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session("10.1.0.4", "sub", "", "")
			c.Subscribe("plant/#", "#", "+/status", "$SYS/#", "$share/g/plant/+/temp", "a/b")
		}, []check{
			{"src_ip=10.1.0.4", detect.Subscribes, 6},
			{"src_ip=10.1.0.4", detect.WildcardSubs, 5},
			{"src_ip=10.1.0.4", detect.RootWildcardSubs, 2},
			{"src_ip=10.1.0.4", detect.SysSubs, 1},
			{"src_ip=10.1.0.4", detect.DistinctFilters, 6},
			{"client_id=sub", detect.WildcardSubs, 5},
		}},
		{"publishes and bytes", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session("10.1.0.5", "pub", "", "")
			for i := range 10 {
				c.Publish(fmt.Sprintf("t/%d", i%4), 96, 0) // 4+3+96 = 103 bytes
			}
		}, []check{
			{"src_ip=10.1.0.5", detect.Publishes, 10},
			{"client_id=pub", detect.PublishBytes, 1030},
			{"client_id=pub", detect.DistinctTopics, 4},
		}},
		{"abnormal closes, not after refusal or DISCONNECT", detect.Options{}, func(s *detecttest.Sim) {
			s.Session("10.1.0.6", "a", "", "").Close(event.CloseRST)
			s.Session("10.1.0.6", "b", "", "").Close(event.CloseFIN)
			s.Session("10.1.0.6", "c", "", "").Disconnect().Close(event.CloseFIN)
			c := s.Dial("10.1.0.6")
			c.Connect("d", "", "", 60)
			c.Connack(2)
			c.Close(event.CloseFIN)
			s.Dial("10.1.0.6").Close(event.CloseRST) // never connected
			s.Session("10.1.0.6", "e", "", "").Close(event.CloseEOF)
		}, []check{
			{"src_ip=10.1.0.6", detect.AbnormalCloses, 2},
			{"src_ip=10.1.0.6", detect.ClosesRST, 1},
			{"src_ip=10.1.0.6", detect.ClosesFIN, 1},
			{"client_id=a", detect.AbnormalCloses, 1},
		}},
		{"takeover only across addresses", detect.Options{}, func(s *detecttest.Sim) {
			s.Session("10.1.0.7", "dev", "", "")
			s.Session("10.1.0.7", "dev", "", "") // same address: reconnect
			s.Session("10.1.0.8", "dev", "", "") // another address
			c := s.Session("10.1.0.7", "dev", "", "")
			c.Close(event.CloseFIN) // taken over: not abnormal? it is the newest
		}, []check{
			{"client_id=dev", detect.Takeovers, 2},
			{"client_id=dev", detect.DistinctSources, 2},
			{"src_ip=10.1.0.8", detect.Takeovers, 1},
		}},
		{"v5 DISCONNECT 0x8E is a takeover", detect.Options{}, func(s *detecttest.Sim) {
			s.Version = 5
			c := s.Session("10.1.0.9", "dev5", "", "")
			c.ServerDisconnect(0x8E)
			c.Close(event.CloseFIN)
		}, []check{{"client_id=dev5", detect.Takeovers, 1}}},
		{"keep-alive and cleartext", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Dial("10.1.0.10")
			c.Connect("k", "u", "pw", 65535)
			c2 := s.Dial("10.1.0.10")
			c2.Connect("k2", "u", "", 60)
		}, []check{
			{"src_ip=10.1.0.10", detect.KeepAliveHigh, 1},
			{"src_ip=10.1.0.10", detect.CleartextCredentials, 1},
			{"username=u", detect.CleartextCredentials, 1},
		}},
		{"unexpected source", detect.Options{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, func(s *detecttest.Sim) {
			s.Dial("10.1.0.11")
			s.Dial("192.0.2.1")
			s.Dial("192.0.2.1")
		}, []check{{"src_ip=192.0.2.1", detect.UnexpectedSource, 2}}},
		{"idle timer fires on packet time", detect.Options{}, func(s *detecttest.Sim) {
			s.Dial("10.1.0.12")
			s.Dial("10.1.0.12").Connect("x", "", "", 60) // not idle
			s.Advance(11 * time.Second)
			s.Dial("10.1.0.99") // advances the clock past the timer
		}, []check{{"src_ip=10.1.0.12", detect.IdleNoConnect, 1}}},
		{"ping only", detect.Options{PingOnlyTimeout: time.Minute}, func(s *detecttest.Sim) {
			a := s.Session("10.1.0.13", "idle", "", "")
			b := s.Session("10.1.0.13", "busy", "", "")
			for range 3 {
				s.Advance(25 * time.Second)
				a.Ping()
				b.Ping()
				b.Publish("x", 1, 0)
			}
		}, []check{{"src_ip=10.1.0.13", detect.PingOnly, 1}, {"client_id=idle", detect.PingOnly, 1}}},
		{"malformed", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Dial("10.1.0.14")
			c.Malformed("MQTT-2.2.2-2")
			c.Malformed("MQTT-2.2.2-2")
		}, []check{{"src_ip=10.1.0.14", detect.Malformed, 2}}},
		{"undeliverable v5", detect.Options{}, func(s *detecttest.Sim) {
			s.Version = 5
			c := s.Session("10.1.0.15", "p5", "", "")
			for i := range 3 {
				pid := c.Publish(fmt.Sprintf("n/%d", i), 1, 1)
				c.Ack(pid, 1, 0x10)
			}
			pid := c.Publish("ok", 1, 2)
			c.Ack(pid, 2, 0) // delivered
		}, []check{
			{"src_ip=10.1.0.15", detect.Undeliverable, 3},
			{"client_id=p5", detect.UndeliverableTopics, 3},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(detect.Win5m)
			d := detect.New(tc.opts, r)
			s := detecttest.New(d)
			tc.run(s)
			for _, w := range tc.want {
				if got := r.get(w.key, w.c); got != w.v {
					t.Errorf("%s %s = %v, want %v (all: %v)", w.key, w.c, got, w.v, r.last[w.key])
				}
			}
		})
	}
}

// TestSlidingWindow checks the two-bucket estimate against exact counts.
func TestSlidingWindow(t *testing.T) {
	r := newRecorder(detect.Win30s)
	d := detect.New(detect.Options{}, r)
	s := detecttest.New(d)
	// One TCP open per second for two minutes: every 30 s window holds 30.
	for range 120 {
		s.Dial("10.2.0.1").Close(event.CloseRST)
		s.Advance(time.Second)
	}
	if got := r.get("src_ip=10.2.0.1", detect.TCPOpens); got < 29 || got > 31 {
		t.Errorf("steady rate: %v in 30 s, want 30±1", got)
	}
	// Silence longer than two buckets empties the window.
	s.Advance(2 * time.Minute)
	s.Dial("10.2.0.1")
	if got := r.get("src_ip=10.2.0.1", detect.TCPOpens); got != 1 {
		t.Errorf("after silence: %v, want 1", got)
	}
}

func TestDistinctAccuracy(t *testing.T) {
	for _, n := range []int{1, 5, 7, 10, 20, 50, 100, 200} {
		r := newRecorder(detect.Win5m)
		d := detect.New(detect.Options{}, r)
		s := detecttest.New(d)
		c := s.Session("10.3.0.1", "scan", "", "")
		for i := range n {
			c.Subscribe(fmt.Sprintf("plant/%d/+", i))
		}
		got := r.get("src_ip=10.3.0.1", detect.DistinctFilters)
		tol := max(0.15*float64(n), 1)
		if n <= 7 {
			tol = 0 // exact mode
		}
		if d := got - float64(n); d > tol || d < -tol {
			t.Errorf("distinct %d estimated %v", n, got)
		}
	}
}

func TestTopicMatching(t *testing.T) {
	cases := []struct {
		filters []string
		topic   string
		want    bool
	}{
		{[]string{"plant/#"}, "plant/1/temp", true},
		{[]string{"plant/#"}, "plant", true},
		{[]string{"plant/+/temp"}, "plant/1/temp", true},
		{[]string{"plant/+/temp"}, "plant/1/hum", false},
		{[]string{"plant/+"}, "plant/1/temp", false},
		{[]string{"#"}, "anything/at/all", true},
		{[]string{"#"}, "$SYS/broker/load", false},
		{[]string{"+/broker/load"}, "$SYS/broker/load", false},
		{[]string{"$SYS/#"}, "$SYS/broker/load", true},
		{[]string{"$share/g1/plant/+/temp"}, "plant/3/temp", true},
		{[]string{"a/b"}, "a/b/", false},
		{[]string{"a/b/"}, "a/b/", true},
		{[]string{"a/+/"}, "a/x/", true},
		{[]string{"+"}, "", true},
		{[]string{"/+"}, "/x", true},
		{nil, "x", false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.filters, tc.topic), func(t *testing.T) {
			if got := detect.MatchForTest(tc.filters, tc.topic); got != tc.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

// TestBoundedSources drives 1 M spoofed source addresses (one SYN each,
// never closed) through a Detector capped at 100,000 sources and reports the
// memory per tracked source: once with connections capped low (the source
// state alone) and once with 100,000 connections tracked as well.
func TestBoundedSources(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	const maxSrc = 100_000
	for _, maxConns := range []int{1000, maxSrc} {
		heap, st := synFlood(n, detect.Options{MaxSources: maxSrc, MaxConns: maxConns})
		if st.Sources != maxSrc || st.Conns > maxConns {
			t.Errorf("tracked %d sources %d conns, caps %d %d", st.Sources, st.Conns, maxSrc, maxConns)
		}
		if st.EvictionsSources != uint64(n-maxSrc) || st.EvictionsConns != uint64(n-maxConns) {
			t.Errorf("evictions: sources %d (want %d) conns %d (want %d)", st.EvictionsSources, n-maxSrc, st.EvictionsConns, n-maxConns)
		}
		per := heap / maxSrc
		t.Logf("%d SYN sources, %d sources and %d connections tracked: heap %.1f MB = %.0f B per tracked source (table estimate %d B); 1 M tracked sources would take %.0f MB",
			n, st.Sources, st.Conns, heap/1e6, per, st.MemBytes/maxSrc, per)
	}
}

func synFlood(n int, opts detect.Options) (float64, detect.Stats) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := detect.New(opts, nil)
	ev := event.Event{Kind: event.TCPOpen, Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Conn: &event.Conn{}}
	srv := netip.MustParseAddrPort("10.0.0.1:1883")
	for i := range n {
		a := netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)})
		ev.Flow = event.Flow{Client: netip.AddrPortFrom(a, 40000), Server: srv}
		ev.Time = ev.Time.Add(time.Microsecond)
		d.Handle(&ev)
	}
	d.Flush(ev.Time)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := d.Stats()
	runtime.KeepAlive(d)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc), st
}

// TestPublishAllocs locks the common path (PUBLISH on a known connection,
// with a subscriber table and an observer) at zero allocations.
func TestPublishAllocs(t *testing.T) {
	r := &countObs{}
	d := detect.New(detect.Options{}, r)
	s := detecttest.New(d)
	dash := s.Session("10.0.1.1", "dash", "", "")
	dash.Subscribe("plant/#")
	c := s.Session("10.0.2.1", "sensor", "", "")
	topic := []byte("plant/1/temp")
	for range 100 {
		c.PublishBytes(topic, 8)
		s.Advance(time.Second)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		c.PublishBytes(topic, 8)
		s.Advance(10 * time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per PUBLISH", allocs)
	}
	if r.n == 0 {
		t.Error("observer not called")
	}
}

type countObs struct{ n int }

func (c *countObs) Observe(o *detect.Observation) {
	c.n++
	_ = o.Value(detect.Publishes, detect.Win30s)
}
func (c *countObs) Tick(time.Time) {}

func (c *countObs) Wants(detect.KeyKind) detect.CounterSet { return ^detect.CounterSet(0) }

func BenchmarkPublish(b *testing.B) {
	d := detect.New(detect.Options{}, &countObs{})
	benchPublish(b, d)
}

func benchPublish(b *testing.B, h event.Handler) {
	s := detecttest.New(h)
	dash := s.Session("10.0.1.1", "dash", "", "")
	dash.Subscribe("plant/#")
	cs := make([]*detecttest.Client, 50)
	for i := range cs {
		cs[i] = s.Session(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("sensor-%d", i), "", "")
	}
	topics := make([][]byte, len(cs))
	for i := range topics {
		topics[i] = []byte(fmt.Sprintf("plant/%d/temp", i))
	}
	b.ReportAllocs()
	b.SetBytes(int64(4 + len(topics[0]) + 8))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(cs)
		cs[j].PublishBytes(topics[j], 8)
		s.Advance(20 * time.Millisecond)
	}
}

func TestFlushFiresDueTimers(t *testing.T) {
	r := newRecorder(detect.Win30m)
	d := detect.New(detect.Options{}, r)
	s := detecttest.New(d)
	s.Dial("10.4.0.1")
	s.Advance(5 * time.Second)
	s.Dial("10.4.0.2")
	d.Flush(s.Now.Add(6 * time.Second)) // the first is 11 s old, the second 6 s
	if got := r.get("src_ip=10.4.0.1", detect.IdleNoConnect); got != 1 {
		t.Errorf("idle 10.4.0.1 = %v, want 1", got)
	}
	if _, ok := r.last["src_ip=10.4.0.2"][detect.IdleNoConnect]; ok {
		t.Error("timer not yet due fired")
	}
}

// TestEvictionKeepsStateConsistent: with tiny caps, evicted connections
// release what they held and later events recreate state cleanly.
func TestEvictionKeepsStateConsistent(t *testing.T) {
	r := newRecorder(detect.Win5m)
	d := detect.New(detect.Options{MaxConns: 4, MaxSources: 3, MaxClientIDs: 2}, r)
	s := detecttest.New(d)
	var cs []*detecttest.Client
	for i := range 10 {
		c := s.Session(fmt.Sprintf("10.5.0.%d", i%5+1), fmt.Sprintf("c%d", i), "", "")
		c.Publish("t", 1, 0)
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.Publish("t", 1, 0) // some were evicted: recreated on the fly
		c.Close(event.CloseFIN)
	}
	d.Flush(s.Now)
	st := d.Stats()
	if st.Conns > 4 || st.Sources > 3 || st.ClientIDs > 2 {
		t.Errorf("caps exceeded: %+v", st)
	}
	if st.EvictionsConns == 0 || st.EvictionsSources == 0 || st.EvictionsClientIDs == 0 {
		t.Errorf("no evictions counted: %+v", st)
	}
	for k, m := range r.last {
		if v, ok := m[detect.OpenConnections]; ok && v < 0 {
			t.Errorf("%s open connections %v", k, v)
		}
	}
}

func TestTopicAliases(t *testing.T) {
	r := newRecorder(detect.Win5m)
	d := detect.New(detect.Options{}, r)
	s := detecttest.New(d)
	s.Version = 5
	c := s.Session("10.6.0.1", "aliaser", "", "")
	c.PublishAlias("plant/1/temp", 1)
	for range 5 {
		c.PublishAlias("", 1) // the alias alone
	}
	c.PublishAlias("plant/1/hum", 2)
	c.PublishAlias("", 9) // never defined: topic unknown, not counted as a topic
	if got := r.get("src_ip=10.6.0.1", detect.DistinctTopics); got != 3 {
		t.Errorf("distinct topics %v, want 3 (temp, hum and the unknown alias)", got)
	}
	if got := r.get("src_ip=10.6.0.1", detect.Publishes); got != 8 {
		t.Errorf("publishes %v, want 8", got)
	}
}

// TestStatsConcurrent: Stats may be read from another goroutine (metrics)
// while Handle runs; run with -race.
func TestStatsConcurrent(t *testing.T) {
	d := detect.New(detect.Options{}, nil)
	s := detecttest.New(d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			_ = d.Stats()
		}
	}()
	for i := range 2000 {
		s.Dial(fmt.Sprintf("10.7.%d.%d", i>>8, i&255))
		s.Advance(100 * time.Millisecond)
	}
	<-done
	d.Flush(s.Now)
	if st := d.Stats(); st.Sources != 2000 {
		t.Errorf("sources %d", st.Sources)
	}
}
