package rules_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
	"mqttids/rules"
)

// The shapes of issue 10, each over a range of rates, sizes and timings:
// an alert must come within one rule window of the attack's start, and the
// benign shapes must raise nothing but the posture alert.

// burst publishes n QoS 0 messages spread evenly over d.
func burst(s *detecttest.Sim, c *detecttest.Client, topic string, n int, d time.Duration) {
	step := d / time.Duration(n)
	for range n {
		c.Publish(topic, 16, 0)
		s.Advance(step)
	}
}

// firstAlert returns the time of the first alert of category from ip (or
// with key), and whether there was one.
func (h *harness) firstAlert(category, ip string) (time.Time, bool) {
	for _, a := range h.out.alerts {
		if a.Alert.Category == category && a.SrcIP == ip {
			return a.Timestamp, true
		}
	}
	return time.Time{}, false
}

func (h *harness) only(t *testing.T, allowed ...string) {
	t.Helper()
	for _, a := range h.out.alerts {
		ok := false
		for _, c := range allowed {
			ok = ok || a.Alert.Category == c
		}
		if !ok {
			t.Errorf("unexpected alert %s/%s from %s key %v count %v", a.Alert.Category, a.Detection.Rule, a.SrcIP, a.Detection.Key, a.Detection.Count)
		}
	}
}

func TestFloodBursts(t *testing.T) {
	for _, n := range []int{2000, 5000, 10000, 20000} {
		for _, d := range []time.Duration{time.Microsecond * time.Duration(n), 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond} {
			for _, history := range []time.Duration{0, 3 * time.Second, 2 * time.Minute} {
				t.Run(fmt.Sprintf("n=%d/d=%s/history=%s", n, d, history), func(t *testing.T) {
					h := newHarness(t, detect.Options{}, nil, nil)
					plantStart(h.sim, 20)
					c := h.sim.Session(attacker, "vib-sensor-9", "", "")
					for range int(history / time.Second) {
						c.Publish("plant/9/vibration", 16, 0)
						plantTick(h.sim)
					}
					start := h.sim.Now
					burst(h.sim, c, "plant/9/vibration", n, d)
					h.det.Flush(h.sim.Now)
					at, ok := h.firstAlert("publish-flood", attacker)
					if !ok {
						t.Fatalf("no publish-flood alert; got:\n%s", h.out.summary())
					}
					if at.Sub(start) > d+time.Millisecond {
						t.Errorf("alert %s after the burst began (burst %s)", at.Sub(start), d)
					}
					h.only(t, "publish-flood", "cleartext-credentials")
				})
			}
		}
	}
}

// TestFloodManyClientIDs is mqtt-malaria: one new address, a dozen client
// ids, about 1,000 msg/s together for a few seconds.
func TestFloodManyClientIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	for run := range 6 {
		clients := 10 + rng.IntN(6)
		rate := 800 + rng.IntN(700)
		dur := time.Duration(3+rng.IntN(4)) * time.Second
		t.Run(fmt.Sprintf("%d/clients=%d/rate=%d/dur=%s", run, clients, rate, dur), func(t *testing.T) {
			h := newHarness(t, detect.Options{}, nil, nil)
			plantStart(h.sim, 20)
			for range 30 {
				plantTick(h.sim)
			}
			cs := make([]*detecttest.Client, clients)
			for i := range cs {
				cs[i] = h.sim.Session(attacker, fmt.Sprintf("malaria-%d", i), "", "")
			}
			start := h.sim.Now
			step := time.Second / time.Duration(rate)
			for i := range int(dur / step) {
				cs[i%clients].Publish(fmt.Sprintf("malaria/%d", i%5), 32, 0)
				h.sim.Advance(step)
			}
			h.det.Flush(h.sim.Now)
			at, ok := h.firstAlert("publish-flood", attacker)
			if !ok {
				t.Fatalf("no publish-flood alert; got:\n%s", h.out.summary())
			}
			if at.Sub(start) > dur {
				t.Errorf("alert %s after the start", at.Sub(start))
			}
			// malaria's topics have no subscriber here.
			h.only(t, "publish-flood", "undeliverable-publish", "topic-scan")
		})
	}
}

// TestSilentSessions is SlowITe: sessions that CONNECT and say nothing.
func TestSilentSessions(t *testing.T) {
	for _, n := range []int{25, 200, 1000} {
		for _, ka := range []uint16{5, 60, 600} {
			t.Run(fmt.Sprintf("n=%d/keepalive=%d", n, ka), func(t *testing.T) {
				h := newHarness(t, detect.Options{}, nil, nil)
				start := h.sim.Now
				for i := range n {
					c := h.sim.Dial(attacker)
					c.Connect(fmt.Sprintf("slow-%d", i), "", "", ka)
					c.Connack(0)
					h.sim.Advance(5 * time.Millisecond)
				}
				// The capture ends 15 s later; keep-alive pings where due.
				for range 15 {
					h.sim.Advance(time.Second)
					h.det.Flush(h.sim.Now)
				}
				at, ok := h.firstAlert("idle-connection", attacker)
				if !ok {
					t.Fatalf("no idle-connection alert; got:\n%s", h.out.summary())
				}
				if d := at.Sub(start); d > 10*time.Second+time.Duration(n)*5*time.Millisecond {
					t.Errorf("alert %s after the first CONNECT", d)
				}
				h.only(t, "idle-connection", "connect-storm", "resource-abuse")
			})
		}
	}
}

// plantStart and plantTick: 20 sensors at 1 msg/s on their own addresses
// and a dashboard receiving everything (the peers of every test here).
var plantClients []*detecttest.Client

func plantStart(s *detecttest.Sim, n int) {
	plantClients = plantClients[:0]
	dash := s.Session("10.0.1.1", "dashboard", "", "")
	dash.Subscribe("plant/#")
	plantClients = append(plantClients, dash)
	for i := range n {
		plantClients = append(plantClients, s.Session(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("sensor-%d", i), "", ""))
	}
}

func plantTick(s *detecttest.Sim) {
	dash := plantClients[0]
	for i, c := range plantClients[1:] {
		topic := fmt.Sprintf("plant/%d/temp", i)
		c.Publish(topic, 8, 0)
		dash.Deliver(topic, 8)
	}
	s.Advance(time.Second)
}

func TestBenignBusyShapes(t *testing.T) {
	cases := []struct {
		name string
		run  func(s *detecttest.Sim)
	}{
		{"gateway at 150-250 msg/s from its first second", func(s *detecttest.Sim) {
			rng := rand.New(rand.NewPCG(3, 3))
			for run := range 3 {
				rate := 150 + rng.IntN(100)
				gw := s.Session(fmt.Sprintf("10.0.3.%d", run+1), fmt.Sprintf("gateway-%d", run), "", "")
				step := time.Second / time.Duration(rate)
				for i := range rate * 40 {
					topic := fmt.Sprintf("plant/gw%d/%d", run, i%40)
					gw.Publish(topic, 24, 0)
					plantClients[0].Deliver(topic, 24)
					s.Advance(step)
				}
			}
		}},
		{"a fleet of 30 clients at 300 msg/s each, starting together", func(s *detecttest.Sim) {
			cs := make([]*detecttest.Client, 30)
			for i := range cs {
				cs[i] = s.Session(fmt.Sprintf("10.0.4.%d", i+1), fmt.Sprintf("fleet-%d", i), "", "")
			}
			for i := range 300 * 30 * 20 {
				c := cs[i%len(cs)]
				topic := fmt.Sprintf("plant/fleet/%d", i%len(cs))
				c.Publish(topic, 24, 0)
				plantClients[0].Deliver(topic, 24)
				s.Advance(time.Second / (300 * 30))
			}
		}},
		{"broker restart: every client reconnects with back-off", func(s *detecttest.Sim) {
			rng := rand.New(rand.NewPCG(4, 4))
			for range 30 {
				plantTick(s)
			}
			for _, c := range plantClients {
				c.Close(event.CloseRST)
			}
			s.Advance(3 * time.Second)
			type re struct {
				at time.Duration
				i  int
			}
			var back []re
			for i := range plantClients {
				d := time.Second + time.Duration(rng.IntN(1000))*time.Millisecond
				back = append(back, re{d, i}, re{3*d + time.Second, i})
			}
			for ms := time.Duration(0); ms < 8*time.Second; ms += 100 * time.Millisecond {
				for _, r := range back {
					if r.at >= ms && r.at < ms+100*time.Millisecond {
						c := s.Dial(plantClients[r.i].Flow.Client.Addr().String())
						c.Connect(plantClients[r.i].Conn.ClientID, "", "", 60)
						c.Connack(0)
						c.Close(event.CloseRST) // the first attempt fails again
					}
				}
				s.Advance(100 * time.Millisecond)
			}
			plantStart(s, 20)
			for range 60 {
				plantTick(s)
			}
		}},
		{"a quiet subscriber that receives now and then", func(s *detecttest.Sim) {
			for i := range 30 {
				c := s.Session("10.0.5.1", fmt.Sprintf("listener-%d", i), "", "")
				c.Subscribe(fmt.Sprintf("cmd/%d", i))
			}
			for range 120 {
				plantTick(s)
			}
		}},
		{"30 devices behind one NAT publishing right after CONNECT, then every minute", func(s *detecttest.Sim) {
			cs := make([]*detecttest.Client, 30)
			for i := range cs {
				cs[i] = s.Session("10.0.6.1", fmt.Sprintf("door-%d", i), "", "")
				cs[i].Publish(fmt.Sprintf("plant/door/%d/state", i), 4, 1)
			}
			for m := range 5 {
				for range 60 {
					plantTick(s)
				}
				for i, c := range cs {
					c.Publish(fmt.Sprintf("plant/door/%d/state", i), 4, 0)
					c.Ping()
				}
				_ = m
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, detect.Options{}, nil, nil)
			plantStart(h.sim, 20)
			for range 10 {
				plantTick(h.sim)
			}
			tc.run(h.sim)
			h.det.Flush(h.sim.Now)
			h.only(t, "cleartext-credentials")
		})
	}
}

// TestScopedRule: "alert when a client outside 10.0.0.0/8 subscribes to
// #", and a match: scope, fire only where they say.
func TestScopedRule(t *testing.T) {
	f := t.TempDir() + "/scoped.yaml"
	writeFile(t, f, `rules:
  - id: outside-wildcard
    sid: 2400101
    category: topic-scan
    key: src_ip
    window: 30m
    count: subscribes
    condition: '!in_network(src_ip, "10.0.0.0/8") && filter == "#"'
    suppress: 1h
  - id: lab-storm
    sid: 2400102
    category: connect-storm
    key: src_ip
    window: 30s
    count: tcp_opens
    threshold: 3
    match: {src_networks: [192.0.2.0/24], not_src_networks: [192.0.2.7], dest_ports: [1883]}
`)
	rs, err := rules.Load([]string{f}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, detect.Options{}, rs, nil)
	for _, ip := range []string{"10.1.2.3", "203.0.113.8", "198.51.100.4"} {
		c := h.sim.Session(ip, "c-"+ip, "", "")
		if ip == "198.51.100.4" {
			c.Subscribe("plant/#")
		} else {
			c.Subscribe("#")
		}
	}
	for _, ip := range []string{"192.0.2.5", "192.0.2.7", "198.51.100.9"} {
		for range 4 {
			h.sim.Session(ip, "", "", "").Disconnect().Close(event.CloseFIN)
		}
	}
	got := map[string]bool{}
	for _, a := range h.out.alerts {
		got[a.Detection.Rule+"@"+a.SrcIP] = true
	}
	for _, w := range []string{"outside-wildcard@203.0.113.8", "lab-storm@192.0.2.5"} {
		if !got[w] {
			t.Errorf("missing %s; got %v", w, got)
		}
	}
	for _, w := range []string{"outside-wildcard@10.1.2.3", "outside-wildcard@198.51.100.4", "lab-storm@192.0.2.7", "lab-storm@198.51.100.9"} {
		if got[w] {
			t.Errorf("unexpected %s", w)
		}
	}
}

// TestCleartextOncePerUserAndBroker: the posture alert comes once per
// (broker, user name), however many clients and reconnects.
func TestCleartextOncePerUserAndBroker(t *testing.T) {
	h := newHarness(t, detect.Options{}, nil, nil)
	other := netip.MustParseAddrPort("10.0.0.2:1883")
	for i := range 200 {
		ip := fmt.Sprintf("10.0.7.%d", i%50+1)
		c := h.sim.Session(ip, fmt.Sprintf("dev-%d", i), "fleet", "shared-secret")
		c.Disconnect().Close(event.CloseFIN)
		c2 := h.sim.DialTo(ip, other)
		c2.Connect(fmt.Sprintf("dev-%d", i), "fleet", "shared-secret", 60)
		c2.Connack(0)
		c2.Disconnect().Close(event.CloseFIN)
		h.sim.Advance(time.Minute)
	}
	n := 0
	for _, a := range h.out.alerts {
		if a.Alert.Category == "cleartext-credentials" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d cleartext alerts for one user on two brokers over 200 minutes, want 2:\n%s", n, h.out.summary())
	}
	if st := h.det.Stats(); st.CleartextByBroker["10.0.0.1"] != 200 || st.CleartextByBroker["10.0.0.2"] != 200 {
		h.det.Flush(h.sim.Now)
		if st := h.det.Stats(); st.CleartextByBroker["10.0.0.1"] != 200 || st.CleartextByBroker["10.0.0.2"] != 200 {
			t.Errorf("posture counts %v", st.CleartextByBroker)
		}
	}
}

// TestPeerBaseline: a new client publishing 1,500 msg/s is a flood among
// sensors at 1 msg/s, and ordinary among peers that each publish 400 msg/s.
func TestPeerBaseline(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy-peers=%v", busy), func(t *testing.T) {
			h := newHarness(t, detect.Options{}, nil, nil)
			plantStart(h.sim, 20)
			var fleet []*detecttest.Client
			if busy {
				for i := range 30 {
					fleet = append(fleet, h.sim.Session(fmt.Sprintf("10.0.8.%d", i+1), fmt.Sprintf("fast-%d", i), "", ""))
				}
			}
			tick := func() {
				for range 100 { // 10 ms steps
					for _, c := range fleet {
						for range 4 {
							c.Publish("plant/fast", 8, 0) // 400 msg/s each
						}
					}
					h.sim.Advance(10 * time.Millisecond)
				}
			}
			for range 30 {
				plantTick(h.sim)
				tick()
			}
			c := h.sim.Session(attacker, "newcomer", "", "")
			for range 3 {
				for range 100 {
					for range 15 {
						c.Publish("plant/new", 8, 0)
					}
					for _, f := range fleet {
						for range 4 {
							f.Publish("plant/fast", 8, 0)
						}
					}
					h.sim.Advance(10 * time.Millisecond)
				}
			}
			_, fired := h.firstAlert("publish-flood", attacker)
			if fired == busy {
				t.Errorf("busy peers %v: publish-flood fired %v\n%s", busy, fired, h.out.summary())
			}
		})
	}
}

// TestEvictionFloodKeepsAttacker: spoofed SYNs from new addresses between
// the attempts of a brute force (1.5× the source table each time) must not
// evict the brute-forcer's source entry: its refusals protect it.
func TestEvictionFloodKeepsAttacker(t *testing.T) {
	const maxSrc = 10_000
	h := newHarness(t, detect.Options{MaxSources: maxSrc, MaxConns: maxSrc}, nil, nil)
	n := 0
	for i := range 12 {
		c := h.sim.Dial(attacker)
		c.Connect(fmt.Sprintf("bf-%d", i), "admin", fmt.Sprintf("guess-%d", i), 60)
		c.Connack(5)
		c.Close(event.CloseFIN)
		for range maxSrc * 3 / 2 {
			n++
			h.sim.Dial(fmt.Sprintf("100.%d.%d.%d", n>>16&255, n>>8&255, n&255))
			h.sim.Advance(100 * time.Microsecond)
		}
	}
	h.det.Flush(h.sim.Now)
	if _, ok := h.firstAlert("auth-bruteforce", attacker); !ok {
		t.Fatalf("brute force hidden by %d spoofed SYNs (evictions %d); alerts:\n%s", n, h.det.Stats().EvictionsSources, h.out.summary())
	}
	if ev := h.det.Stats().EvictionsSources; ev < uint64(n-maxSrc) {
		t.Errorf("only %d source evictions for %d sources", ev, n)
	}
	pressure := 0
	for _, a := range h.out.alerts {
		if a.Detection.Rule == "state-eviction-pressure" {
			pressure++
			if a.SrcIP != "" || a.Alert.Category != "resource-abuse" {
				t.Errorf("pressure alert names %q as source, category %s", a.SrcIP, a.Alert.Category)
			}
		}
	}
	if pressure != 1 {
		t.Errorf("%d state-eviction-pressure alerts, want 1 (suppressed after the first)", pressure)
	}
}
