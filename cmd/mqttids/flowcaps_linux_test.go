//go:build linux

package main

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mqttids/bpf/netnstest"
)

// TestRunCapsSplitAcrossWorkers: with --workers 2 the flow cap is the
// sensor's, split across the fanout sockets, not granted to each (issue 12
// item 14). 120 connections held open against --capture-max-flows 40 must
// evict about 80 flows; with a full cap per socket only about 40 went.
func TestRunCapsSplitAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace test")
	}
	need(t, "ip")
	bin := buildBinary(t)
	p := netnstest.New(t)
	netnstest.Serve(t, p.A.NS, 1883)
	dir := t.TempDir()
	stats := filepath.Join(dir, "stats.json")
	sensor := startSensor(t, p.A.NS, bin, "run", "--interface", p.A.Iface, "--workers", "2",
		"--capture-max-flows", "40", "--alerts", "file:"+filepath.Join(dir, "alerts.json"), "--stats", stats, "-q")
	const n = 120
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(p.B.Addr, 0), netip.AddrPortFrom(p.A.Addr, 1883), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond)
	sensor.stop(t)
	for _, c := range conns {
		c.Close()
	}
	var st struct {
		TCPFlows  uint64            `json:"tcp_flows"`
		EvictedBy map[string]uint64 `json:"evicted_by"`
	}
	b, err := os.ReadFile(stats)
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	if st.TCPFlows < n {
		t.Fatalf("saw %d flows of %d\n%s", st.TCPFlows, n, b)
	}
	if ev := st.EvictedBy["flows"]; ev < n-40-10 {
		t.Errorf("%d flows evicted for %d open against a cap of 40 over 2 workers: the cap is not split\n%s", ev, n, b)
	}
}
