package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqttids/internal/eval"
	"mqttids/internal/pipeline"
)

const repo = "../.."

// run executes one command line in-process and returns exit status, stdout
// and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("alerts: [\"-\"]\nworkerz: 2\n"), 0o600)
	badRule := filepath.Join(dir, "bad-rules.yaml")
	os.WriteFile(badRule, []byte("rules:\n  - id: x\n    category: no-such-category\n    condition: \"nope >\"\n"), 0o600)
	truncated := filepath.Join(dir, "trunc.pcap")
	b, err := os.ReadFile(filepath.Join(repo, "testdata/demo/demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(truncated, b[:len(b)/2+7], 0o600)

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"version", []string{"version"}, 0, ""},
		{"unknown verb", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"replay", "--no-such-flag", "x.pcap"}, 2, "unknown flag"},
		{"replay needs a file", []string{"replay"}, 2, "requires at least"},
		{"missing capture", []string{"replay", "-q", filepath.Join(dir, "none.pcap")}, 1, "none.pcap"},
		{"bad config names file and line", []string{"replay", "--config", badCfg, "x.pcap"}, 2, badCfg + ":2:"},
		{"rules check bad", []string{"rules", "check", badRule}, 2, badRule + ":"},
		{"rules check builtin-style file ok", []string{"rules", "check", filepath.Join(repo, "rules/builtin.yaml")}, 0, ""},
		{"truncated capture names the offset", []string{"replay", "-q", truncated}, 1, "offset"},
		{"run needs an interface", []string{"run"}, 2, "--interface"},
		// decode does no detection and no logging: it takes none of their flags.
		{"decode takes no --rules", []string{"decode", "--rules", badRule, "x.pcap"}, 2, "unknown flag: --rules"},
		{"decode takes no --log-format", []string{"decode", "--log-format", "json", "x.pcap"}, 2, "unknown flag: --log-format"},
		{"decode takes no --log-level", []string{"decode", "--log-level", "debug", "x.pcap"}, 2, "unknown flag: --log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

func TestHelpListsEveryFlagWithDefault(t *testing.T) {
	code, out, _ := run(t, "replay", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--alerts stringArray", "(default [-])", "--ports ports", "(default 1883,8883)", "--capture-max-flows", "--stats", "-q, --quiet", "--rules"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --help lacks %q", want)
		}
	}
	_, out, _ = run(t, "run", "--help")
	for _, want := range []string{"--interface", "--metrics-addr", "--block-xdp-interface"} {
		if !strings.Contains(out, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

func TestRulesList(t *testing.T) {
	code, out, _ := run(t, "rules", "list")
	if code != 0 || !strings.Contains(out, "auth-bruteforce") {
		t.Fatalf("exit %d, output:\n%.300s", code, out)
	}
	f := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(f, []byte("rules:\n  - {id: connect-storm, threshold: 120}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "rules", "list", "--rules", f)
	if code != 0 || !strings.Contains(out, "id: connect-storm") || !strings.Contains(out, "threshold: 120") || !strings.Contains(out, "id: auth-bruteforce") {
		t.Fatalf("merged list: exit %d, output:\n%.600s", code, out)
	}
}

// TestReplayDemo is the README's `make demo`: alerts on stdout in the
// contract's shape, the summary on stderr, and --stats agreeing with both.
func TestReplayDemo(t *testing.T) {
	stats := filepath.Join(t.TempDir(), "stats.json")
	code, out, stderr := run(t, "replay", "--stats", stats, filepath.Join(repo, "testdata/demo/demo.pcap"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "mqttids summary") || !strings.Contains(stderr, "auth-bruteforce") {
		t.Errorf("summary missing:\n%s", stderr)
	}
	var n int
	cats := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var a map[string]any
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		for _, k := range []string{"timestamp", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto", "alert", "detection"} {
			if _, ok := a[k]; !ok {
				t.Errorf("alert lacks %q: %s", k, sc.Text())
			}
		}
		if a["event_type"] == "alert" {
			n++
			cats[a["alert"].(map[string]any)["category"].(string)]++
		}
	}
	var st pipeline.Stats
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Alerts != uint64(n) || n == 0 {
		t.Errorf("stats alerts %d, stdout alerts %d", st.Alerts, n)
	}
	for c, v := range cats {
		if st.AlertsByCategory[c] != v {
			t.Errorf("category %s: stats %d, stdout %d", c, st.AlertsByCategory[c], v)
		}
	}
	for _, c := range []string{"auth-bruteforce", "topic-scan", "connect-storm", "malformed-packet", "undeliverable-publish"} {
		if cats[c] == 0 {
			t.Errorf("demo raised no %s", c)
		}
	}
	if st.Packets == 0 || st.MQTTPackets == 0 || st.MQTTConnections == 0 {
		t.Errorf("empty stats: %+v", st)
	}
}

// TestMetricsMatchStats: the Prometheus exposition carries the same
// counters as the statistics file.
func TestMetricsMatchStats(t *testing.T) {
	var buf bytes.Buffer
	cfgStats := filepath.Join(t.TempDir(), "s.json")
	code := execute([]string{"replay", "-q", "--stats", cfgStats, "--alerts", "file:" + filepath.Join(t.TempDir(), "a.json"), filepath.Join(repo, "testdata/scenarios/bruteforce/input.pcap")}, &buf, io.Discard)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var st pipeline.Stats
	b, _ := os.ReadFile(cfgStats)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	h := pipeline.NewMetricsHandler(func() pipeline.Stats { return st }, func() error { return nil })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"mqttids_packets_total " + itoa(st.Packets),
		"mqttids_mqtt_connections_total " + itoa(st.MQTTConnections),
		`mqttids_alerts_total{category="auth-bruteforce"} ` + itoa(st.AlertsByCategory["auth-bruteforce"]),
		`mqttids_mqtt_packets_total{type="CONNACK"} ` + itoa(st.MQTTByType["CONNACK"]),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("healthz %d", rec.Code)
	}
}

func itoa(v uint64) string {
	return strings.TrimSpace(strings.Replace(string(mustJSON(v)), "\"", "", -1))
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestNoSecretsInAnyOutput replays every scenario with every output on —
// alerts to stdout and a file, block list files, decode, stats, debug logs
// — and greps all of it for the scenarios' passwords and payload marker.
func TestNoSecretsInAnyOutput(t *testing.T) {
	scen, err := eval.Load(filepath.Join(repo, "testdata/scenarios"))
	if err != nil || len(scen) == 0 {
		t.Fatalf("scenarios: %v (%d)", err, len(scen))
	}
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "block.yaml")
	// Turn the brute-force rule into a blocking one so block events and the
	// block-list files are exercised too.
	os.WriteFile(rulesFile, []byte("rules:\n  - id: auth-bruteforce\n    action: block\n    target: src_ip\n    ttl: 10m\n"), 0o600)
	for _, s := range scen {
		markers := s.Labels.SecretMarkers
		if len(markers) == 0 {
			t.Fatalf("%s: no secret markers in labels", s.Labels.Name)
		}
		var all bytes.Buffer
		outs := []string{filepath.Join(dir, s.Labels.Name+".alerts"), filepath.Join(dir, s.Labels.Name+".stats"), filepath.Join(dir, s.Labels.Name+".list"), filepath.Join(dir, s.Labels.Name+".nft")}
		var out, errb bytes.Buffer
		code := execute([]string{"replay", "--log-level", "debug", "--rules", rulesFile, "--alerts", "-", "--alerts", "file:" + outs[0], "--stats", outs[1], "--block-file", outs[2], "--block-nft-file", outs[3], s.Pcap()}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: replay exit %d: %s", s.Labels.Name, code, errb.String())
		}
		all.Write(out.Bytes())
		all.Write(errb.Bytes())
		code = execute([]string{"decode", s.Pcap()}, &all, &all)
		if code != 0 {
			t.Fatalf("%s: decode exit %d", s.Labels.Name, code)
		}
		for _, f := range outs {
			b, _ := os.ReadFile(f)
			all.Write(b)
		}
		if all.Len() == 0 {
			t.Fatalf("%s: no output at all", s.Labels.Name)
		}
		for _, m := range markers {
			if bytes.Contains(all.Bytes(), []byte(m)) {
				t.Errorf("%s: secret marker %q appears in the output", s.Labels.Name, m)
			}
		}
	}
}

// TestDecodeJSONLines: every line is JSON with a contract type name.
func TestDecodeJSONLines(t *testing.T) {
	code, out, stderr := run(t, "decode", filepath.Join(repo, "testdata/scenarios/publish-scan-v5/input.pcap"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	types := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l struct {
			Type  string `json:"type"`
			Topic string `json:"topic"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		types[l.Type]++
	}
	for _, want := range []string{"CONNECT", "CONNACK", "PUBLISH", "PUBACK"} {
		if types[want] == 0 {
			t.Errorf("no %s line; got %v", want, types)
		}
	}
}

var _ = time.Second
