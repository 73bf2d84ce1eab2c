//go:build linux

package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqttids/bpf/netnstest"
)

// TestRunFilterPassesTLSPorts: the capture plan gives the eBPF filter the
// TLS ports as well as the MQTT ports, so a TLS port that is not in --ports
// reaches the capture (before the plan, `run` passed only --ports and the
// kernel dropped such connections). The connections are plain TCP: a TLS
// port's connection is counted on its SYN, not decoded.
func TestRunFilterPassesTLSPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace test")
	}
	need(t, "ip")
	bin := buildBinary(t)
	p := netnstest.New(t)
	netnstest.Serve(t, p.A.NS, 8884)
	dir := t.TempDir()
	stats := filepath.Join(dir, "stats.json")
	sensor := startSensor(t, p.A.NS, bin, "run", "--interface", p.A.Iface, "--workers", "2",
		"--ports", "1883", "--capture-tls-ports", "8884", "--alerts", "file:"+filepath.Join(dir, "alerts.json"), "--stats", stats, "-q")
	sensorErr := sensor.stderr
	if !strings.Contains(sensorErr.String(), "ebpf_filter=true") {
		t.Skipf("eBPF filter not loaded: %s", sensorErr.String())
	}
	if !strings.Contains(sensorErr.String(), "filter_ports=\"[1883 8884]\"") {
		t.Errorf("log does not show the plan's filter ports: %s", sensorErr.String())
	}
	const n = 3
	for i := 0; i < n; i++ {
		c, err := netnstest.Dial(p.B.NS, netip.AddrPortFrom(p.B.Addr, 0), netip.AddrPortFrom(p.A.Addr, 8884), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x16, 0x03, 0x01, 0, 1, 1}) // looks like a TLS record; not decoded
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	sensor.stop(t)
	var st struct {
		TLSConnections uint64 `json:"tls_connections"`
	}
	b, err := os.ReadFile(stats)
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	if st.TLSConnections != n {
		t.Errorf("tls_connections = %d, want %d (the filter dropped the TLS port?)\n%s", st.TLSConnections, n, b)
	}
}
