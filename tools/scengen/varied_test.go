package main

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Checks of the varied scenarios. Every bound comes from the labels'
// params, so the checks hold for any seed.

func maxPcap(s scenario) int {
	if s.params != nil {
		return 6_000_000
	}
	return 2 << 20
}

func init() {
	perScenario["flood-burst-known"] = checkBurstKnown
	perScenario["flood-burst-new"] = checkBurstNew
	perScenario["flood-malaria"] = checkMalaria
	perScenario["slowite"] = checkSlowITe
	perScenario["benign-broker-restart"] = checkBrokerRestart
	perScenario["benign-gateway"] = checkGateway
}

func param(t *testing.T, l Labels, key string) int {
	t.Helper()
	v, ok := l.Params[key]
	if !ok {
		t.Fatalf("labels lack params.%s", key)
	}
	return v
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func attackStartOf(t *testing.T, l Labels) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, l.AttackStart)
	if err != nil {
		t.Fatalf("attack_start %q: %v", l.AttackStart, err)
	}
	return ts
}

// burstSlack: the burst is written in burstChunks writes, the last at 0.9 of
// burst_ms; a loaded machine may deliver it a little late.
const burstSlack = 250 * time.Millisecond

// checkBurst: exactly burst_n publishes from src in [start, start+burst_ms+slack],
// spread over most of burst_ms (not one write), on a connection of the labelled version.
func checkBurst(t *testing.T, c *capture, l Labels, src string) (before, burst, after []mqttPacket) {
	t.Helper()
	start := attackStartOf(t, l)
	n, d := param(t, l, "burst_n"), ms(param(t, l, "burst_ms"))
	for _, p := range clientPackets(c, src, typePUBLISH) {
		switch {
		case p.ts.Before(start):
			before = append(before, p)
		case !p.ts.After(start.Add(d + burstSlack)):
			burst = append(burst, p)
		default:
			after = append(after, p)
		}
		if p.version != byte(param(t, l, "version")) {
			t.Fatalf("publish on a v%d connection, labels say %d", p.version, param(t, l, "version"))
		}
		if p.first&0x06 != 0 {
			t.Fatalf("publish with QoS %d", p.first>>1&3)
		}
	}
	if len(burst) != n {
		t.Fatalf("%d publishes within %v of attack_start, want burst_n %d", len(burst), d+burstSlack, n)
	}
	if span := burst[n-1].ts.Sub(burst[0].ts); span < d*8/10 {
		t.Errorf("burst spans %v, want most of burst_ms %v", span, d)
	}
	// mosquitto accepted the burst: no broker DISCONNECT, and the dashboard
	// (plant/#) got the messages.
	if n := len(brokerPackets(c, src, typeDISCONNECT)); n != 0 {
		t.Errorf("broker sent %d DISCONNECTs", n)
	}
	got := 0
	for _, p := range brokerPackets(c, srcDashboard, typePUBLISH) {
		if publishTopic(p.body) == topicVibration && !p.ts.Before(start) {
			got++
		}
	}
	atLeast(t, "burst publishes delivered to the dashboard", got, n*9/10)
	return before, burst, after
}

// spacedAtLeast: consecutive packets at least gap apart.
func spacedAtLeast(t *testing.T, what string, ps []mqttPacket, gap time.Duration) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		if d := ps[i].ts.Sub(ps[i-1].ts); d < gap {
			t.Errorf("%s: publishes %d and %d only %v apart", what, i-1, i, d)
			return
		}
	}
}

func checkBurstKnown(t *testing.T, c *capture, l Labels) {
	if fs := flowsFrom(c, srcBurstKnown); len(fs) != 1 {
		t.Fatalf("%d connections, want one for history, burst and after", len(fs))
	}
	before, _, after := checkBurst(t, c, l, srcBurstKnown)
	hist, afterS := param(t, l, "history_s"), param(t, l, "after_s")
	atLeast(t, "history publishes", len(before), hist-3)
	if len(before) > 0 {
		if span := attackStartOf(t, l).Sub(before[0].ts); span < time.Duration(hist-2)*time.Second {
			t.Errorf("history spans %v, want ~history_s %d s", span, hist)
		}
	}
	spacedAtLeast(t, "history", before, 800*time.Millisecond)
	atLeast(t, "publishes after the burst", len(after), afterS-2)
	spacedAtLeast(t, "after the burst", after, 800*time.Millisecond)
	if n := len(clientPackets(c, srcBurstKnown, typeDISCONNECT)); n != 1 {
		t.Errorf("%d DISCONNECTs, want the one at the end", n)
	}
}

func checkBurstNew(t *testing.T, c *capture, l Labels) {
	fs := flowsFrom(c, srcBurstNew)
	if len(fs) != 1 {
		t.Fatalf("%d connections, want 1", len(fs))
	}
	before, burst, after := checkBurst(t, c, l, srcBurstNew)
	if len(before)+len(after) != 0 {
		t.Errorf("%d publishes outside the burst", len(before)+len(after))
	}
	if d := burst[0].ts.Sub(fs[0].start); d > time.Second {
		t.Errorf("burst starts %v after the connection opens, want at once", d)
	}
	ds := clientPackets(c, srcBurstNew, typeDISCONNECT)
	if len(ds) != 1 {
		t.Fatalf("%d DISCONNECTs, want 1", len(ds))
	}
	idle := time.Duration(param(t, l, "idle_s")) * time.Second
	if gap := ds[0].ts.Sub(burst[len(burst)-1].ts); gap < idle-100*time.Millisecond || gap > idle+2*time.Second {
		t.Errorf("DISCONNECT %v after the burst, want idle_s %v", gap, idle)
	}
}

func checkMalaria(t *testing.T, c *capture, l Labels) {
	k, rate, d, topics := param(t, l, "clients"), param(t, l, "rate_per_s"), ms(param(t, l, "flood_ms")), param(t, l, "topics")
	var ids []string
	for _, ci := range connects(t, c, srcMalaria) {
		ids = append(ids, ci.clientID)
	}
	if len(ids) != k || distinct(ids) != k {
		t.Errorf("%d CONNECTs with %d client ids, want clients %d", len(ids), distinct(ids), k)
	}
	if r := refusals(c, srcMalaria); r[0] != k {
		t.Errorf("%d sessions accepted, want %d", r[0], k)
	}
	ps := clientPackets(c, srcMalaria, typePUBLISH)
	want := float64(rate) * d.Seconds()
	if got := float64(len(ps)); got < 0.85*want || got > 1.1*want {
		t.Fatalf("%d publishes, want ~%.0f (rate_per_s x flood_ms)", len(ps), want)
	}
	span := ps[len(ps)-1].ts.Sub(ps[0].ts)
	if span < d*9/10 || span > d+time.Second {
		t.Errorf("flood spans %v, want flood_ms %v", span, d)
	}
	per := map[netip.AddrPort]int{}
	var ts []string
	for _, p := range ps {
		per[p.client]++
		ts = append(ts, publishTopic(p.body))
	}
	if distinct(ts) != topics {
		t.Errorf("%d topics, want %d", distinct(ts), topics)
	}
	// Each client id alone stays modest: its share, not the aggregate.
	for cl, n := range per {
		if r := float64(n) / d.Seconds(); r > 1.5*float64(rate)/float64(k) {
			t.Errorf("%v publishes %.0f/s, over 1.5x its share %d/s", cl, r, rate/k)
		}
	}
	if len(per) != k {
		t.Errorf("%d connections publish, want %d", len(per), k)
	}
}

func checkSlowITe(t *testing.T, c *capture, l Labels) {
	n, ka, hold, v := param(t, l, "sessions"), param(t, l, "keepalive_s"), param(t, l, "hold_s"), param(t, l, "version")
	cs := clientPackets(c, srcSlowITe, typeCONNECT)
	if len(cs) != n {
		t.Fatalf("%d CONNECTs, want sessions %d", len(cs), n)
	}
	for _, ci := range connects(t, c, srcSlowITe) {
		if ci.keepAlive != uint16(ka) || ci.version != byte(v) || ci.username == "" {
			t.Fatalf("CONNECT keep-alive %d version %d user %q, want %d, %d, a login", ci.keepAlive, ci.version, ci.username, ka, v)
		}
	}
	if r := refusals(c, srcSlowITe); r[0] != n {
		t.Errorf("%d sessions accepted, want %d", r[0], n)
	}
	// Nothing but the CONNECT, ever.
	for _, p := range c.packets {
		if p.fromClient && p.client.Addr().String() == srcSlowITe && p.typ() != typeCONNECT {
			t.Fatalf("attacker sent packet type %d", p.typ())
		}
	}
	if span := cs[n-1].ts.Sub(cs[0].ts); float64(n)/max(span.Seconds(), 0.001) < 30 {
		t.Errorf("%d sessions opened over %v: not as fast as the broker accepts", n, span)
	}
	last := cs[n-1].ts
	var end time.Time
	for _, f := range c.all {
		if f.end.After(end) {
			end = f.end
		}
	}
	h := time.Duration(hold) * time.Second
	if tail := end.Sub(last); tail < h || tail > h+6*time.Second {
		t.Errorf("capture ends %v after the last CONNECT, want hold_s %v", tail, h)
	}
	fs := flowsFrom(c, srcSlowITe)
	if len(fs) != n {
		t.Errorf("%d connections, want %d", len(fs), n)
	}
	for _, f := range fs {
		if f.end.Sub(last) < h-time.Second {
			t.Errorf("session %v ended %v after the last CONNECT, before hold_s", f.client, f.end.Sub(last))
			break
		}
	}
}

// fleetOf lists the benign-broker-restart fleet from the labels.
func fleetOf(l Labels) []string {
	var out []string
	for _, a := range l.Benign {
		if inRange(a, fleetRange) {
			out = append(out, a)
		}
	}
	return out
}

func checkBrokerRestart(t *testing.T, c *capture, l Labels) {
	n, at, down := param(t, l, "fleet"), ms(param(t, l, "restart_at_ms")), ms(param(t, l, "down_ms"))
	fleet := fleetOf(l)
	if len(fleet) != n {
		t.Fatalf("%d fleet addresses in benign, want fleet %d", len(fleet), n)
	}
	// The outage: the longest silence of the broker.
	var gapStart, gapEnd time.Time
	var prev time.Time
	for _, p := range c.packets {
		if p.fromClient {
			continue
		}
		if !prev.IsZero() && p.ts.Sub(prev) > gapEnd.Sub(gapStart) {
			gapStart, gapEnd = prev, p.ts
		}
		prev = p.ts
	}
	gap := gapEnd.Sub(gapStart)
	if gap < down-50*time.Millisecond || gap > down+6*time.Second {
		t.Fatalf("longest broker silence %v, want down_ms %v (+ reconnect time)", gap, down)
	}
	first := c.all[0].start
	if off := gapStart.Sub(first); off < at-1500*time.Millisecond || off > at+time.Second {
		t.Errorf("broker silent from %v into the capture, want restart_at_ms %v", off, at)
	}
	plans := fleetPlans(l.Seed, n)
	for i, src := range fleet {
		var okBefore, okAfter int
		for _, p := range brokerPackets(c, src, typeCONNACK) {
			if len(p.body) >= 2 && p.body[1] == 0 {
				if p.ts.Before(gapStart) {
					okBefore++
				} else {
					okAfter++
				}
			}
		}
		if okBefore == 0 || okAfter == 0 {
			t.Errorf("%s: %d sessions before the restart, %d after; want both", src, okBefore, okAfter)
			continue
		}
		if plans[i].subscribe {
			var subAfter int
			for _, p := range clientPackets(c, src, typeSUBSCRIBE) {
				if slices.Contains(subscribeFilters(p.body, p.version), fleetFilter(i)) && p.ts.After(gapStart) {
					subAfter++
				}
			}
			if subAfter == 0 {
				t.Errorf("%s: no SUBSCRIBE %s after the restart", src, fleetFilter(i))
			}
		}
		checkBackoff(t, c, src, gapStart)
		ps := clientPackets(c, src, typePUBLISH)
		if len(ps) < 2 {
			t.Errorf("%s: %d publishes", src, len(ps))
			continue
		}
		active := ps[len(ps)-1].ts.Sub(ps[0].ts) - gap
		if r := float64(len(ps)-1) / active.Seconds(); r < 0.15 || r > 2.5 {
			t.Errorf("%s publishes %.2f msg/s, want 0.2-2", src, r)
		}
	}
}

// checkBackoff: after the kill, src's connection attempts are refused
// (no MQTT bytes) until one succeeds, and the waits between them follow
// the back-off: attempt k waits 2^k s x [0.5, 1.5), capped at 30 s.
func checkBackoff(t *testing.T, c *capture, src string, kill time.Time) {
	t.Helper()
	var starts []time.Time
	refused := 0
	for _, f := range flowsFrom(c, src) {
		if f.start.Before(kill) {
			continue
		}
		starts = append(starts, f.start)
		if f.clientBytes != 0 {
			break // the successful reconnect
		}
		refused++
	}
	if refused == 0 {
		t.Errorf("%s: no refused attempt while the broker was down", src)
		return
	}
	prev := kill
	for k, s := range starts {
		base := time.Duration(math.Min(math.Pow(2, float64(k)), 30)) * time.Second
		lo, hi := base/2-300*time.Millisecond, base*3/2+500*time.Millisecond
		if w := s.Sub(prev); w < lo || w > hi {
			t.Errorf("%s: attempt %d waited %v, want %v-%v", src, k, w, base/2, base*3/2)
			return
		}
		prev = s
	}
}

func checkGateway(t *testing.T, c *capture, l Labels) {
	rate, topics, d := param(t, l, "rate_per_s"), param(t, l, "topics"), time.Duration(param(t, l, "publish_s"))*time.Second
	fs := flowsFrom(c, srcEdgeGateway)
	if len(fs) != 1 {
		t.Fatalf("%d gateway connections, want 1", len(fs))
	}
	ps := clientPackets(c, srcEdgeGateway, typePUBLISH)
	ca := brokerPackets(c, srcEdgeGateway, typeCONNACK)
	if len(ca) != 1 || len(ps) == 0 {
		t.Fatalf("%d CONNACKs, %d publishes", len(ca), len(ps))
	}
	if g := ps[0].ts.Sub(ca[0].ts); g > time.Second {
		t.Errorf("first publish %v after CONNACK, want within its first second", g)
	}
	want := float64(rate) * d.Seconds()
	if got := float64(len(ps)); got < 0.95*want || got > 1.02*want {
		t.Errorf("%d publishes, want %.0f (rate_per_s x publish_s)", len(ps), want)
	}
	// Every whole second runs at the rate, the first one included.
	perSec := map[int]int{}
	for _, p := range ps {
		perSec[int(p.ts.Sub(ps[0].ts)/time.Second)]++
	}
	for s := 0; s < int(d/time.Second)-1; s++ {
		if n := perSec[s]; n < rate*8/10 || n > rate*12/10 {
			t.Errorf("second %d: %d publishes, want ~%d", s, n, rate)
		}
	}
	var ts []string
	for _, p := range ps {
		if p.first&0x06 != 0 {
			t.Fatal("gateway publish with QoS > 0")
		}
		ts = append(ts, publishTopic(p.body))
	}
	if distinct(ts) != topics {
		t.Errorf("%d topics, want %d", distinct(ts), topics)
	}
	got := 0
	for _, p := range brokerPackets(c, srcDashboard, typePUBLISH) {
		if strings.HasPrefix(publishTopic(p.body), "plant/gw/edge/") {
			got++
		}
	}
	atLeast(t, "gateway publishes the dashboard consumed", got, len(ps)*9/10)
}
