package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests read the committed recordings; no broker is needed.

const (
	scenarioDir = "../../testdata/scenarios"
	demoDir     = "../../testdata/demo"
	brokerAddr  = "127.0.0.1:1883"
	brokerPort  = 1883
)

var (
	benignRange   = [2]netip.Addr{netip.MustParseAddr("127.0.0.10"), netip.MustParseAddr("127.0.0.49")}
	attackerRange = [2]netip.Addr{netip.MustParseAddr("127.0.0.66"), netip.MustParseAddr("127.0.0.99")}
	// The varied scenarios' benign ranges (varied.go): the restart fleet
	// and the gateways.
	fleetRange   = [2]netip.Addr{netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr(fleetAddr(maxFleet - 1))}
	gatewayRange = [2]netip.Addr{netip.MustParseAddr("127.0.2.10"), netip.MustParseAddr("127.0.2.19")}
)

func isBenignAddr(a string) bool {
	return inRange(a, benignRange) || inRange(a, fleetRange) || inRange(a, gatewayRange)
}

func inRange(a string, r [2]netip.Addr) bool {
	ip, err := netip.ParseAddr(a)
	return err == nil && ip.Compare(r[0]) >= 0 && ip.Compare(r[1]) <= 0
}

func readLabels(t *testing.T, path string) Labels {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l Labels
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return l
}

// wantLabels is what scengen writes for a recording: the generator's
// labels for the seed in the committed file, plus attack_start found in
// the committed pcap. Regenerating (rather than comparing all but
// attack_start) also checks that attack_start is the one the recording
// shows.
func wantLabels(t *testing.T, s scenario, c *capture) Labels {
	t.Helper()
	want := s.labels(brokerAddr)
	if s.start != startNone {
		ts, ok := s.attackStart(c)
		if !ok {
			t.Fatalf("no attack start (%v) in the recording", s.start)
		}
		want.AttackStart = ts.UTC().Format(time.RFC3339Nano)
	}
	return want
}

// checkLabels validates a labels.json on its own terms and against the
// generator, so the committed file and scengen cannot drift apart.
func checkLabels(t *testing.T, l, want Labels) {
	t.Helper()
	if !reflect.DeepEqual(l, want) {
		t.Errorf("labels.json differs from scengen's; re-run: go run ./tools/scengen -scenario %s -seed %d -labels DIR -pcap DIR/input.pcap", want.Name, want.Seed)
	}
	if l.Broker != brokerAddr {
		t.Errorf("broker %q, want %q", l.Broker, brokerAddr)
	}
	for _, c := range slices.Concat(l.Expected, l.AlsoOK, l.BenignAlsoOK) {
		if !slices.Contains(Categories, c) {
			t.Errorf("category %q not in the contract list", c)
		}
	}
	for _, c := range l.Expected {
		if slices.Contains(l.AlsoOK, c) {
			t.Errorf("category %q both expected and also_ok", c)
		}
	}
	if (len(l.Expected) == 0) != (len(l.Attackers) == 0) {
		t.Errorf("attackers %v but expected %v", l.Attackers, l.Expected)
	}
	for _, a := range l.Attackers {
		if !inRange(a, attackerRange) {
			t.Errorf("attacker %s outside 127.0.0.66-99", a)
		}
	}
	if len(l.Benign) < 4 {
		t.Errorf("only %d benign sources", len(l.Benign))
	}
	for _, a := range l.Benign {
		if !isBenignAddr(a) {
			t.Errorf("benign %s outside 127.0.0.10-49, 127.0.1.1-40 and 127.0.2.10-19", a)
		}
	}
	if l.Params != nil && (l.Seed == 0 || !strings.Contains(l.Description, fmt.Sprintf("seed %d:", l.Seed))) {
		t.Errorf("varied scenario: seed %d not in the description", l.Seed)
	}
	if (l.AttackStart != "") != (l.DetectWithinS > 0) {
		t.Errorf("attack_start %q with detect_within_s %d", l.AttackStart, l.DetectWithinS)
	}
	if !slices.Contains(l.SecretMarkers, payloadMarker) {
		t.Errorf("secret_markers lacks %s", payloadMarker)
	}
	for _, m := range l.SecretMarkers {
		if len(m) < 10 || !strings.Contains(strings.ToLower(m), "test") && m != payloadMarker {
			t.Errorf("secret marker %q is not an obviously fake test value", m)
		}
	}
}

// checkCommon: the pcap holds every labelled source, benign clients behave,
// and the benign payload marker is on the wire.
func checkCommon(t *testing.T, c *capture, l Labels) {
	t.Helper()
	if c.gaps != 0 {
		t.Errorf("%d payload bytes missing from the capture (tcpdump dropped packets)", c.gaps)
	}
	connects := map[string]int{}
	refusals := map[string]int{}
	marker := false
	for _, p := range c.packets {
		src := p.client.Addr().String()
		switch {
		case p.fromClient && p.typ() == typeCONNECT:
			connects[src]++
		case !p.fromClient && p.typ() == typeCONNACK && len(p.body) >= 2 && p.body[1] != 0:
			refusals[src]++
		case p.fromClient && p.typ() == typePUBLISH && isBenignAddr(src):
			marker = marker || bytes.Contains(p.body, []byte(payloadMarker))
		}
	}
	connacks := map[string]int{}
	for _, p := range c.packets {
		if !p.fromClient && p.typ() == typeCONNACK {
			connacks[p.client.Addr().String()]++
		}
	}
	for _, a := range l.Benign {
		if connacks[a] != connects[a] {
			t.Errorf("benign %s: %d CONNECTs, %d CONNACKs", a, connects[a], connacks[a])
		}
		if connects[a] == 0 {
			t.Errorf("benign %s never sends CONNECT", a)
		}
		if want := map[bool]int{true: 1, false: 0}[a == srcOperator]; refusals[a] != want {
			t.Errorf("benign %s refused %d times, want %d", a, refusals[a], want)
		}
	}
	attackers := map[string]bool{}
	for _, a := range l.Attackers {
		attackers[a] = true
	}
	seen := map[string]bool{}
	for _, f := range c.all {
		src := f.client.Addr().String()
		seen[src] = true
		if !attackers[src] && !slices.Contains(l.Benign, src) {
			t.Errorf("unlabelled source %s in the capture", src)
		}
	}
	for a := range attackers {
		if !seen[a] {
			t.Errorf("attacker %s absent from the capture", a)
		}
	}
	if !marker {
		t.Errorf("no benign PUBLISH carries %s", payloadMarker)
	}
}

// Helpers over a capture.

func clientPackets(c *capture, src string, typ byte) []mqttPacket {
	var out []mqttPacket
	for _, p := range c.packets {
		if p.fromClient && p.typ() == typ && p.client.Addr().String() == src {
			out = append(out, p)
		}
	}
	return out
}

func brokerPackets(c *capture, dst string, typ byte) []mqttPacket {
	var out []mqttPacket
	for _, p := range c.packets {
		if !p.fromClient && p.typ() == typ && p.client.Addr().String() == dst {
			out = append(out, p)
		}
	}
	return out
}

func flowsFrom(c *capture, src string) []*flowStat {
	var out []*flowStat
	for _, f := range c.all {
		if f.client.Addr().String() == src {
			out = append(out, f)
		}
	}
	return out
}

func connects(t *testing.T, c *capture, src string) []connectInfo {
	t.Helper()
	var out []connectInfo
	for _, p := range clientPackets(c, src, typeCONNECT) {
		ci, ok := parseConnect(p.body)
		if !ok {
			continue
		}
		out = append(out, ci)
	}
	return out
}

// refusals counts CONNACKs to dst by code.
func refusals(c *capture, dst string) map[byte]int {
	out := map[byte]int{}
	for _, p := range brokerPackets(c, dst, typeCONNACK) {
		if len(p.body) >= 2 {
			out[p.body[1]]++
		}
	}
	return out
}

func atLeast(t *testing.T, what string, got, want int) {
	t.Helper()
	if got < want {
		t.Errorf("%s: %d, want at least %d", what, got, want)
	}
}

func distinct[T comparable](xs []T) int {
	m := map[T]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return len(m)
}

func checkGuessing(t *testing.T, c *capture, src string, min int) {
	t.Helper()
	r := refusals(c, src)
	atLeast(t, src+" CONNACK 5 (v3.1.1)", r[connackRefused5], min/2)
	atLeast(t, src+" CONNACK 0x87 (v5)", r[reasonBadAuth], min/2)
	if r[0] != 0 {
		t.Errorf("%s: %d guesses accepted", src, r[0])
	}
	if n := len(clientPackets(c, src, typeCONNECT)); r[connackRefused5]+r[reasonBadAuth] != n {
		t.Errorf("%s: %d guesses, %d refusals: some went unanswered", src, n, r[connackRefused5]+r[reasonBadAuth])
	}
	for _, ci := range connects(t, c, src) {
		if ci.username != accAdmin.user {
			t.Errorf("%s: guess for user %q, want admin only", src, ci.username)
		}
	}
}

// perScenario checks that the packets show what the labels claim.
var perScenario = map[string]func(t *testing.T, c *capture, l Labels){
	"benign": func(t *testing.T, c *capture, l Labels) {
		span := c.all[len(c.all)-1].end.Sub(c.all[0].start)
		if span < 25*time.Second {
			t.Errorf("benign capture spans %v, want ~30 s", span)
		}
	},
	"bruteforce": func(t *testing.T, c *capture, l Labels) {
		checkGuessing(t, c, srcBrute, 60)
		vs := map[byte]int{}
		for _, ci := range connects(t, c, srcBrute) {
			vs[ci.version]++
		}
		atLeast(t, "v3.1.1 guesses", vs[protocolV311], 30)
		atLeast(t, "v5 guesses", vs[protocolV5], 30)
	},
	"spraying": func(t *testing.T, c *capture, l Labels) {
		var users []string
		for _, ci := range connects(t, c, srcSpray) {
			users = append(users, ci.username)
			if ci.password != sprayPassword {
				t.Errorf("spray for %s with another password", ci.username)
			}
		}
		atLeast(t, "distinct usernames", distinct(users), 35)
		r := refusals(c, srcSpray)
		atLeast(t, "refusals", r[connackRefused5]+r[reasonBadAuth], 35)
		if r[0] != 0 {
			t.Errorf("%d sprays accepted", r[0])
		}
	},
	"connect-storm": func(t *testing.T, c *capture, l Labels) {
		var ids []string
		cs := clientPackets(c, srcStorm, typeCONNECT)
		for _, ci := range connects(t, c, srcStorm) {
			ids = append(ids, ci.clientID)
		}
		atLeast(t, "storm connects", len(cs), 150)
		atLeast(t, "storm client ids", distinct(ids), 150)
		if len(cs) > 1 {
			rate := float64(len(cs)-1) / cs[len(cs)-1].ts.Sub(cs[0].ts).Seconds()
			atLeast(t, "storm connects per second", int(rate), 10)
		}
		var same []string
		for _, ci := range connects(t, c, srcStormID) {
			same = append(same, ci.clientID)
		}
		atLeast(t, "plc-7 reconnects", len(same), 50)
		if distinct(same) != 1 {
			t.Errorf("%s used %d client ids, want 1", srcStormID, distinct(same))
		}
	},
	"clientid-flapping": func(t *testing.T, c *capture, l Labels) {
		var seq []string
		for _, p := range c.packets {
			if p.fromClient && p.typ() == typeCONNECT {
				if ci, ok := parseConnect(p.body); ok && ci.clientID == "pump-ctrl-3" {
					seq = append(seq, p.client.Addr().String())
				}
			}
		}
		atLeast(t, "pump-ctrl-3 connects", len(seq), 30)
		switches := 0
		for i := 1; i < len(seq); i++ {
			if seq[i] != seq[i-1] {
				switches++
			}
		}
		atLeast(t, "source switches", switches, 25)
		// Taken-over sessions end without the client's DISCONNECT.
		disc := len(clientPackets(c, srcFlapA, typeDISCONNECT)) + len(clientPackets(c, srcFlapB, typeDISCONNECT))
		if disc > 1 {
			t.Errorf("%d DISCONNECTs from the flapping clients, want at most 1", disc)
		}
	},
	"subscribe-scan": func(t *testing.T, c *capture, l Labels) {
		for src, n := range map[string]int{srcSubScan5: 90, srcSubScan3: 70} {
			var fs []string
			for _, p := range clientPackets(c, src, typeSUBSCRIBE) {
				fs = append(fs, subscribeFilters(p.body, p.version)...)
			}
			atLeast(t, src+" distinct filters", distinct(fs), n)
			for _, w := range []string{"#", "$SYS/#"} {
				if !slices.Contains(fs, w) {
					t.Errorf("%s never subscribes %s", src, w)
				}
			}
			atLeast(t, src+" SUBACKs", len(brokerPackets(c, src, typeSUBACK)), n)
		}
	},
	"publish-scan-v3": func(t *testing.T, c *capture, l Labels) {
		var topics []string
		for _, p := range clientPackets(c, srcPubScan3, typePUBLISH) {
			if p.version != protocolV311 {
				t.Fatalf("publish on a v%d connection", p.version)
			}
			topic := publishTopic(p.body)
			if strings.HasPrefix(topic, "plant/") {
				t.Errorf("scan topic %s has a subscriber", topic)
			}
			topics = append(topics, topic)
		}
		atLeast(t, "distinct topics", distinct(topics), 140)
		atLeast(t, "v3.1.1 PUBACKs", len(brokerPackets(c, srcPubScan3, typePUBACK)), 25)
	},
	"publish-scan-v5": func(t *testing.T, c *capture, l Labels) {
		var topics []string
		for _, p := range clientPackets(c, srcPubScan5, typePUBLISH) {
			topics = append(topics, publishTopic(p.body))
		}
		atLeast(t, "distinct topics", distinct(topics), 140)
		noSubs := 0
		for _, p := range brokerPackets(c, srcPubScan5, typePUBACK) {
			if p.version == protocolV5 && pubackReason(p.body) == reasonNoSubs {
				noSubs++
			}
		}
		atLeast(t, "PUBACK 0x10", noSubs, 140)
	},
	"idle": func(t *testing.T, c *capture, l Labels) {
		silent := 0
		for _, f := range flowsFrom(c, srcSilent) {
			if f.clientBytes == 0 && f.end.Sub(f.start) >= 30*time.Second {
				silent++
			}
		}
		atLeast(t, "silent connections held 30 s", silent, 10)
		for _, p := range c.packets {
			if p.fromClient && p.client.Addr().String() == srcPinger {
				switch p.typ() {
				case typeCONNECT, typePINGREQ, typeDISCONNECT:
				default:
					t.Errorf("pinger sent packet type %d", p.typ())
				}
			}
		}
		atLeast(t, "PINGREQs", len(clientPackets(c, srcPinger, typePINGREQ)), 20)
		for _, f := range flowsFrom(c, srcPinger) {
			if f.end.Sub(f.start) < 30*time.Second {
				t.Errorf("pinger connection lasted %v", f.end.Sub(f.start))
			}
		}
	},
	"publish-flood": func(t *testing.T, c *capture, l Labels) {
		ps := clientPackets(c, srcFlood, typePUBLISH)
		if len(ps) == 0 {
			t.Fatal("no publishes")
		}
		perSec := map[int64]int{}
		for _, p := range ps {
			perSec[p.ts.Unix()]++
		}
		var rates []int
		for _, n := range perSec {
			rates = append(rates, n)
		}
		slices.Sort(rates)
		median, peak := rates[len(rates)/2], rates[len(rates)-1]
		if median > 3 || peak < 100*median {
			t.Errorf("publish rate median %d/s, peak %d/s: want a jump of 100x over ~1/s", median, peak)
		}
	},
	"malformed": func(t *testing.T, c *capture, l Labels) {
		atLeast(t, "connections", len(flowsFrom(c, srcMalform)), 28)
		firsts := map[byte]bool{}
		for _, p := range c.packets {
			if p.fromClient && p.client.Addr().String() == srcMalform {
				firsts[p.first] = true
			}
		}
		for _, b := range []byte{0x00, 0xf0, 0x36, 0x80, 0xc3, 0x12} {
			if !firsts[b] {
				t.Errorf("no packet with first byte %#02x", b)
			}
		}
		bad := 0
		for _, f := range flowsFrom(c, srcMalform) {
			if f.badFraming {
				bad++
			}
		}
		atLeast(t, "connections with a 5-byte remaining length", bad, 2)
		names := map[string]bool{}
		for _, ci := range connects(t, c, srcMalform) {
			names[ci.protoName] = true
		}
		if !names["MQTX"] {
			t.Error("no CONNECT with protocol name MQTX")
		}
	},
	"rst": func(t *testing.T, c *capture, l Labels) {
		reset := 0
		for _, f := range flowsFrom(c, srcRST) {
			if f.rstFromClient {
				reset++
			}
		}
		atLeast(t, "connections reset by the client", reset, 60)
		if n := len(clientPackets(c, srcRST, typeDISCONNECT)); n != 0 {
			t.Errorf("%d DISCONNECTs, want none", n)
		}
	},
	"cleartext": func(t *testing.T, c *capture, l Labels) {
		vs := map[byte]int{}
		for _, ci := range connects(t, c, srcClear) {
			if ci.username == "" || ci.password == "" {
				t.Error("CONNECT without credentials")
			}
			vs[ci.version]++
		}
		atLeast(t, "v3.1.1 logins", vs[protocolV311], 3)
		atLeast(t, "v5 logins", vs[protocolV5], 3)
	},
	"lowslow-bruteforce": func(t *testing.T, c *capture, l Labels) {
		if !l.TimeDilated {
			t.Error("labels do not say time_dilated")
		}
		checkGuessing(t, c, srcLowSlow, 1000)
		cs := clientPackets(c, srcLowSlow, typeCONNECT)
		var gaps []time.Duration
		for i := 1; i < len(cs); i++ {
			gaps = append(gaps, cs[i].ts.Sub(cs[i-1].ts))
		}
		slices.Sort(gaps)
		if len(gaps) < 1000 {
			t.Fatalf("%d gaps between guesses, want ≥ 1000", len(gaps))
		}
		if gaps[0] < 900*time.Millisecond || gaps[len(gaps)-1] > 2100*time.Millisecond {
			t.Errorf("gaps between guesses from %v to %v, want 1-2 s", gaps[0], gaps[len(gaps)-1])
		}
		if span := cs[len(cs)-1].ts.Sub(cs[0].ts); span < 25*time.Minute {
			t.Errorf("guesses span %v, want ~30 min", span)
		}
		// Benign clients keep their pace: telemetry stays sub-second apart
		// inside each session.
		for _, src := range []string{srcSensor1, srcSensor3} {
			last := map[netip.AddrPort]time.Time{}
			for _, p := range clientPackets(c, src, typePUBLISH) {
				if prev, ok := last[p.client]; ok && p.ts.Sub(prev) > 1500*time.Millisecond {
					t.Errorf("%s publishes %v apart inside a session", src, p.ts.Sub(prev))
					break
				}
				last[p.client] = p.ts
			}
		}
	},
}

func TestScenarioFolders(t *testing.T) {
	entries, err := os.ReadDir(scenarioDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	var names []string
	for _, s := range scenarios(0) {
		names = append(names, s.name)
		if _, ok := perScenario[s.name]; !ok {
			t.Errorf("scenario %s has no packet-level check", s.name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(dirs, names) {
		t.Fatalf("folders %v, scenarios %v", dirs, names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(scenarioDir, name)
			pcap := filepath.Join(dir, "input.pcap")
			st, err := os.Stat(pcap)
			if err != nil {
				t.Fatal(err)
			}
			l := readLabels(t, filepath.Join(dir, "labels.json"))
			if l.Name != name {
				t.Errorf("labels name %q in folder %s", l.Name, name)
			}
			s, _ := findScenario(name, l.Seed)
			if limit := int64(maxPcap(s)); st.Size() > limit {
				t.Errorf("input.pcap is %d bytes, limit %d", st.Size(), limit)
			}
			c, err := scanCapture(pcap, brokerPort)
			if err != nil {
				t.Fatal(err)
			}
			checkLabels(t, l, wantLabels(t, s, c))
			checkCommon(t, c, l)
			perScenario[name](t, c, l)
		})
	}
}

func TestDemo(t *testing.T) {
	pcap := filepath.Join(demoDir, "demo.pcap")
	st, err := os.Stat(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 3<<20 {
		t.Errorf("demo.pcap is %d bytes, limit 3 MiB", st.Size())
	}
	l := readLabels(t, filepath.Join(demoDir, "labels.json"))
	c, err := scanCapture(pcap, brokerPort)
	if err != nil {
		t.Fatal(err)
	}
	checkLabels(t, l, wantLabels(t, demo(), c))
	checkCommon(t, c, l)
	if span := c.all[len(c.all)-1].end.Sub(c.all[0].start); span < 50*time.Second {
		t.Errorf("demo spans %v, want ~57 s", span)
	}
	r := refusals(c, srcDemoBrute)
	atLeast(t, "brute-force refusals", r[connackRefused5]+r[reasonBadAuth], 40)
	atLeast(t, "storm connects", len(clientPackets(c, srcDemoStorm, typeCONNECT)), 100)
	atLeast(t, "malformed connections", len(flowsFrom(c, srcDemoMalform)), 14)
	atLeast(t, "scan SUBSCRIBEs", len(clientPackets(c, srcDemoSubScan, typeSUBSCRIBE)), 80)
	noSubs := 0
	for _, p := range brokerPackets(c, srcDemoPubScan, typePUBACK) {
		if pubackReason(p.body) == reasonNoSubs {
			noSubs++
		}
	}
	atLeast(t, "PUBACK 0x10", noSubs, 90)
	atLeast(t, "v3.1.1 scan publishes", len(clientPackets(c, srcDemoPubV3, typePUBLISH)), 70)
}

// TestStretch dilates a committed recording and checks the contract of
// -stretch: same frames, attacker connections 1–2 s apart, the spacing
// inside every connection unchanged.
func TestStretch(t *testing.T) {
	in := filepath.Join(scenarioDir, "bruteforce", "input.pcap")
	if _, err := os.Stat(in); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stretched.pcap")
	if err := stretch(in, out, stretchOpts{brokerPort: brokerPort, attackers: []string{srcBrute}}); err != nil {
		t.Fatal(err)
	}
	before, _, _, err := readPcap(in)
	if err != nil {
		t.Fatal(err)
	}
	after, _, _, err := readPcap(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != len(after) {
		t.Fatalf("%d frames in, %d out", len(before), len(after))
	}
	key := func(fs []pcapFrame) []string {
		var k []string
		for _, f := range fs {
			k = append(k, string(f.data))
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(key(before), key(after)) {
		t.Fatal("stretch changed frame bytes")
	}
	for i := 1; i < len(after); i++ {
		if after[i].ci.Timestamp.Before(after[i-1].ci.Timestamp) {
			t.Fatalf("frame %d goes back in time", i)
		}
	}
	cb, err := scanCapture(in, brokerPort)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := scanCapture(out, brokerPort)
	if err != nil {
		t.Fatal(err)
	}
	if len(cb.all) != len(ca.all) {
		t.Fatalf("%d connections in, %d out", len(cb.all), len(ca.all))
	}
	durations := func(c *capture) map[string]time.Duration {
		m := map[string]time.Duration{}
		for _, f := range c.all {
			m[f.client.String()] = f.end.Sub(f.start)
		}
		return m
	}
	if db, da := durations(cb), durations(ca); !reflect.DeepEqual(db, da) {
		t.Error("connection durations changed")
	}
	var starts []time.Time
	for _, f := range ca.all {
		if f.client.Addr().String() == srcBrute {
			starts = append(starts, f.start)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	for i := 1; i < len(starts); i++ {
		if g := starts[i].Sub(starts[i-1]); g < time.Second || g > 2*time.Second {
			t.Fatalf("attacker connections %d and %d are %v apart", i-1, i, g)
		}
	}
}

func TestWireRoundTrip(t *testing.T) {
	tests := []connectOpts{
		{clientID: "c1"},
		{clientID: "c2", username: "u", password: "s3cret-test"},
		{version: protocolV5, clientID: "c3", username: "u", password: "p-test", props: []byte{0x11, 0, 0, 0, 10}},
		{protoName: "MQTX", clientID: strings.Repeat("x", 300)},
	}
	for _, o := range tests {
		b := connectPacket(o)
		n, size, ok := remainingLength(b[1:])
		if !ok || 1+size+n != len(b) || b[0] != typeCONNECT<<4 {
			t.Fatalf("%+v: bad framing % x", o, b[:min(8, len(b))])
		}
		ci, ok := parseConnect(b[1+size:])
		if !ok {
			t.Fatalf("%+v: does not parse", o)
		}
		wantV := o.version
		if wantV == 0 {
			wantV = protocolV311
		}
		if ci.version != wantV || ci.clientID != o.clientID || ci.username != o.username || ci.password != o.password {
			t.Errorf("%+v: parsed %+v", o, ci)
		}
	}
	for _, n := range []int{0, 127, 128, 16383, 16384, 268435455} {
		b := appendVBI(nil, n)
		got, size, ok := remainingLength(b)
		if !ok || got != n || size != len(b) {
			t.Errorf("VBI %d: got %d size %d ok %v", n, got, size, ok)
		}
	}
	if _, size, ok := remainingLength([]byte{0xff, 0xff, 0xff, 0xff, 0x01}); ok || size != -1 {
		t.Error("5-byte remaining length accepted")
	}
	sub := subscribePacket(protocolV5, 7, "#", "$SYS/#")
	if got := subscribeFilters(sub[2:], protocolV5); !slices.Equal(got, []string{"#", "$SYS/#"}) {
		t.Errorf("subscribe filters %v", got)
	}
}
