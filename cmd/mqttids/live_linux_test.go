//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqttids/bpf/netnstest"
)

// buildBinary builds mqttids once for the tests that run it in namespaces.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mqttids")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func need(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed (make test installs it)", c)
		}
	}
}

type liveAlert struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	Op        string `json:"op"`
	Value     string `json:"value"`
	Alert     struct {
		Category string `json:"category"`
		Action   string `json:"action"`
	} `json:"alert"`
}

func readAlerts(t *testing.T, path string) []liveAlert {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []liveAlert
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a liveAlert
		if json.Unmarshal(sc.Bytes(), &a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// liveSensor is `mqttids run` started inside a namespace, with its stderr.
type liveSensor struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
}

// startSensor runs the binary with args inside ns and waits until it
// captures; the process is killed at the end of the test if still running.
func startSensor(t *testing.T, ns, bin string, args ...string) *liveSensor {
	t.Helper()
	s := &liveSensor{cmd: netnstest.Exec(ns, bin, args...), stderr: &strings.Builder{}}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	waitFor(t, 10*time.Second, "sensor start", func() bool { return strings.Contains(s.stderr.String(), "capturing") })
	return s
}

// stop sends SIGTERM and waits (at most 20 s) for a clean exit, which
// flushes and writes the statistics.
func (s *liveSensor) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sensor exit: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sensor did not stop on SIGTERM")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

// TestRunLiveBruteForceAndXDPBlock: a broker and the sensor in namespace A,
// a benign client and an attacker in namespace B. The live brute force
// raises auth-bruteforce; the rule's block reaches the XDP program on A's
// veth, so the attacker can no longer open a TCP connection while the benign
// client can; when the TTL runs out (packet time, kept moving by the benign
// client) the attacker connects again. tcpdump records the same traffic and
// a replay of it raises the same alerts.
func TestRunLiveBruteForceAndXDPBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace test")
	}
	need(t, "mosquitto", "mosquitto_pub", "mosquitto_passwd", "tcpdump", "ip")
	bin := buildBinary(t)
	p := netnstest.New(t)
	broker := netip.AddrPortFrom(p.A.Addr, 1883)
	attacker := p.V4(66)
	p.AddAddr(t, p.B, attacker)
	dir := t.TempDir()

	// The broker.
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-b", "-c", pw, "sensor", "s3nsor-live-pw").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener 1883 %s\nallow_anonymous false\npassword_file %s\nuser root\n", p.A.Addr, pw)), 0o600)
	mosq := netnstest.Exec(p.A.NS, "mosquitto", "-c", conf)
	if err := mosq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mosq.Process.Kill(); mosq.Wait() })

	// tcpdump beside the sensor, for the run-vs-replay comparison.
	pcap := filepath.Join(dir, "live.pcap")
	dump := netnstest.Exec(p.A.NS, "tcpdump", "-i", p.A.Iface, "-U", "-w", pcap, "tcp port 1883")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dump.Process.Signal(syscall.SIGTERM); dump.Wait() })

	// The sensor, blocking brute forcers for 8 s at the XDP hook.
	rules := filepath.Join(dir, "block.yaml")
	os.WriteFile(rules, []byte("rules:\n  - id: auth-bruteforce\n    action: block\n    target: src_ip\n    ttl: 8s\n"), 0o600)
	alertsFile := filepath.Join(dir, "alerts.json")
	stats := filepath.Join(dir, "stats.json")
	sensor := startSensor(t, p.A.NS, bin, "run", "--interface", p.A.Iface, "--workers", "2", "--rules", rules,
		"--alerts", "file:"+alertsFile, "--block-xdp-interface", p.A.Iface, "--block-max-ttl", "8s", "--stats", stats, "-q", "--metrics-addr", "127.0.0.1:0")
	sensorErr := sensor.stderr
	waitFor(t, 5*time.Second, "broker", func() bool {
		c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(p.B.Addr, 0), broker, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	// Benign telemetry: one long-lived client publishing every 200 ms, so
	// packet time keeps moving.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	benign := exec.CommandContext(ctx, "ip", "netns", "exec", p.B.NS, "mosquitto_pub", "-h", p.A.Addr.String(), "-A", p.B.Addr.String(),
		"-u", "sensor", "-P", "s3nsor-live-pw", "-i", "benign-1", "-t", "plant/line1/temp", "-l")
	stdin, _ := benign.StdinPipe()
	if err := benign.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			fmt.Fprintf(stdin, "21.%d\n", i%10)
			time.Sleep(200 * time.Millisecond)
		}
		stdin.Close()
	}()
	t.Cleanup(func() { cancel(); benign.Wait() })

	// The brute force: wrong passwords from the attacker address until the
	// sensor blocks it (the built-in threshold is 10 failures in 30 s).
	blocked := func() bool {
		for _, a := range readAlerts(t, alertsFile) {
			if a.EventType == "alert" && a.Alert.Category == "auth-bruteforce" && a.SrcIP == attacker.String() && a.Alert.Action == "blocked" {
				return true
			}
		}
		return false
	}
	for i := 0; i < 30 && !blocked(); i++ {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		c := exec.CommandContext(actx, "ip", "netns", "exec", p.B.NS, "mosquitto_pub", "-h", p.A.Addr.String(), "-A", attacker.String(), "-u", "admin", "-P", fmt.Sprintf("guess-%d", i), "-t", "x", "-m", "y")
		_ = c.Run() // refused: exit status non-zero
		acancel()
		if i >= 9 {
			time.Sleep(300 * time.Millisecond) // let the file sink flush
		}
	}
	waitFor(t, 10*time.Second, "auth-bruteforce alert", blocked)
	for _, a := range readAlerts(t, alertsFile) {
		if a.EventType == "alert" && a.SrcIP == p.B.Addr.String() && a.Alert.Category != "cleartext-credentials" {
			t.Errorf("benign client raised %s", a.Alert.Category)
		}
	}

	// /metrics, scraped over HTTP inside the sensor's namespace, shows the
	// packet counter moving while the benign client publishes.
	m := regexp.MustCompile(`msg=metrics addr=(\S+)`).FindStringSubmatch(sensorErr.String())
	if m == nil {
		t.Fatal("no metrics address logged")
	}
	first := scrapePackets(t, p.A.NS, m[1])
	waitFor(t, 5*time.Second, "packets to increase in /metrics", func() bool { return scrapePackets(t, p.A.NS, m[1]) > first })

	// Blocked: the attacker cannot open a connection, the benign address can.
	if c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(attacker, 0), broker, 1500*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("attacker connected while blocked")
	}
	c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(p.B.Addr, 0), broker, 2*time.Second)
	if err != nil {
		t.Fatalf("benign client blocked too: %v", err)
	}
	c.Close()

	// After the TTL the entry is removed and the attacker connects again.
	waitFor(t, 20*time.Second, "block removal", func() bool {
		c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(attacker, 0), broker, 500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	removed := false
	for _, a := range readAlerts(t, alertsFile) {
		if a.EventType == "block" && a.Op == "remove" && a.Value == attacker.String() {
			removed = true
		}
	}
	if !removed {
		t.Error("no block remove event")
	}

	// Stop: SIGTERM flushes and writes the statistics.
	cancel()
	sensor.stop(t)
	var st struct {
		Packets uint64 `json:"packets"`
		Alerts  uint64 `json:"alerts"`
		Kernel  struct {
			FilterPassed uint64 `json:"filter_passed"`
			SYN          uint64 `json:"syn"`
			TopSYN       []struct {
				Key   string `json:"key"`
				Count uint64 `json:"count"`
			} `json:"top_syn_sources"`
		} `json:"kernel"`
	}
	b, err := os.ReadFile(stats)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Packets == 0 || st.Alerts == 0 {
		t.Fatalf("stats %s: %v", b, err)
	}
	// The kernel counted the attacker's SYNs, blocked ones included (the
	// socket filter runs after XDP, so those dropped there are not seen).
	if st.Kernel.FilterPassed == 0 || st.Kernel.SYN < 10 {
		t.Errorf("kernel counters: %+v", st.Kernel)
	}
	foundAttacker := false
	for _, c := range st.Kernel.TopSYN {
		if c.Key == attacker.String() && c.Count >= 10 {
			foundAttacker = true
		}
	}
	if !foundAttacker {
		t.Errorf("attacker not among the kernel's SYN sources: %+v", st.Kernel.TopSYN)
	}
	if strings.Contains(sensorErr.String(), "s3nsor-live-pw") {
		t.Error("password in the sensor's log")
	}

	// run and replay agree on what fired from where.
	dump.Process.Signal(syscall.SIGTERM)
	dump.Wait()
	rep := exec.Command(bin, "replay", "-q", "--rules", rules, pcap)
	out, err := rep.Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	live := summarise(readAlerts(t, alertsFile))
	var replayed []liveAlert
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var a liveAlert
		if json.Unmarshal(sc.Bytes(), &a) == nil {
			replayed = append(replayed, a)
		}
	}
	if got := summarise(replayed); strings.Join(got, " ") != strings.Join(live, " ") {
		t.Errorf("run and replay disagree:\n run    %v\n replay %v", live, got)
	}
}

// scrapePackets reads mqttids_packets_total from /metrics inside ns (the
// socket is made on the namespace's thread; HTTP is spoken by hand because
// net/http dials from other goroutines).
func scrapePackets(t *testing.T, ns, addr string) float64 {
	t.Helper()
	var body []byte
	err := netnstest.Do(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
		body, err = io.ReadAll(c)
		return err
	})
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	if !bytes.Contains(body, []byte("mqttids_detection_lag_seconds_bucket")) {
		t.Errorf("no detection-lag histogram in /metrics")
	}
	m := regexp.MustCompile(`(?m)^mqttids_packets_total (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no mqttids_packets_total in:\n%.500s", body)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// summarise is the set of category@source of alerts.
func summarise(as []liveAlert) []string {
	m := map[string]bool{}
	for _, a := range as {
		if a.EventType == "alert" {
			m[a.Alert.Category+"@"+a.SrcIP] = true
		}
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
