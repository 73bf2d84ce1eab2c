package bpf

import (
	"net"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/block"
)

// frame builds an Ethernet frame from src to dst (TCP to 1883) behind the
// given VLAN tags (outermost first; a tag with TPID 0x88a8 is 802.1ad).
func frame(t *testing.T, src, dst string, tags ...uint16) []byte {
	t.Helper()
	s, d := net.ParseIP(src), net.ParseIP(dst)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	inner := layers.EthernetTypeIPv4
	if s.To4() == nil {
		inner = layers.EthernetTypeIPv6
	}
	next := &eth.EthernetType
	for i, id := range tags {
		tpid := layers.EthernetTypeDot1Q
		if i == 0 && len(tags) > 1 {
			tpid = layers.EthernetTypeQinQ
		}
		*next = tpid
		v := &layers.Dot1Q{VLANIdentifier: id}
		ls = append(ls, v)
		next = &v.Type
	}
	*next = inner
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 1883, SYN: true, Window: 1024}
	if inner == layers.EthernetTypeIPv4 {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: s, DstIP: d}
		tcp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: s, DstIP: d}
		tcp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
	}
	ls = append(ls, tcp, gopacket.Payload([]byte{0x10, 0x00}))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBlockPrograms runs xdp_block and tc_block on crafted frames with
// BPF_PROG_TEST_RUN: no interface needed.
func TestBlockPrograms(t *testing.T) {
	objs, err := loadBlockObjs(EnforcerOptions{MaxEntries: 64})
	skipIfRefused(t, err)
	e := &XDPEnforcer{iface: "test", objs: objs}
	defer e.Close()
	for _, v := range []string{"192.0.2.7", "198.51.100.0/24", "2001:db8:bad::/48"} {
		if err := e.Apply(&block.Event{Op: "add", Target: "src_ip", Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	// Not enforceable on packets: ignored.
	if err := e.Apply(&block.Event{Op: "add", Target: "client_id", Value: "192.0.2.8"}); err != nil {
		t.Fatal(err)
	}
	arp := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, // Ethernet, ARP
		0, 1, 8, 0, 6, 4, 0, 1, // htype, ptype, hlen, plen, request
		2, 0, 0, 0, 0, 1, 192, 0, 2, 7, // sender MAC, sender IP (a blocked address)
		0, 0, 0, 0, 0, 0, 192, 0, 2, 1, // target
	}
	tests := []struct {
		name string
		data []byte
		drop bool
		// The kernel's test run refuses skbs this short for TC.
		xdpOnly bool
	}{
		{"v4 blocked address", frame(t, "192.0.2.7", "192.0.2.1"), true, false},
		{"v4 neighbour not blocked", frame(t, "192.0.2.8", "192.0.2.1"), false, false},
		{"v4 in blocked prefix", frame(t, "198.51.100.200", "192.0.2.1"), true, false},
		{"v4 blocked as destination only", frame(t, "192.0.2.1", "192.0.2.7"), false, false},
		{"v4 behind 802.1Q", frame(t, "192.0.2.7", "192.0.2.1", 100), true, false},
		{"v6 behind QinQ in prefix", frame(t, "2001:db8:bad:1::5", "2001:db8::1", 10, 20), true, false},
		{"v6 outside prefix", frame(t, "2001:db8:bae::5", "2001:db8::1"), false, false},
		{"arp from blocked address", arp, false, false},
		{"truncated IPv4 header", frame(t, "192.0.2.7", "192.0.2.1")[:20], false, true},
	}
	const (
		xdpDrop, xdpPass = 1, 2
		tcShot, tcNext   = 2, 0xffffffff
	)
	var wantDrops uint64
	for _, tt := range tests {
		rx, err := objs.XdpBlock.Run(&ebpf.RunOptions{Data: tt.data})
		if err != nil {
			t.Fatalf("%s: xdp run: %v", tt.name, err)
		}
		wx, wt := uint32(xdpPass), uint32(tcNext)
		rt := wt
		if !tt.xdpOnly {
			if rt, err = objs.TcBlock.Run(&ebpf.RunOptions{Data: tt.data}); err != nil {
				t.Fatalf("%s: tc run: %v", tt.name, err)
			}
		}
		if tt.drop {
			wx, wt = xdpDrop, tcShot
			wantDrops += 2
		}
		if rx != wx || rt != wt {
			t.Errorf("%s: xdp = %d, tc = %#x; want %d, %#x", tt.name, rx, rt, wx, wt)
		}
	}
	d, err := e.Drops()
	if err != nil {
		t.Fatal(err)
	}
	if d.Packets != wantDrops || d.Bytes == 0 {
		t.Errorf("Drops = %+v, want %d packets", d, wantDrops)
	}
	ents, err := e.Entries(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, en := range ents {
		got[en.Prefix.String()] = en.Dropped
	}
	want := map[string]uint64{"192.0.2.7/32": 4, "198.51.100.0/24": 2, "2001:db8:bad::/48": 2}
	if len(got) != len(want) {
		t.Errorf("Entries = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %s dropped %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if err := e.Apply(&block.Event{Op: "remove", Target: "src_ip", Value: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if rx, _ := objs.XdpBlock.Run(&ebpf.RunOptions{Data: frame(t, "192.0.2.7", "192.0.2.1")}); rx != xdpPass {
		t.Errorf("after remove: xdp = %d, want pass", rx)
	}
	if err := e.Apply(&block.Event{Op: "remove", Target: "src_ip", Value: "192.0.2.7"}); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if err := e.Apply(&block.Event{Op: "expire", Target: "src_ip", Value: "192.0.2.7"}); err == nil {
		t.Error("unknown op: want error")
	}
	if err := e.Apply(&block.Event{Op: "add", Target: "src_ip", Value: "not-an-ip"}); err == nil {
		t.Error("bad value: want error")
	}
}
