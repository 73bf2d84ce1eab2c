package rules_test

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
	"mqttids/rules"
)

type collect struct {
	alerts []*alerts.Alert
}

func (c *collect) EmitAlert(a *alerts.Alert) { c.alerts = append(c.alerts, a) }
func (c *collect) EmitBlock(*block.Event)    {}
func (c *collect) summary() string {
	var s []string
	for _, a := range c.alerts {
		s = append(s, fmt.Sprintf("%s/%s key=%v count=%v", a.Alert.Category, a.Detection.Rule, a.Detection.Key, a.Detection.Count))
	}
	return strings.Join(s, "\n")
}

type harness struct {
	sim *detecttest.Sim
	out *collect
	det *detect.Detector
	eng *rules.Engine
}

func newHarness(t testing.TB, opts detect.Options, rs *rules.Ruleset, blk rules.Blocker) *harness {
	t.Helper()
	out := &collect{}
	eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: out, Blocker: blk})
	if err != nil {
		t.Fatal(err)
	}
	det := detect.New(opts, eng)
	return &harness{sim: detecttest.New(det), out: out, det: det, eng: eng}
}

// want is one alert a scenario must raise: category and key (field=value).
type want struct {
	category string
	key      string // "src_ip=10.6.6.6"
}

// Attackers live in 10.66.0.0/16, plant devices in 10.0.0.0/16.
const attacker = "10.66.0.9"

// --- shapes -------------------------------------------------------------

func bruteForce(s *detecttest.Sim, ip string, n int, every time.Duration, v5 bool) {
	code := uint8(5) // what mosquitto sends for a wrong password (v3)
	if v5 {
		s.Version, code = 5, 0x87
	}
	for i := range n {
		c := s.Dial(ip)
		s.Advance(2 * time.Millisecond)
		c.Connect(fmt.Sprintf("bf-%d", i), "admin", fmt.Sprintf("guess%d", i), 60)
		s.Advance(time.Millisecond)
		c.Connack(code)
		c.Close(event.CloseFIN)
		s.Advance(every - 3*time.Millisecond)
	}
}

// plant is ordinary traffic: sensors publishing every second to
// plant/<n>/temp, a dashboard subscribed to plant/# receiving them.
func plant(s *detecttest.Sim, sensors int, d time.Duration) {
	dash := s.Session("10.0.1.1", "dashboard", "dash", "")
	dash.Subscribe("plant/#")
	cs := make([]*detecttest.Client, sensors)
	topics := make([]string, sensors)
	for i := range cs {
		cs[i] = s.Session(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("sensor-%d", i), "", "")
		topics[i] = fmt.Sprintf("plant/%d/temp", i)
	}
	for t := time.Duration(0); t < d; t += time.Second {
		for i, c := range cs {
			c.Publish(topics[i], 8, 0)
			s.Advance(time.Millisecond)
			dash.Deliver(topics[i], 8)
		}
		if t%(30*time.Second) == 0 {
			dash.Ping()
			for _, c := range cs {
				c.Ping()
			}
		}
		s.Advance(time.Second - time.Duration(sensors)*time.Millisecond)
	}
}

func TestScenarios(t *testing.T) {
	allowed := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	cases := []struct {
		name string
		opts detect.Options
		run  func(s *detecttest.Sim)
		want []want // empty: no alert at all
	}{
		// ---------------- attacks ----------------
		{"bruteforce burst v3", detect.Options{}, func(s *detecttest.Sim) {
			bruteForce(s, attacker, 100, 100*time.Millisecond, false)
		}, []want{{"auth-bruteforce", "src_ip=" + attacker}}},
		{"bruteforce burst v5", detect.Options{}, func(s *detecttest.Sim) {
			bruteForce(s, attacker, 50, 200*time.Millisecond, true)
		}, []want{{"auth-bruteforce", "src_ip=" + attacker}}},
		{"bruteforce low and slow 1.5s for 30m", detect.Options{}, func(s *detecttest.Sim) {
			bruteForce(s, attacker, 1200, 1500*time.Millisecond, false)
		}, []want{{"auth-bruteforce", "src_ip=" + attacker}}},
		{"bruteforce slower than burst rule (every 20s)", detect.Options{}, func(s *detecttest.Sim) {
			bruteForce(s, attacker, 95, 20*time.Second, false)
		}, []want{{"auth-bruteforce", "src_ip=" + attacker}}},
		{"password spraying over many sources", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 8 {
				c := s.Dial(fmt.Sprintf("10.66.1.%d", i+1))
				c.Connect(fmt.Sprintf("x%d", i), fmt.Sprintf("user%d", i), "Summer2026!", 60)
				c.Connack(5)
				c.Close(event.CloseFIN)
				s.Advance(time.Minute)
			}
		}, []want{{"auth-bruteforce", "src_ip=10.66.1.5"}}},
		{"connect storm burst", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 150 {
				c := s.Session(attacker, fmt.Sprintf("storm-%d", i), "", "")
				c.Disconnect().Close(event.CloseFIN)
				s.Advance(200 * time.Millisecond)
			}
		}, []want{{"connect-storm", "src_ip=" + attacker}}},
		{"connect storm slow (one every 2s for 30m)", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 900 {
				c := s.Session(attacker, fmt.Sprintf("storm-%d", i%50), "", "")
				s.Advance(time.Second)
				c.Disconnect().Close(event.CloseFIN)
				s.Advance(time.Second)
			}
		}, []want{{"connect-storm", "src_ip=" + attacker}}},
		{"client id takeover", detect.Options{}, func(s *detecttest.Sim) {
			s.Session("10.0.3.7", "plc-7", "", "")
			s.Advance(10 * time.Minute)
			s.Session(attacker, "plc-7", "", "")
		}, []want{{"clientid-takeover", "client_id=plc-7"}}},
		{"client id flapping between two hosts", detect.Options{}, func(s *detecttest.Sim) {
			a := s.Session("10.0.3.7", "plc-7", "", "")
			for range 30 {
				s.Advance(5 * time.Second)
				b := s.Session("10.0.3.8", "plc-7", "", "")
				a.Close(event.CloseFIN)
				s.Advance(5 * time.Second)
				a = s.Session("10.0.3.7", "plc-7", "", "")
				b.Close(event.CloseFIN)
			}
		}, []want{{"clientid-takeover", "client_id=plc-7"}, {"connect-storm", "client_id=plc-7"}}},
		{"topic scan by subscriptions", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session(attacker, "scanner", "", "")
			for i := range 80 {
				c.Subscribe(fmt.Sprintf("plant/%d/+", i))
				s.Advance(500 * time.Millisecond)
			}
		}, []want{{"topic-scan", "src_ip=" + attacker}}},
		{"subscribe to everything", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session(attacker, "spy", "", "")
			c.Subscribe("#")
		}, []want{{"topic-scan", "src_ip=" + attacker}}},
		{"subscribe to $SYS", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session(attacker, "spy", "", "")
			c.Subscribe("$SYS/#")
		}, []want{{"topic-scan", "src_ip=" + attacker}}},
		{"topic scan by publishing to topics nobody reads", detect.Options{}, func(s *detecttest.Sim) {
			dash := s.Session("10.0.1.1", "dashboard", "", "")
			dash.Subscribe("plant/#")
			c := s.Session(attacker, "prober", "", "")
			for i := range 150 {
				c.Publish(fmt.Sprintf("cmd/dev%d/set", i), 4, 0)
				s.Advance(100 * time.Millisecond)
			}
			s.Advance(5 * time.Second)
		}, []want{{"topic-scan", "src_ip=" + attacker}, {"undeliverable-publish", "src_ip=" + attacker}}},
		{"undeliverable v5 (PUBACK 0x10)", detect.Options{}, func(s *detecttest.Sim) {
			s.Version = 5
			c := s.Session(attacker, "probe5", "", "")
			for i := range 40 {
				pid := c.Publish(fmt.Sprintf("x/%d", i), 10, 1)
				s.Advance(time.Millisecond)
				c.Ack(pid, 1, 0x10)
				s.Advance(time.Second)
			}
		}, []want{{"undeliverable-publish", "src_ip=" + attacker}}},
		{"undeliverable v3 (shadow subscriptions)", detect.Options{}, func(s *detecttest.Sim) {
			plant(s, 5, 6*time.Minute) // learning period passes with ordinary traffic
			c := s.Session(attacker, "probe3", "", "")
			for i := range 40 {
				c.Publish(fmt.Sprintf("ctl/%d/cmd", i), 10, 0)
				s.Advance(time.Second)
			}
			s.Advance(5 * time.Second)
		}, []want{{"undeliverable-publish", "src_ip=" + attacker}}},
		{"idle connections without CONNECT", detect.Options{}, func(s *detecttest.Sim) {
			var cs []*detecttest.Client
			for range 6 {
				cs = append(cs, s.Dial(attacker))
				s.Advance(300 * time.Millisecond)
			}
			s.Advance(3 * time.Minute)
			for _, c := range cs {
				c.Close(event.CloseRST)
			}
		}, []want{{"idle-connection", "src_ip=" + attacker}}},
		{"slow idle: a few connections a second held for minutes", detect.Options{}, func(s *detecttest.Sim) {
			var cs []*detecttest.Client
			for i := range 600 {
				cs = append(cs, s.Dial(attacker))
				s.Advance(333 * time.Millisecond)
				if i >= 360 { // each held two minutes
					cs[i-360].Close(event.CloseRST)
				}
			}
		}, []want{{"idle-connection", "src_ip=" + attacker}, {"connect-storm", "src_ip=" + attacker}}},
		{"ping-only connections", detect.Options{}, func(s *detecttest.Sim) {
			var cs []*detecttest.Client
			for i := range 4 {
				cs = append(cs, s.Session(attacker, fmt.Sprintf("idle-%d", i), "", ""))
			}
			for range 12 {
				s.Advance(30 * time.Second)
				for _, c := range cs {
					c.Ping()
				}
			}
		}, []want{{"idle-connection", "src_ip=" + attacker}}},
		{"keep-alive 65535", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 3 {
				c := s.Dial(attacker)
				c.Connect(fmt.Sprintf("ka-%d", i), "", "", 65535)
				c.Connack(0)
				c.Subscribe("plant/1/temp")
				s.Advance(time.Second)
			}
		}, []want{{"idle-connection", "src_ip=" + attacker}}},
		{"publish flood over a known baseline", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session("10.0.2.9", "sensor-9", "", "")
			for range 600 {
				c.Publish("plant/9/temp", 8, 0)
				s.Advance(time.Second)
			}
			for range 60 * 200 {
				c.Publish("plant/9/temp", 8, 0)
				s.Advance(5 * time.Millisecond)
			}
		}, []want{{"publish-flood", "client_id=sensor-9"}}},
		{"publish flood from a fresh client", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session(attacker, "flooder", "", "")
			for range 20 * 500 {
				c.Publish("plant/1/temp", 8, 0)
				s.Advance(2 * time.Millisecond)
			}
		}, []want{{"publish-flood", "client_id=flooder"}}},
		{"publish volume", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session("10.0.2.9", "sensor-9", "", "")
			for range 300 {
				c.Publish("plant/9/temp", 8, 0)
				s.Advance(time.Second)
			}
			for range 30 {
				c.Publish("plant/9/temp", 1_000_000, 0)
				s.Advance(500 * time.Millisecond)
			}
		}, []want{{"publish-flood", "client_id=sensor-9"}}},
		{"malformed packet", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Dial(attacker)
			c.Malformed("MQTT-3.1.2-1")
		}, []want{{"malformed-packet", "src_ip=" + attacker}}},
		{"abnormal terminations", detect.Options{}, func(s *detecttest.Sim) {
			for i := range 15 {
				c := s.Session(attacker, fmt.Sprintf("drop-%d", i), "", "")
				s.Advance(5 * time.Second)
				c.Close(event.CloseRST)
				s.Advance(10 * time.Second)
			}
		}, []want{{"abnormal-termination", "src_ip=" + attacker}}},
		{"unexpected source", detect.Options{AllowedNetworks: allowed}, func(s *detecttest.Sim) {
			s.Session("10.0.2.1", "sensor-1", "", "")
			s.Session("203.0.113.5", "visitor", "", "")
		}, []want{{"unexpected-source", "src_ip=203.0.113.5"}}},
		{"cleartext credentials", detect.Options{}, func(s *detecttest.Sim) {
			for range 3 {
				c := s.Session("10.0.2.1", "sensor-1", "sensor", "secret")
				c.Publish("plant/1/temp", 8, 0)
				s.Advance(time.Minute)
				c.Disconnect().Close(event.CloseFIN)
			}
		}, []want{{"cleartext-credentials", "username=sensor"}}},

		// ---------------- benign ----------------
		{"steady telemetry: 50 sensors at 1 msg/s for an hour", detect.Options{}, func(s *detecttest.Sim) {
			plant(s, 50, time.Hour)
		}, nil},
		{"dashboard subscribing to plant/#", detect.Options{}, func(s *detecttest.Sim) {
			d := s.Session("10.0.1.1", "dashboard", "", "")
			d.Subscribe("plant/#", "alarms/+", "plant/+/status")
			for range 600 {
				s.Advance(time.Second)
				d.Deliver("plant/1/temp", 8)
			}
		}, nil},
		{"ordinary reconnects", detect.Options{}, func(s *detecttest.Sim) {
			for round := range 12 {
				for i := range 20 {
					c := s.Session(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("sensor-%d", i), "", "")
					c.Publish(fmt.Sprintf("plant/%d/temp", i), 8, 0)
					s.Advance(100 * time.Millisecond)
					if round%3 == 2 {
						c.Close(event.CloseRST) // a power cycle now and then
					} else {
						c.Disconnect().Close(event.CloseFIN)
					}
				}
				s.Advance(5 * time.Minute)
			}
		}, nil},
		{"one mistyped password", detect.Options{TLSPorts: []uint16{1883}}, func(s *detecttest.Sim) {
			c := s.Dial("10.0.4.2")
			c.Connect("ops-laptop", "operator", "wrong", 60)
			c.Connack(5)
			c.Close(event.CloseFIN)
			s.Advance(8 * time.Second)
			s.Session("10.0.4.2", "ops-laptop", "operator", "right")
		}, nil},
		{"stale password with client backoff", detect.Options{TLSPorts: []uint16{1883}}, func(s *detecttest.Sim) {
			backoff := time.Second
			for range 20 {
				c := s.Dial("10.0.4.3")
				c.Connect("old-device", "device", "stale", 60)
				c.Connack(5)
				c.Close(event.CloseFIN)
				s.Advance(backoff)
				backoff = min(2*backoff, 2*time.Minute)
			}
		}, nil},
		{"network blip: reconnect from the same address", detect.Options{}, func(s *detecttest.Sim) {
			c := s.Session("10.0.2.5", "sensor-5", "", "")
			c.Subscribe("plant/5/cmd")
			for range 60 {
				c.Publish("plant/5/temp", 8, 0)
				s.Advance(time.Second)
			}
			// the old connection is half-open; the client reconnects
			n := s.Session("10.0.2.5", "sensor-5", "", "")
			n.Subscribe("plant/5/cmd")
			s.Advance(90 * time.Second)
			c.Close(event.CloseTimeout)
			for range 60 {
				n.Publish("plant/5/temp", 8, 0)
				s.Advance(time.Second)
			}
		}, nil},
		{"gateway publishing 150 topics, all consumed", detect.Options{}, func(s *detecttest.Sim) {
			dash := s.Session("10.0.1.1", "historian", "", "")
			dash.Subscribe("#")
			gw := s.Session("10.0.2.200", "gateway", "", "")
			for round := range 3 {
				for i := range 150 {
					topic := fmt.Sprintf("site/dev%d/value", i)
					gw.Publish(topic, 8, 0)
					dash.Deliver(topic, 8)
					s.Advance(10 * time.Millisecond)
				}
				_ = round
				s.Advance(time.Minute)
			}
		}, []want{{"topic-scan", "src_ip=10.0.1.1"}}}, // the historian's '#' is itself a finding
		{"no v3 judgement before learning when TLS hides deliveries", detect.Options{}, func(s *detecttest.Sim) {
			s.DialTo("10.0.1.2", netip.MustParseAddrPort("10.0.0.1:8883")) // a subscriber we cannot see
			s.Advance(time.Second)
			c := s.Session("10.0.2.9", "sensor-9", "", "")
			for i := range 60 {
				c.Publish(fmt.Sprintf("plant/9/ch%d", i), 8, 0)
				s.Advance(time.Second)
			}
		}, nil},
		{"busy bridge at 50 msg/s from its start", detect.Options{}, func(s *detecttest.Sim) {
			hist := s.Session("10.0.1.3", "historian", "", "")
			hist.Subscribe("site/+/value")
			c := s.Session("10.0.5.1", "bridge", "", "")
			for i := range 50 * 600 {
				topic := fmt.Sprintf("site/%d/value", i%40)
				c.Publish(topic, 8, 0)
				hist.Deliver(topic, 8)
				s.Advance(20 * time.Millisecond)
			}
		}, nil},
		{"allowed networks configured, all inside", detect.Options{AllowedNetworks: allowed}, func(s *detecttest.Sim) {
			plant(s, 5, 5*time.Minute)
		}, nil},
		{"retained status without subscribers after learning", detect.Options{}, func(s *detecttest.Sim) {
			plant(s, 3, 6*time.Minute)
			c := s.Session("10.0.2.77", "sensor-77", "", "")
			for i := range 40 {
				c.PublishRetained(fmt.Sprintf("status/%d", i), 2)
				s.Advance(time.Second)
			}
		}, nil},
		{"sensor publishing to its topic with its consumer gone", detect.Options{}, func(s *detecttest.Sim) {
			plant(s, 3, 6*time.Minute)
			c := s.Session("10.0.2.78", "sensor-78", "", "")
			for range 600 {
				c.Publish("archive/78/temp", 8, 0)
				s.Advance(time.Second)
			}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, nil, nil)
			tc.run(h.sim)
			h.det.Flush(h.sim.Now)
			got := map[want]bool{}
			for _, a := range h.out.alerts {
				k := a.Detection.Key
				if k.SrcIP.IsValid() {
					got[want{a.Alert.Category, "src_ip=" + k.SrcIP.String()}] = true
				}
				if k.ClientID != "" {
					got[want{a.Alert.Category, "client_id=" + k.ClientID}] = true
				}
				if k.Username != "" {
					got[want{a.Alert.Category, "username=" + k.Username}] = true
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("missing alert %s %s; got:\n%s", w.category, w.key, h.out.summary())
				}
			}
			var cats []string
			for _, w := range tc.want {
				cats = append(cats, w.category)
			}
			for _, a := range h.out.alerts {
				if !slices.Contains(cats, a.Alert.Category) {
					t.Errorf("unexpected alert %s/%s key %v count %v", a.Alert.Category, a.Detection.Rule, a.Detection.Key, a.Detection.Count)
				}
			}
		})
	}
}

// TestAlertShape checks one alert field by field against the contract.
func TestAlertShape(t *testing.T) {
	h := newHarness(t, detect.Options{}, nil, nil)
	s := h.sim
	bruteForce(s, attacker, 12, 500*time.Millisecond, false)
	var a *alerts.Alert
	for _, x := range h.out.alerts {
		if x.Alert.Category == "auth-bruteforce" {
			a = x
			break
		}
	}
	if a == nil {
		t.Fatalf("no auth-bruteforce alert:\n%s", h.out.summary())
	}
	if a.EventType != "alert" || a.Proto != "TCP" || a.AppProto != "mqtt" {
		t.Errorf("envelope %q %q %q", a.EventType, a.Proto, a.AppProto)
	}
	if a.SrcIP != attacker || a.DestIP != "10.0.0.1" || a.DestPort != 1883 || a.SrcPort == 0 {
		t.Errorf("addresses %s:%d → %s:%d", a.SrcIP, a.SrcPort, a.DestIP, a.DestPort)
	}
	if a.Alert.Action != "allowed" || a.Alert.GID != 1 || a.Alert.SignatureID != 2300001 || a.Alert.Severity != 1 || a.Alert.Rev != 1 {
		t.Errorf("alert info %+v", a.Alert)
	}
	if a.MQTT == nil || a.MQTT.Username != "admin" || a.MQTT.ProtocolVersion != 4 || !strings.HasPrefix(a.MQTT.ClientID, "bf-") {
		t.Errorf("mqtt %+v", a.MQTT)
	}
	d := a.Detection
	if d.Rule != "auth-bruteforce" || d.Key != (alerts.Key{SrcIP: netip.MustParseAddr(attacker)}) || d.Count < 10 || d.WindowS != 30 {
		t.Errorf("detection %+v", d)
	}
	if !d.LastSeen.Equal(a.Timestamp) || d.FirstSeen.After(d.LastSeen) || d.LastSeen.Sub(d.FirstSeen) > 60*time.Second {
		t.Errorf("first/last seen %v %v (timestamp %v)", d.FirstSeen, d.LastSeen, a.Timestamp)
	}
	if a.Block != nil {
		t.Errorf("block without blocker: %+v", a.Block)
	}
	// Suppression: 12 failures in 6 s fire the burst rule once.
	n := 0
	for _, x := range h.out.alerts {
		if x.Detection.Rule == "auth-bruteforce" {
			n++
		}
	}
	if n != 1 || h.eng.Stats().Suppressed == 0 {
		t.Errorf("burst rule fired %d times, suppressed %d", n, h.eng.Stats().Suppressed)
	}
	st := h.eng.Stats()
	if st.ByCategory["auth-bruteforce"] != 1 || st.Alerts != uint64(len(h.out.alerts)) {
		t.Errorf("stats %+v", st)
	}
}

// fakeBlocker is a real (tiny) block list: accepts, remembers, refuses an
// allowlisted value.
type fakeBlocker struct {
	blocked map[string]time.Time
	allow   string
	ticks   int
}

func (b *fakeBlocker) Block(now time.Time, target, value string, ttl time.Duration, _ block.Reason) (time.Duration, bool) {
	if value == b.allow {
		return 0, false
	}
	b.blocked[target+":"+value] = now.Add(ttl)
	return ttl, true
}

func (b *fakeBlocker) Tick(now time.Time) {
	b.ticks++
	for k, until := range b.blocked {
		if !now.Before(until) {
			delete(b.blocked, k)
		}
	}
}

func TestBlockAction(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/block.yaml"
	writeFile(t, file, `
rules:
  - id: auth-bruteforce
    action: block
    target: src_ip
    ttl: 10m
`)
	rs, err := rules.Load([]string{file}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	blk := &fakeBlocker{blocked: map[string]time.Time{}, allow: "10.66.0.10"}
	h := newHarness(t, detect.Options{}, rs, blk)
	bruteForce(h.sim, attacker, 20, 200*time.Millisecond, false)
	bruteForce(h.sim, "10.66.0.10", 20, 200*time.Millisecond, false)
	var blocked, allowed int
	for _, a := range h.out.alerts {
		if a.Detection.Rule != "auth-bruteforce" {
			continue
		}
		switch a.SrcIP {
		case attacker:
			blocked++
			if a.Alert.Action != "blocked" || a.Block == nil || a.Block.Target != "src_ip" || a.Block.Value != attacker || a.Block.TTLS != 600 {
				t.Errorf("blocked alert %+v block %+v", a.Alert, a.Block)
			}
		case "10.66.0.10":
			allowed++
			if a.Alert.Action != "allowed" || a.Block != nil {
				t.Errorf("allowlisted source blocked: %+v", a.Alert)
			}
		}
	}
	if blocked != 1 || allowed != 1 {
		t.Errorf("blocked %d allowed %d alerts:\n%s", blocked, allowed, h.out.summary())
	}
	if _, ok := blk.blocked["src_ip:"+attacker]; !ok || blk.ticks == 0 || h.eng.Stats().Blocked != 1 {
		t.Errorf("block list %v ticks %d stats %+v", blk.blocked, blk.ticks, h.eng.Stats())
	}
}

func TestReloadKeepsCounters(t *testing.T) {
	h := newHarness(t, detect.Options{}, nil, nil)
	bruteForce(h.sim, attacker, 8, 500*time.Millisecond, false) // below 10
	dir := t.TempDir()
	file := dir + "/lower.yaml"
	writeFile(t, file, "rules:\n  - id: auth-bruteforce\n    threshold: 9\n")
	rs, err := rules.Load([]string{file}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Reload(rs)
	bruteForce(h.sim, attacker, 1, 500*time.Millisecond, false) // 9th failure
	var n int
	for _, a := range h.out.alerts {
		if a.Detection.Rule == "auth-bruteforce" {
			n++
			if a.Detection.Count != 9 {
				t.Errorf("count %v, want 9", a.Detection.Count)
			}
		}
	}
	if n != 1 {
		t.Errorf("after reload: %d alerts\n%s", n, h.out.summary())
	}
}

func TestEveryCategoryCovered(t *testing.T) {
	rs, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	sids := []int{}
	for _, r := range rs.Rules() {
		have[r.Category] = true
		sids = append(sids, r.SID)
	}
	for _, c := range rules.Categories() {
		if !have[c] {
			t.Errorf("no built-in rule for category %s", c)
		}
	}
	sort.Ints(sids)
	if sids[0] != 2300001 {
		t.Errorf("sids start at %d", sids[0])
	}
}

// TestConnectionKeyRule: a user rule on the connection key sees the
// connection's own publish counters.
func TestConnectionKeyRule(t *testing.T) {
	file := t.TempDir() + "/conn.yaml"
	writeFile(t, file, `
rules:
  - id: chatty-connection
    sid: 2400100
    category: publish-flood
    key: connection
    window: 30s
    count: publishes
    threshold: 100
`)
	rs, err := rules.Load([]string{file}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, detect.Options{}, rs, nil)
	quiet := h.sim.Session("10.0.2.1", "quiet", "", "")
	busy := h.sim.Session("10.0.2.2", "busy", "", "")
	for range 150 {
		busy.Publish("plant/2/temp", 8, 0)
		h.sim.Advance(100 * time.Millisecond)
		if h.sim.Now.Second()%5 == 0 {
			quiet.Publish("plant/1/temp", 8, 0)
		}
	}
	var got []string
	for _, a := range h.out.alerts {
		if a.Detection.Rule == "chatty-connection" {
			k := a.Detection.Key
			got = append(got, netip.AddrPortFrom(k.SrcIP, k.SrcPort).String()+">"+netip.AddrPortFrom(k.DestIP, k.DestPort).String())
		}
	}
	want := fmt.Sprintf("10.0.2.2:%d>10.0.0.1:1883", busy.Flow.Client.Port())
	if len(got) != 1 || got[0] != want {
		t.Errorf("alerts %v, want [%s]", got, want)
	}
}
