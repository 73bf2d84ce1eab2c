package pipeline

import (
	"context"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/capture/capturetest"
	"mqttids/internal/config"
)

type collector struct {
	mu     sync.Mutex
	alerts []*alerts.Alert
	blocks []*block.Event
}

func (c *collector) EmitAlert(a *alerts.Alert) {
	c.mu.Lock()
	c.alerts = append(c.alerts, a)
	c.mu.Unlock()
}
func (c *collector) EmitBlock(b *block.Event) {
	c.mu.Lock()
	c.blocks = append(c.blocks, b)
	c.mu.Unlock()
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

var (
	attacker = netip.MustParseAddr("203.0.113.9")
	broker   = netip.MustParseAddrPort("198.51.100.1:1883")
)

// mqttConnect is a v3.1.1 CONNECT with a user name and a password.
func mqttConnect(clientID string) []byte {
	str := func(b []byte, s string) []byte { return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...) }
	body := str(nil, "MQTT")
	body = append(body, 4, 0xc2, 0, 60) // level 4; user name, password, clean session; keep alive 60
	body = str(body, clientID)
	body = str(body, "admin")
	body = str(body, "guess")
	return append([]byte{0x10, byte(len(body))}, body...)
}

// writeBruteForce writes, with capture's synthetic frames, 12 connections
// from 203.0.113.9 to the broker, each a CONNECT refused with CONNACK 5
// (bad user name or password) one second apart; spoofed first adds one
// SYN-ACK from 203.0.113.9:1883 to an unrelated host, which is all it takes
// for an address to "answer on an MQTT port".
func writeBruteForce(t *testing.T, spoofed bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bruteforce.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	put := func(s capturetest.Segment) {
		frame := capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: layers.LinkTypeEthernet}, &s)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Millisecond)
	}
	if spoofed {
		put(capturetest.Segment{Src: netip.AddrPortFrom(attacker, 1883), Dst: netip.MustParseAddrPort("192.0.2.50:40000"),
			Seq: 7000, Ack: 1, Flags: tcpSYN | tcpACK})
	}
	connack := []byte{0x20, 2, 0, 5}
	for i := range 12 {
		cli := netip.AddrPortFrom(attacker, uint16(50000+i))
		connect := mqttConnect("bf-" + string(rune('a'+i)))
		c, s := uint32(1000), uint32(9000)
		put(capturetest.Segment{Src: cli, Dst: broker, Seq: c - 1, Flags: tcpSYN})
		put(capturetest.Segment{Src: broker, Dst: cli, Seq: s - 1, Ack: c, Flags: tcpSYN | tcpACK})
		put(capturetest.Segment{Src: cli, Dst: broker, Seq: c, Ack: s, Flags: tcpACK})
		put(capturetest.Segment{Src: cli, Dst: broker, Seq: c, Ack: s, Flags: tcpPSH | tcpACK, Payload: connect})
		c += uint32(len(connect))
		put(capturetest.Segment{Src: broker, Dst: cli, Seq: s, Ack: c, Flags: tcpPSH | tcpACK, Payload: connack})
		s += uint32(len(connack))
		put(capturetest.Segment{Src: broker, Dst: cli, Seq: s, Ack: c, Flags: tcpFIN | tcpACK})
		put(capturetest.Segment{Src: cli, Dst: broker, Seq: c, Ack: s + 1, Flags: tcpFIN | tcpACK})
		ts = ts.Add(time.Second)
	}
	return path
}

// replay runs path through a sensor whose auth-bruteforce rule blocks the
// source, and returns that rule's alerts.
func replay(t *testing.T, path string, brokers ...string) (*collector, []*alerts.Alert) {
	t.Helper()
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("rules:\n  - id: auth-bruteforce\n    action: block\n    target: src_ip\n    ttl: 10m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Rules = []string{rulesFile}
	cfg.Block.Brokers = brokers
	out := &collector{}
	s, err := New(Options{Config: cfg, Stdout: io.Discard, Extra: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReplayFile(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	var bf []*alerts.Alert
	for _, a := range out.alerts {
		if a.Detection != nil && a.Detection.Rule == "auth-bruteforce" {
			bf = append(bf, a)
		}
	}
	if len(bf) != 1 {
		t.Fatalf("%d auth-bruteforce alerts, want 1 (of %d alerts)", len(bf), len(out.alerts))
	}
	return out, bf
}

// TestSpoofedSynAckDoesNotAllowlist is issue 12 item 1: a single spoofed
// SYN-ACK from port 1883 made its sender a "broker", allowlisted for good,
// so its brute force that followed was "allowed" and never blocked. Only
// the configuration protects an address now.
func TestSpoofedSynAckDoesNotAllowlist(t *testing.T) {
	for _, spoofed := range []bool{false, true} {
		out, bf := replay(t, writeBruteForce(t, spoofed))
		a := bf[0]
		if a.Alert.Action != "blocked" || a.Block == nil || a.Block.Value != attacker.String() {
			t.Errorf("spoofed SYN-ACK %v: action %q block %+v, want blocked %s", spoofed, a.Alert.Action, a.Block, attacker)
		}
		if len(out.blocks) != 1 || out.blocks[0].Op != "add" || out.blocks[0].Value != attacker.String() {
			t.Errorf("spoofed SYN-ACK %v: block events %+v", spoofed, out.blocks)
		}
	}
}

// TestConfiguredBrokersAreNeverBlocked: what --brokers lists (a host or a
// network) is never blocked, even when it misbehaves like a client.
func TestConfiguredBrokersAreNeverBlocked(t *testing.T) {
	for _, b := range []string{"203.0.113.9", "203.0.113.0/24"} {
		out, bf := replay(t, writeBruteForce(t, false), b)
		if a := bf[0]; a.Alert.Action != "allowed" || a.Block != nil {
			t.Errorf("brokers %s: action %q block %+v, want allowed", b, a.Alert.Action, a.Block)
		}
		if len(out.blocks) != 0 {
			t.Errorf("brokers %s: block events %+v", b, out.blocks)
		}
	}
}
