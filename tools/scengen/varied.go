package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// The varied scenarios draw every parameter from a range with a seeded RNG
// (scengen -seed N; record.sh passes a random one unless SEED is set), so
// each re-recording differs. The seed and the drawn values go into the
// labels (seed, params, description); the checks in scengen_test.go read
// them from there and hold for any draw.

// Attackers of the varied scenarios.
const (
	srcBurstKnown = "127.0.0.84"
	srcBurstNew   = "127.0.0.85"
	srcMalaria    = "127.0.0.86"
	srcSlowITe    = "127.0.0.87"
)

// Benign ranges beyond the background's 127.0.0.10–49:
// 127.0.1.1–127.0.1.40, the fleet of benign-broker-restart (one address
// per client), and 127.0.2.10–19 for gateways (benign-gateway uses .10).
const (
	srcEdgeGateway = "127.0.2.10"
	maxFleet       = 40
)

func fleetAddr(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

// Topics of the varied scenarios.
const (
	topicVibration = "plant/line3/vibration" // flood-burst-*: the dashboard (plant/#) receives it
)

// Fleet client i publishes fleetTopic(i); a subscribing one takes its
// site's traffic (a quarter of the fleet), which keeps the capture small.
func fleetTopic(i int) string  { return fmt.Sprintf("fleet/site%d/dev%02d/telemetry", i%4, i) }
func fleetFilter(i int) string { return fmt.Sprintf("fleet/site%d/#", i%4) }

// startShape says how attack_start is found in a recording.
type startShape int

const (
	startNone    startShape = iota
	startBurst              // first attacker PUBLISH that begins burstProbe publishes within burstWindow
	startConnect            // first attacker CONNECT
)

func (s startShape) String() string {
	return [...]string{"none", "burst", "connect"}[s]
}

// A burst begins where burstProbe attacker publishes fit in burstWindow:
// never true at 1 msg/s, always at the slowest drawn flood (800 msg/s).
const (
	burstProbe  = 100
	burstWindow = 250 * time.Millisecond
)

// attackStart finds the packet time the attack begins.
func (s scenario) attackStart(c *capture) (time.Time, bool) {
	att := map[string]bool{}
	for _, a := range s.attackers {
		att[a] = true
	}
	var pubs []time.Time
	for _, p := range c.packets {
		if !p.fromClient || !att[p.client.Addr().String()] {
			continue
		}
		switch {
		case s.start == startConnect && p.typ() == typeCONNECT:
			return p.ts, true
		case s.start == startBurst && p.typ() == typePUBLISH:
			pubs = append(pubs, p.ts)
		}
	}
	for i := 0; i+burstProbe-1 < len(pubs); i++ {
		if pubs[i+burstProbe-1].Sub(pubs[i]) <= burstWindow {
			return pubs[i], true
		}
	}
	return time.Time{}, false
}

// draw hands out parameters and records them under their keys.
type draw struct {
	rng *rand.Rand
	p   map[string]int
}

// newDraw seeds one RNG per scenario, so a scenario's parameters depend on
// the seed and its name only.
func newDraw(seed uint64, name string) *draw {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &draw{rng: rand.New(rand.NewPCG(seed, h.Sum64())), p: map[string]int{}}
}

// intn draws uniformly from [lo, hi] and records it.
func (d *draw) intn(key string, lo, hi int) int {
	v := lo + d.rng.IntN(hi-lo+1)
	d.p[key] = v
	return v
}

func versionName(v int) string {
	if v == protocolV5 {
		return "v5"
	}
	return "v3.1.1"
}

const detectBudget = 30 // detect_within_s of the new attack scenarios: one rule window

func variedScenarios(seed uint64) []scenario {
	return []scenario{
		scenFloodBurstKnown(seed), scenFloodBurstNew(seed), scenFloodMalaria(seed),
		scenSlowITe(seed), scenBrokerRestart(seed), scenGateway(seed),
	}
}

func scenFloodBurstKnown(seed uint64) scenario {
	const name = "flood-burst-known"
	d := newDraw(seed, name)
	hist := d.intn("history_s", 60, 120)
	n := d.intn("burst_n", 2000, 10000)
	burst := d.intn("burst_ms", 50, 500)
	v := d.intn("version", protocolV311, protocolV5)
	after := d.intn("after_s", 10, 10)
	const at = 3
	return scenario{name: name, seed: seed, params: d.p, start: startBurst, within: detectBudget,
		duration: time.Duration(at+hist+after+3) * time.Second,
		description: fmt.Sprintf("seed %d: 127.0.0.84 (%s, client vib-sensor-12) publishes %s once a second for %d s, then %d QoS 0 PUBLISHes within %d ms (raw batched writes on the same connection), then once a second for %d s",
			seed, versionName(v), topicVibration, hist, n, burst, after),
		attackers: []string{srcBurstKnown}, expected: []string{"publish-flood"}, alsoOK: []string{catClear, "topic-scan"},
		stages: []stage{{at * time.Second, attackBurstKnown(srcBurstKnown, byte(v), hist, n, burst, after)}}}
}

func scenFloodBurstNew(seed uint64) scenario {
	const name = "flood-burst-new"
	d := newDraw(seed, name)
	n := d.intn("burst_n", 2000, 10000)
	burst := d.intn("burst_ms", 50, 500)
	v := d.intn("version", protocolV311, protocolV5)
	idle := d.intn("idle_s", 0, 8) // 0: DISCONNECT right after the burst
	const at = 5
	end := "disconnects at once"
	if idle > 0 {
		end = fmt.Sprintf("idles %d s, then disconnects", idle)
	}
	return scenario{name: name, seed: seed, params: d.p, start: startBurst, within: detectBudget,
		duration: time.Duration(at+idle+8) * time.Second,
		description: fmt.Sprintf("seed %d: new address 127.0.0.85 (%s) connects and at once publishes %d QoS 0 PUBLISHes to %s within %d ms, then %s",
			seed, versionName(v), n, topicVibration, burst, end),
		attackers: []string{srcBurstNew}, expected: []string{"publish-flood"}, alsoOK: []string{catClear, "topic-scan"},
		stages: []stage{{at * time.Second, attackBurstNew(srcBurstNew, byte(v), n, burst, idle)}}}
}

func scenFloodMalaria(seed uint64) scenario {
	const name = "flood-malaria"
	d := newDraw(seed, name)
	k := d.intn("clients", 10, 15)
	rate := d.intn("rate_per_s", 800, 1500)
	dur := d.intn("flood_ms", 3000, 6000)
	topics := d.intn("topics", 2, 5)
	const at = 4
	return scenario{name: name, seed: seed, params: d.p, start: startBurst, within: detectBudget,
		duration: time.Duration(at+dur/1000+8) * time.Second,
		description: fmt.Sprintf("seed %d: new address 127.0.0.86 opens %d v3.1.1 sessions (client ids malaria-N, like mqtt-malaria) that together publish %d QoS 0 msg/s (~%d/s each) for %d ms over %d topics plant/line4/stress/N",
			seed, k, rate, rate/k, dur, topics),
		attackers: []string{srcMalaria}, expected: []string{"publish-flood"}, alsoOK: []string{catClear, "topic-scan", "connect-storm"},
		stages: []stage{{at * time.Second, attackMalaria(srcMalaria, k, rate, time.Duration(dur)*time.Millisecond, topics)}}}
}

func scenSlowITe(seed uint64) scenario {
	const name = "slowite"
	d := newDraw(seed, name)
	n := d.intn("sessions", 200, 400)
	ka := d.intn("keepalive_s", 60, 600)
	hold := d.intn("hold_s", 15, 25)
	v := d.intn("version", protocolV311, protocolV5)
	const at = 3
	return scenario{name: name, seed: seed, params: d.p, start: startConnect, within: detectBudget,
		duration: time.Duration(at+hold+3) * time.Second,
		description: fmt.Sprintf("seed %d: SlowITe: 127.0.0.87 opens %d %s sessions (valid credentials, keep-alive %d s) as fast as the broker accepts, then sends nothing; the sessions stay open %d s after the last CONNECT and end with a FIN (no DISCONNECT) as the capture ends",
			seed, n, versionName(v), ka, hold),
		attackers: []string{srcSlowITe}, expected: []string{"idle-connection"},
		// abnormal-termination: the sessions end with a bare FIN when the
		// recording stops, as in the idle scenario.
		alsoOK: []string{catClear, "connect-storm", "abnormal-termination"},
		stages: []stage{{at * time.Second, attackSlowITe(srcSlowITe, byte(v), n, uint16(ka), time.Duration(hold)*time.Second)}}}
}

// fleetPlan is the part of benign-broker-restart drawn per client. It is
// derived from the seed, not written to the labels one by one.
type fleetPlan struct {
	period    time.Duration // between publishes, 0.5–5 s (0.2–2 msg/s)
	subscribe bool
	version   byte
}

func fleetPlans(seed uint64, n int) []fleetPlan {
	rng := rand.New(rand.NewPCG(seed, 0xf1ee7))
	out := make([]fleetPlan, n)
	for i := range out {
		mps := 200 + rng.IntN(1801) // milli-messages per second
		out[i] = fleetPlan{period: time.Second * 1000 / time.Duration(mps), subscribe: i%3 == 0, version: []byte{protocolV311, protocolV5}[i%2]}
	}
	return out
}

func scenBrokerRestart(seed uint64) scenario {
	const name = "benign-broker-restart"
	d := newDraw(seed, name)
	n := d.intn("fleet", 24, maxFleet)
	at := d.intn("restart_at_ms", 22000, 28000)
	down := d.intn("down_ms", 2000, 6000)
	plans := fleetPlans(seed, n)
	var fleet []string
	subs := 0
	for i := range n {
		fleet = append(fleet, fleetAddr(i))
		if plans[i].subscribe {
			subs++
		}
	}
	return scenario{name: name, seed: seed, params: d.p, duration: 48 * time.Second, benign: fleet,
		description: fmt.Sprintf("seed %d: no attacker. A fleet of %d clients (127.0.1.1-127.0.1.%d, v3.1.1 and v5, user fleet) publishes telemetry at 0.2-2 msg/s each; %d of them also subscribe to their site's fleet/siteN/#. At %d ms the broker is killed (SIGKILL) and restarted %d ms later; every client reconnects with exponential back-off (1 s doubling, cap 30 s, jitter x0.5-1.5) and resubscribes. The background's paho clients do not reconnect; mosquitto_sub and mosquitto_pub -l do",
			seed, n, n, subs, at, down),
		stages: []stage{
			{0, benignFleet(n, plans, 47*time.Second)},
			{time.Duration(at) * time.Millisecond, restartBroker(time.Duration(down) * time.Millisecond)},
		}}
}

func scenGateway(seed uint64) scenario {
	const name = "benign-gateway"
	d := newDraw(seed, name)
	rate := d.intn("rate_per_s", 150, 250)
	topics := d.intn("topics", 20, 60)
	dur := d.intn("publish_s", 20, 40)
	const at = 2
	return scenario{name: name, seed: seed, params: d.p, duration: time.Duration(at+dur+3) * time.Second, benign: []string{srcEdgeGateway},
		description: fmt.Sprintf("seed %d: no attacker. Gateway 127.0.2.10 (v5, client edge-gw-1, user gateway) publishes %d QoS 0 msg/s from its first second for %d s, over %d topics plant/gw/edge/devNN/telemetry that the background dashboard (plant/#) consumes",
			seed, rate, dur, topics),
		stages: []stage{{at * time.Second, benignGateway(srcEdgeGateway, rate, topics, time.Duration(dur)*time.Second)}}}
}
