package main

import (
	"context"
	"fmt"
	"maps"
	"mqttids/internal/eval"
	"slices"
	"sync"
	"time"
)

// Categories is the category list (docs/alerts.md).
var Categories = []string{
	"auth-bruteforce", "connect-storm", "clientid-takeover", "topic-scan",
	"undeliverable-publish", "idle-connection", "publish-flood", "malformed-packet",
	"abnormal-termination", "unexpected-source", "cleartext-credentials",
}

// Labels is labels.json, what the evaluator (internal/eval) reads beside
// each input.pcap.
type Labels = eval.Labels

// stage is one attack started at a delay after the background.
type stage struct {
	at  time.Duration
	run func(context.Context, *env) error
}

type scenario struct {
	name        string
	description string
	duration    time.Duration // of the background traffic; the attack ends before it
	attackers   []string
	expected    []string
	alsoOK      []string
	session     bool // background in short sessions (needed by -stretch)
	stretch     bool // record.sh post-processes with -stretch
	stages      []stage

	// Varied scenarios (varied.go) draw their parameters from seed.
	seed   uint64
	params map[string]int
	start  startShape // how attack_start is found in the recording
	within int        // detect_within_s
	benign []string   // benign sources beyond the background's
}

// Attacker addresses (127.0.0.66–127.0.0.99), one set per scenario.
const (
	srcBrute    = "127.0.0.66"
	srcSpray    = "127.0.0.67"
	srcStorm    = "127.0.0.68"
	srcStormID  = "127.0.0.69"
	srcFlapA    = "127.0.0.70"
	srcFlapB    = "127.0.0.71"
	srcSubScan5 = "127.0.0.72"
	srcSubScan3 = "127.0.0.73"
	srcPubScan3 = "127.0.0.74"
	srcPubScan5 = "127.0.0.75"
	srcSilent   = "127.0.0.76"
	srcPinger   = "127.0.0.77"
	srcFlood    = "127.0.0.78"
	srcMalform  = "127.0.0.79"
	srcRST      = "127.0.0.80"
	srcClear    = "127.0.0.81"
	srcLowSlow  = "127.0.0.83"

	srcDemoBrute   = "127.0.0.90"
	srcDemoSubScan = "127.0.0.91"
	srcDemoStorm   = "127.0.0.92"
	srcDemoMalform = "127.0.0.93"
	srcDemoPubScan = "127.0.0.94"
	srcDemoPubV3   = "127.0.0.95"
)

const catClear = "cleartext-credentials"

// scenarios lists every scenario; seed draws the parameters of the varied
// ones (the fixed ones ignore it).
func scenarios(seed uint64) []scenario {
	return append(fixedScenarios(), variedScenarios(seed)...)
}

func fixedScenarios() []scenario {
	return []scenario{
		{name: "benign", duration: 30 * time.Second,
			description: "background only: three sensors (v5, v3.1.1 mosquitto_pub, v5 QoS 1), a v5 dashboard on plant/#, a v3.1.1 mosquitto_sub historian, a gateway that reconnects once, an operator who mistypes the password once"},
		{name: "bruteforce", duration: 22 * time.Second,
			description: "127.0.0.66 tries 80 wrong passwords for user admin at ~6/s, alternating mosquitto_pub (v3.1.1, CONNACK 5) and paho (v5, CONNACK 0x87)",
			attackers:   []string{srcBrute}, expected: []string{"auth-bruteforce"}, alsoOK: []string{catClear, "connect-storm"},
			stages: []stage{{3 * time.Second, attackBruteforce(srcBrute, 80, 150*time.Millisecond, bruteforcePrefix, toolMosqPub, toolPaho5)}}},
		{name: "spraying", duration: 20 * time.Second,
			description: "127.0.0.67 tries one password over 40 usernames (existing and not), alternating v3.1.1 and v5; all refused",
			attackers:   []string{srcSpray}, expected: []string{"auth-bruteforce"}, alsoOK: []string{catClear, "connect-storm"},
			stages: []stage{{3 * time.Second, attackSpraying(srcSpray, 250*time.Millisecond)}}},
		{name: "connect-storm", duration: 20 * time.Second,
			description: "127.0.0.68 opens 200 short v3.1.1 sessions at ~20/s with fresh client ids; 127.0.0.69 reconnects client id plc-7 80 times (v5) at ~10/s; valid credentials, clean DISCONNECTs",
			attackers:   []string{srcStorm, srcStormID}, expected: []string{"connect-storm"}, alsoOK: []string{catClear},
			stages: []stage{{3 * time.Second, attackConnectStorm(srcStorm, 200, 50*time.Millisecond, srcStormID, 80)}}},
		{name: "clientid-flapping", duration: 22 * time.Second,
			description: "127.0.0.70 and 127.0.0.71 take client id pump-ctrl-3 from each other 40 times (every 0.4 s); mosquitto closes the older session each time",
			attackers:   []string{srcFlapA, srcFlapB}, expected: []string{"clientid-takeover"}, alsoOK: []string{catClear, "connect-storm", "abnormal-termination"},
			stages: []stage{{3 * time.Second, attackFlapping(srcFlapA, srcFlapB, 40, 400*time.Millisecond)}}},
		{name: "subscribe-scan", duration: 20 * time.Second,
			description: "127.0.0.72 (v5, paho) subscribes to #, $SYS/# and 100 distinct filters one by one; 127.0.0.73 (v3.1.1) to #, $SYS/#, +/+/+ and 80 filters",
			attackers:   []string{srcSubScan5, srcSubScan3}, expected: []string{"topic-scan"}, alsoOK: []string{catClear},
			stages: []stage{
				{3 * time.Second, attackSubscribeScanV5(srcSubScan5, 100, 80*time.Millisecond)},
				{4 * time.Second, attackSubscribeScanV3(srcSubScan3, 80, 100*time.Millisecond)},
			}},
		{name: "publish-scan-v3", duration: 20 * time.Second,
			description: "127.0.0.74 (v3.1.1) publishes to 150 distinct topics nobody subscribes to (every fifth at QoS 1), ~14/s; subscribers present: plant/# (dashboard), plant/+/temp and plant/ops/# (historian)",
			attackers:   []string{srcPubScan3}, expected: []string{"undeliverable-publish", "topic-scan"}, alsoOK: []string{catClear},
			stages: []stage{{3 * time.Second, attackPublishScanV3(srcPubScan3, 150, 70*time.Millisecond)}}},
		{name: "publish-scan-v5", duration: 20 * time.Second,
			description: "127.0.0.75 (v5, paho) publishes at QoS 1 to 150 distinct topics nobody subscribes to; mosquitto answers every one with PUBACK 0x10 (no matching subscribers)",
			attackers:   []string{srcPubScan5}, expected: []string{"undeliverable-publish", "topic-scan"}, alsoOK: []string{catClear},
			stages: []stage{{3 * time.Second, attackPublishScanV5(srcPubScan5, 150, 70*time.Millisecond)}}},
		{name: "idle", duration: 48 * time.Second,
			description: "127.0.0.76 opens 12 TCP connections that never send CONNECT and holds them ~40 s; 127.0.0.77 holds 3 sessions (keep-alive 5 s) that send nothing but PINGREQ",
			attackers:   []string{srcSilent, srcPinger}, expected: []string{"idle-connection"}, alsoOK: []string{catClear, "abnormal-termination"},
			stages: []stage{{2 * time.Second, attackIdle(srcSilent, 12, srcPinger, 3, 42*time.Second)}}},
		{name: "publish-flood", duration: 26 * time.Second,
			description: "127.0.0.78 (v5, client vib-sensor-9) publishes plant/line3/vibration once a second for 10 s, then ~400/s for 4 s, then once a second again",
			attackers:   []string{srcFlood}, expected: []string{"publish-flood"}, alsoOK: []string{catClear, "topic-scan"},
			stages: []stage{{3 * time.Second, attackFlood(srcFlood, 10*time.Second, 4*time.Second, 400)}}},
		{name: "malformed", duration: 24 * time.Second,
			description: "127.0.0.79 sends 15 kinds of protocol violation, twice, each on its own connection: 5-byte remaining length, protocol name MQTX, reserved connect flag, CONNECT header flags, unknown v5 property, string past the packet end, truncated CONNECT, packet types 0 and 15 (v3.1.1), PUBLISH QoS 3, SUBSCRIBE flags 0, PINGREQ flags, wildcard PUBLISH topic, second CONNECT, empty PUBLISH",
			attackers:   []string{srcMalform}, expected: []string{"malformed-packet"}, alsoOK: []string{catClear, "abnormal-termination", "connect-storm", "idle-connection"},
			stages: []stage{{3 * time.Second, attackMalformed(srcMalform, 2, 100*time.Millisecond)}}},
		{name: "rst", duration: 20 * time.Second,
			description: "127.0.0.80 opens 70 v3.1.1 sessions (half of them ping once) and kills each with a TCP RST, never a DISCONNECT",
			attackers:   []string{srcRST}, expected: []string{"abnormal-termination"}, alsoOK: []string{catClear, "connect-storm"},
			stages: []stage{{3 * time.Second, attackRST(srcRST, 70, 150*time.Millisecond)}}},
		{name: "cleartext", duration: 20 * time.Second,
			description: "127.0.0.81 (a maintenance laptop) logs in with username and password over plain TCP, v3.1.1 and v5, three times; every client here does, only this one is labelled",
			attackers:   []string{srcClear}, expected: []string{catClear},
			stages: []stage{{3 * time.Second, attackCleartext(srcClear, 3)}}},
		{name: "lowslow-bruteforce", duration: 40 * time.Second, session: true, stretch: true,
			description: "127.0.0.83 tries 1200 wrong passwords for admin (v3.1.1 and v5), recorded at ~40/s then time-dilated by scengen -stretch so attempts are 1-2 s apart over ~30 min; benign sessions keep their own pace (see README.md)",
			attackers:   []string{srcLowSlow}, expected: []string{"auth-bruteforce"}, alsoOK: []string{catClear},
			stages: []stage{{3 * time.Second, attackBruteforce(srcLowSlow, 1200, 20*time.Millisecond, lowslowPrefix, toolRaw3, toolRaw5)}}},
	}
}

// demo is the scenario behind testdata/demo/demo.pcap: one broker, one
// background, five attacks one after another.
func demo() scenario {
	return scenario{name: "demo", duration: 57 * time.Second,
		description: "57 s: background plus, in turn, brute force (127.0.0.90), subscribe scan (127.0.0.91), connect storm (127.0.0.92), malformed packets (127.0.0.93), v5 publishes to unsubscribed topics (127.0.0.94) and v3.1.1 ones (127.0.0.95)",
		attackers:   []string{srcDemoBrute, srcDemoSubScan, srcDemoStorm, srcDemoMalform, srcDemoPubScan, srcDemoPubV3},
		expected:    []string{"auth-bruteforce", "topic-scan", "connect-storm", "malformed-packet", "undeliverable-publish"},
		alsoOK:      []string{catClear, "abnormal-termination", "idle-connection"},
		stages: []stage{
			{4 * time.Second, attackBruteforce(srcDemoBrute, 50, 120*time.Millisecond, bruteforcePrefix, toolRaw3, toolPaho5)},
			{13 * time.Second, attackSubscribeScanV5(srcDemoSubScan, 80, 60*time.Millisecond)},
			{22 * time.Second, attackConnectStorm(srcDemoStorm, 150, 50*time.Millisecond, "", 0)},
			{32 * time.Second, attackMalformed(srcDemoMalform, 1, 200*time.Millisecond)},
			{40 * time.Second, attackPublishScanV5(srcDemoPubScan, 100, 60*time.Millisecond)},
			{49 * time.Second, attackPublishScanV3(srcDemoPubV3, 80, 60*time.Millisecond)},
		}}
}

func findScenario(name string, seed uint64) (scenario, bool) {
	if name == "demo" {
		return demo(), true
	}
	for _, s := range scenarios(seed) {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

func (s scenario) labels(broker string) Labels {
	markers := []string{payloadMarker, operatorTypo}
	for _, a := range accounts {
		markers = append(markers, a.pass)
	}
	markers = append(markers, bruteforcePrefix, lowslowPrefix, sprayPassword)
	l := Labels{
		Name:          s.name,
		Description:   s.description,
		Attackers:     nonNil(s.attackers),
		Expected:      nonNil(s.expected),
		AlsoOK:        nonNil(s.alsoOK),
		Benign:        append(benignSources(s.session), s.benign...),
		BenignAlsoOK:  []string{catClear},
		Broker:        broker,
		SecretMarkers: markers,
		TimeDilated:   s.stretch,
		DetectWithinS: s.within,
	}
	if s.params != nil {
		l.Seed, l.Params = s.seed, maps.Clone(s.params)
	}
	return l
}

// labelsFor is labels plus attack_start, read from the recording: the
// labels stay a function of (scenario, seed, pcap), so the test can
// regenerate them from the committed files and compare.
func (s scenario) labelsFor(broker, pcap string, brokerPort uint16) (Labels, error) {
	l := s.labels(broker)
	if pcap == "" || s.start == startNone {
		return l, nil
	}
	c, err := scanCapture(pcap, brokerPort)
	if err != nil {
		return l, err
	}
	t, ok := s.attackStart(c)
	if !ok {
		return l, fmt.Errorf("%s: no attack start (%v) in %s", s.name, s.start, pcap)
	}
	l.AttackStart = t.UTC().Format(time.RFC3339Nano)
	return l, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// maxRun bounds one run: the background plus time for stages to wind down.
func (s scenario) maxRun() time.Duration { return s.duration + 15*time.Second }

// run plays the background and the attack stages; it returns when all are done.
func (s scenario) run(ctx context.Context, e *env) error {
	e.bgSession = s.session
	ctx, cancel := context.WithTimeout(ctx, s.maxRun())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); background(ctx, e, s.duration) }()
	errs := make([]error, len(s.stages))
	for i, st := range s.stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(ctx, st.at) {
				return
			}
			if err := st.run(ctx, e); err != nil {
				errs[i] = fmt.Errorf("stage %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}
