package rules_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/rules"
)

var update = flag.Bool("update", false, "rewrite golden files")

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

const goodRules = `# site rules
rules:
  - id: site-admin-failures
    sid: 2400001
    rev: 2
    category: auth-bruteforce
    severity: 1
    description: Refusals for the admin account
    key: username
    window: 5m
    count: auth_failures
    threshold: 3
    condition: auth_failures >= threshold && username == "admin"
    suppress: 1h
    action: block
    target: username
    ttl: 30m
  - id: cleartext-credentials
    enabled: false
  - id: connect-storm
    threshold: 100
`

func TestLoadGood(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "site.yaml")
	writeFile(t, f, goodRules)
	rs, err := rules.Load([]string{f}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]rules.Rule{}
	for _, r := range rs.Rules() {
		byID[r.ID] = r
	}
	r, ok := byID["site-admin-failures"]
	if !ok {
		t.Fatal("new rule not added")
	}
	if r.SID != 2400001 || r.Rev != 2 || r.Key != detect.KeyUsername || r.Window.String() != "5m0s" ||
		r.Threshold != 3 || r.Action != "block" || r.Target != "username" || r.TTL.Minutes() != 30 ||
		r.File != f || r.Line != 3 || !r.Enabled {
		t.Errorf("parsed %+v", r)
	}
	if c := byID["cleartext-credentials"]; c.Enabled || c.File != f || c.SID != 2300023 {
		t.Errorf("disable by override: %+v", c)
	}
	if c := byID["connect-storm"]; c.Threshold != 100 || c.Condition == "" || c.Category != "connect-storm" {
		t.Errorf("override threshold: %+v", c)
	}
	n := len(byID)
	base, _ := rules.Load(nil, rules.LoadOptions{})
	if n != len(base.Rules())+1 {
		t.Errorf("%d rules, want builtin+1", n)
	}
}

func TestLoadBad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `rules:
  - id: r1
    sid: 2400001
    category: nope
    severity: 2
    key: src_ip
    window: 30s
    count: bogus
  - id: r2
    sid: 2400002
    category: connect-storm
    key: src_ip
    window: 30s
    condition: tcp_opens > 3 && nosuch > 1
    action: block
    target: src_ip
    ttl: forever
  - id: r3
    sid: 2300001
    category: topic-scan
    severity: 7
    key: ip
    window: 17s
    count: sys_subs
    colour: red
  - id: r4
    sid: 2300001
    category: topic-scan
    key: src_ip
    window: 30m
    count: sys_subs
`)
	broken := filepath.Join(dir, "broken.yaml")
	writeFile(t, broken, "rules:\n  - id: x\n    sid: [1\n")
	err := rules.Check([]string{bad, broken, filepath.Join(dir, "missing.yaml")})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		bad + ":4: rule r1: unknown category \"nope\"",
		bad + ":8: rule r1: unknown counter \"bogus\"",
		bad + ":14: rule r2: condition: unknown name nosuch",
		bad + ":17: rule r2: ttl: \"forever\" is not a duration",
		bad + ":21: rule r3: severity 7",
		bad + ":22: rule r3: unknown key \"ip\"",
		bad + ":23: rule r3: window 17s not supported",
		bad + ":25: unknown field \"colour\"",
		bad + ":26: rule r4: sid 2300001 already used by rule auth-bruteforce",
		broken + ":2: bad yaml",
		"missing.yaml",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q; got:\n%s", want, msg)
		}
	}
}

func TestBuiltinRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "builtin.yaml")
	if err := os.WriteFile(f, rules.Builtin(), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, err := rules.Load([]string{f}, rules.LoadOptions{NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := fromFile.Rules(), embedded.Rules()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d rules", len(a), len(b))
	}
	var listing bytes.Buffer
	for i := range a {
		r := b[i]
		line := fmt.Sprintf("%d %s %s sev=%d key=%s window=%s count=%s threshold=%g condition=%q suppress=%s action=%s target=%s ttl=%s enabled=%v rev=%d desc=%q line=%d",
			r.SID, r.ID, r.Category, r.Severity, r.Key, r.Window, r.Count, r.Threshold, r.Condition, r.Suppress, r.Action, r.Target, r.TTL, r.Enabled, r.Rev, r.Description, r.Line)
		r2 := a[i]
		line2 := fmt.Sprintf("%d %s %s sev=%d key=%s window=%s count=%s threshold=%g condition=%q suppress=%s action=%s target=%s ttl=%s enabled=%v rev=%d desc=%q line=%d",
			r2.SID, r2.ID, r2.Category, r2.Severity, r2.Key, r2.Window, r2.Count, r2.Threshold, r2.Condition, r2.Suppress, r2.Action, r2.Target, r2.TTL, r2.Enabled, r2.Rev, r2.Description, r2.Line)
		if line != line2 {
			t.Errorf("rule %d differs:\n%s\n%s", i, line2, line)
		}
		fmt.Fprintf(&listing, "%d %s %s sev=%d key=%s window=%s count=%s threshold=%g condition=%q suppress=%s action=%s\n",
			r.SID, r.ID, r.Category, r.Severity, r.Key, r.Window, r.Count, r.Threshold, r.Condition, r.Suppress, r.Action)
	}
	golden := filepath.Join("testdata", "builtin.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, listing.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, listing.Bytes()) {
		t.Errorf("built-in rules changed; run go test ./rules -run BuiltinRoundTrip -update and review:\n%s", listing.String())
	}
}

// TestEnvMatchesCounters keeps Env in step with detect's counters.
func TestEnvMatchesCounters(t *testing.T) {
	typ := reflect.TypeOf(rules.Env{})
	names := map[string]bool{}
	for i := range typ.NumField() {
		names[typ.Field(i).Tag.Get("expr")] = true
	}
	for c := detect.Counter(0); c < detect.NumCounters; c++ {
		if !names[c.String()] {
			t.Errorf("counter %s has no Env field", c)
		}
		if c.Info().Meaning == "" || len(c.Info().Keys) == 0 {
			t.Errorf("counter %s undocumented", c)
		}
	}
}

// TestDocsListEveryCounterAndRule keeps docs/rules.md complete.
func TestDocsListEveryCounterAndRule(t *testing.T) {
	doc, err := os.ReadFile("../docs/rules.md")
	if err != nil {
		t.Skip("docs/rules.md absent")
	}
	for c := detect.Counter(0); c < detect.NumCounters; c++ {
		if !bytes.Contains(doc, []byte("`"+c.String()+"`")) {
			t.Errorf("docs/rules.md does not document counter %s", c)
		}
	}
	rs, _ := rules.Load(nil, rules.LoadOptions{})
	for _, r := range rs.Rules() {
		if !bytes.Contains(doc, []byte(r.ID)) {
			t.Errorf("docs/rules.md does not list rule %s", r.ID)
		}
	}
}

// TestDocsExample loads the annotated example of docs/rules.md.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/rules.md")
	if err != nil {
		t.Skip("docs/rules.md absent")
	}
	s := string(doc)
	i := strings.Index(s, "```yaml\nrules:\n  - id: site-admin-failures")
	if i < 0 {
		t.Fatal("example not found")
	}
	s = s[i+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	f := filepath.Join(t.TempDir(), "example.yaml")
	writeFile(t, f, s)
	if err := rules.Check([]string{f}); err != nil {
		t.Error(err)
	}
	for _, cond := range []string{
		"tcp_opens - auth_failures >= threshold",
		"publishes > 10 * publish_baseline",
		"undeliverable >= threshold && undeliverable_topics >= 5",
		`malformed >= 1 && malformed_rule startsWith "MQTT-3.1"`,
	} {
		writeFile(t, f, fmt.Sprintf("rules:\n  - {id: x, sid: 2500001, category: topic-scan, key: src_ip, window: 30s, condition: '%s'}\n", cond))
		if err := rules.Check([]string{f}); err != nil {
			t.Errorf("%s: %v", cond, err)
		}
	}
}

func TestWallClockDisabled(t *testing.T) {
	f := filepath.Join(t.TempDir(), "now.yaml")
	writeFile(t, f, "rules:\n  - {id: x, sid: 2500001, category: topic-scan, key: src_ip, window: 30s, condition: 'sys_subs > 0 && now().Hour() > 3'}\n")
	err := rules.Check([]string{f})
	if err == nil || !strings.Contains(err.Error(), f+":2: rule x: condition:") {
		t.Errorf("now() accepted: %v", err)
	}
}

// TestLoadScoped: match:, per: and the new names load; mistakes in them,
// and counters the key kind does not keep, are errors with positions.
func TestLoadScoped(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, `rules:
  - id: outside-wildcard
    sid: 2400101
    category: topic-scan
    key: src_ip
    window: 30m
    count: root_wildcard_subs
    condition: '!in_network(src_ip, "10.0.0.0/8") && filter == "#"'
  - id: plant-broker-only
    sid: 2400102
    category: connect-storm
    key: src_ip
    window: 30s
    count: tcp_opens
    threshold: 10
    match: {src_networks: [192.0.2.0/24, 2001:db8::/32], not_src_networks: 192.0.2.7, brokers: [198.51.100.1], dest_ports: [1883, 8883]}
  - id: cleartext-per-broker
    sid: 2400103
    category: cleartext-credentials
    key: username
    per: broker
    window: 30m
    count: cleartext_credentials
`)
	rs, err := rules.Load([]string{good}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules() {
		if r.ID == "plant-broker-only" && (len(r.Match.SrcNetworks) != 2 || len(r.Match.NotSrcNetworks) != 1 || len(r.Match.Brokers) != 1 || len(r.Match.DestPorts) != 2) {
			t.Errorf("match not loaded: %+v", r.Match)
		}
		if r.ID == "cleartext-per-broker" && r.Per != "broker" {
			t.Errorf("per not loaded: %q", r.Per)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `rules:
  - id: b1
    sid: 2400201
    category: publish-flood
    key: client_id
    window: 30s
    count: open_connections
  - id: b2
    sid: 2400202
    category: publish-flood
    key: username
    window: 30s
    count: connects
    condition: connects > 1 && publishes > 5
  - id: b3
    sid: 2400203
    category: topic-scan
    key: src_ip
    window: 30s
    count: sys_subs
    match: {src_networks: [10.0.0.0/33], dest_ports: [0], colour: [red]}
    per: planet
  - id: b4
    sid: 2400204
    category: topic-scan
    key: src_ip
    window: 30s
    condition: 'sys_subs > 0 && in_network(src_ip, "not-a-net")'
`)
	err = rules.Check([]string{bad})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		bad + ":7: rule b1: counter open_connections is not kept for key client_id (only for src_ip)",
		bad + ":14: rule b2: counter publishes is not kept for key username",
		bad + ":21: rule b3: match src_networks: \"10.0.0.0/33\" is not an address or CIDR network",
		bad + ":21: rule b3: match dest_ports: \"0\" is not a port",
		bad + ":21: rule b3: match: unknown key \"colour\"",
		bad + ":22: rule b3: per \"planet\": want broker",
		bad + ":28: rule b4: condition: in_network: \"not-a-net\" is not an address or CIDR network",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q; got:\n%s", want, msg)
		}
	}
}

// TestMarshalRoundTrip: the merged set printed by `rules list --rules`
// loads back (without the built-in rules) to the same rules.
func TestMarshalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "site.yaml")
	writeFile(t, f, `rules:
  - {id: connect-storm, threshold: 120}
  - {id: cleartext-credentials, enabled: false}
  - id: outside
    sid: 2400301
    category: topic-scan
    key: src_ip
    window: 30m
    count: subscribes
    condition: '!in_network(src_ip, "10.0.0.0/8") && filter == "#"'
    match: {brokers: [198.51.100.1, 2001:db8::/32], dest_ports: [1883]}
    action: block
    target: src_ip
    ttl: 1h30m
`)
	rs, err := rules.Load([]string{f}, rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged.yaml")
	writeFile(t, out, string(b))
	back, err := rules.Load([]string{out}, rules.LoadOptions{NoBuiltin: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	a, z := rs.Rules(), back.Rules()
	if len(a) != len(z) {
		t.Fatalf("%d rules, %d back", len(a), len(z))
	}
	for i := range a {
		show := func(r rules.Rule) string {
			return fmt.Sprintf("%d %s %d %s %d %q %s %s %s %g %q %s %s %s %s %v %+v %s",
				r.SID, r.ID, r.Rev, r.Category, r.Severity, r.Description, r.Key, r.Window, r.Count, r.Threshold,
				r.Condition, r.Suppress, r.Action, r.Target, r.TTL, r.Enabled, r.Match, r.Per)
		}
		if x, y := show(a[i]), show(z[i]); x != y {
			t.Errorf("rule differs after the round trip:\n%s\n%s", x, y)
		}
	}
	if !strings.Contains(string(b), "threshold: 120") || !strings.Contains(string(b), "enabled: false") {
		t.Errorf("overrides not in the merged set:\n%s", b)
	}
}

// TestConditionLint: conditions that compile but could never work are load
// errors; one that still fails at run time is counted per rule and
// reported once.
func TestConditionLint(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ cond, want string }{
		{"publishes / connects > 3", "division by connects, which can be 0"},
		{"publishes / (connects - auth_failures) > 3", "write max(connects - auth_failures, 1)"},
		{"int(publishes) % int(connects) == 0", "division by int(connects)"},
		{"max(0, 3.0) == 3", "fails at run time"},
	} {
		f := filepath.Join(dir, "c.yaml")
		writeFile(t, f, fmt.Sprintf("rules:\n  - {id: x, sid: 2500001, category: topic-scan, key: src_ip, window: 30s, condition: '%s'}\n", tc.cond))
		if err := rules.Check([]string{f}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.cond, err, tc.want)
		}
	}
	f := filepath.Join(dir, "ok.yaml")
	writeFile(t, f, "rules:\n  - {id: ok, sid: 2500002, category: topic-scan, key: src_ip, window: 30s, condition: 'publish_bytes / max(publishes, 1) > 100'}\n")
	if err := rules.Check([]string{f}); err != nil {
		t.Errorf("guarded division rejected: %v", err)
	}

	// Passes the load-time probes (client ids "" and "c") and fails on a
	// two-letter client id.
	writeFile(t, f, "rules:\n  - {id: late-failure, sid: 2500003, category: publish-flood, key: src_ip, window: 30s, condition: \"publishes >= 1 && len(client_id) == 2 && split(client_id, '-')[1] == 'x'\"}\n")
	rs, err := rules.Load([]string{f}, rules.LoadOptions{NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	out := &collect{}
	eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: out, OnEvalError: func(rule string, err error) {
		logged = append(logged, rule+": "+err.Error())
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := detecttest.New(detect.New(detect.Options{}, eng))
	c := s.Session("10.0.2.1", "ab", "", "")
	for range 10 {
		c.Publish("a/b", 1, 0)
	}
	st := eng.Stats()
	if len(logged) != 1 || st.EvalErrorsByRule["late-failure"] < 5 || st.EvalErrors != st.EvalErrorsByRule["late-failure"] {
		t.Errorf("logged %q, stats %+v", logged, st)
	}
}
