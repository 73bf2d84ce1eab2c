package live

import (
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/bpf"
	"mqttids/bpf/netnstest"
)

// craft builds an Ethernet frame: VLAN tags (outermost first; with two, the
// outer is 802.1ad), then the given network layers and a TCP header with
// the ports and a 2-byte payload.
func craft(t *testing.T, tags []uint16, sport, dport uint16, nl ...gopacket.SerializableLayer) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	ls := []gopacket.SerializableLayer{eth}
	next := &eth.EthernetType
	for i, id := range tags {
		*next = layers.EthernetTypeDot1Q
		if i == 0 && len(tags) > 1 {
			*next = layers.EthernetTypeQinQ
		}
		v := &layers.Dot1Q{VLANIdentifier: id}
		ls = append(ls, v)
		next = &v.Type
	}
	switch nl[0].(type) {
	case *layers.IPv4:
		*next = layers.EthernetTypeIPv4
	default:
		*next = layers.EthernetTypeIPv6
	}
	ls = append(ls, nl...)
	ls = append(ls, &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, Window: 512}, gopacket.Payload{0xc0, 0})
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func v4(fragOff uint16) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, FragOffset: fragOff,
		SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
}

func v6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
}

// TestSocketFilterFrames sends crafted frames out of the peer veth with a
// raw socket and checks which ones the filter lets into the capture ring:
// VLAN and QinQ tags (the receive path moves the outer tag to metadata, the
// inner QinQ tag stays in the frame), IPv6 extension headers, fragments.
func TestSocketFilterFrames(t *testing.T) {
	p := netnstest.New(t)
	f := newFilter(t, bpf.FilterOptions{})
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolTCP
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	tests := []struct {
		name string
		data []byte
		pass bool
		vlan int // VLAN id reported as metadata, -1 none
	}{
		{"v4 to 1883", craft(t, nil, 40000, 1883, v4(0)), true, -1},
		{"v4 from 8883", craft(t, nil, 8883, 40000, v4(0)), true, -1},
		{"v4 to 5000", craft(t, nil, 40000, 5000, v4(0)), false, -1},
		{"v4 802.1Q to 1883", craft(t, []uint16{100}, 40000, 1883, v4(0)), true, 100},
		{"v4 802.1Q to 5000", craft(t, []uint16{100}, 40000, 5000, v4(0)), false, 100},
		{"v4 QinQ to 1883", craft(t, []uint16{10, 20}, 40000, 1883, v4(0)), true, 10},
		{"v6 QinQ to 1883", craft(t, []uint16{10, 20}, 40000, 1883, v6(layers.IPProtocolTCP)), true, 10},
		{"v6 QinQ to 5000", craft(t, []uint16{10, 20}, 40000, 5000, v6(layers.IPProtocolTCP)), false, 10},
		{"v6 hop-by-hop to 1883", craft(t, nil, 40000, 1883, v6(layers.IPProtocolIPv6HopByHop), hbh), true, -1},
		{"v4 non-first fragment", craft(t, nil, 40000, 1883, v4(100)), false, -1},
	}
	g := openIn(t, p.B.NS, p.B.Iface, Options{Workers: 1, Filter: f, RingSize: 4 << 20})
	var tx *afpacket.TPacket
	if err := netnstest.Do(p.A.NS, func() (err error) {
		tx, err = afpacket.NewTPacket(afpacket.OptInterface(p.A.Iface), afpacket.OptFrameSize(4096), afpacket.OptBlockSize(4096), afpacket.OptNumBlocks(1), afpacket.OptProtocol(0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	type got struct {
		data []byte
		vlan int
	}
	frames := make(chan got, 64)
	src := g.Sources()[0]
	go func() {
		defer close(frames)
		for {
			data, ci, err := src.ZeroCopyReadPacketData()
			if err != nil {
				return
			}
			r := got{data: append([]byte(nil), data...), vlan: -1}
			for _, a := range ci.AncillaryData {
				if av, ok := a.(afpacket.AncillaryVLAN); ok {
					r.vlan = av.VLAN
				}
			}
			select {
			case frames <- r:
			default:
			}
		}
	}()
	// One frame at a time: what arrives within the wait belongs to it (only
	// TCP to or from an MQTT port can pass).
	for _, tt := range tests {
		if err := tx.WritePacketData(tt.data); err != nil {
			t.Fatalf("%s: send: %v", tt.name, err)
		}
		select {
		case r := <-frames:
			if !tt.pass {
				t.Errorf("%s: passed, want dropped (%x)", tt.name, r.data)
				continue
			}
			if r.vlan != tt.vlan {
				t.Errorf("%s: VLAN metadata %d, want %d", tt.name, r.vlan, tt.vlan)
			}
			if want := len(tt.data); tt.vlan >= 0 {
				want -= 4 // the outer tag is in metadata
				if len(r.data) != want {
					t.Errorf("%s: %d bytes captured, want %d", tt.name, len(r.data), want)
				}
			} else if len(r.data) != want {
				t.Errorf("%s: %d bytes captured, want %d", tt.name, len(r.data), want)
			}
		case <-time.After(300 * time.Millisecond):
			if tt.pass {
				t.Errorf("%s: not captured, want passed", tt.name)
			}
		}
	}
	st, err := f.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Seen < uint64(len(tests)) {
		t.Errorf("filter saw %d frames, sent %d", st.Seen, len(tests))
	}
}
