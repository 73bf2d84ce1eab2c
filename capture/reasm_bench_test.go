package capture

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/gopacket/gopacket/reassembly"

	"mqttids/decode"
)

// BenchmarkReasmGopacket is the alternative reasm.go was written against:
// the same frames, parsed by this package's parseFrame (so only the
// reassembly differs), reassembled by gopacket/reassembly and framed by
// decode.Framer, one per direction, with every packet decoded. Compare it
// with BenchmarkReplayWorkers1 (which also keeps the flow table, emits
// events and validates) in the same run:
//
//	GOMAXPROCS=1 go test ./capture -run '^$' -bench 'ReplayWorkers1|ReasmGopacket' -benchtime 3x
//
// Measured on the 2-core shared development machine (2026-12-01, the
// in-memory 300,000-packet input: 1000 flows, 3 % reordered; three runs,
// noisy): the capture pipeline 108-169 ms per pass, 1.8-2.8 M pkt/s, 0.02
// allocs/pkt; gopacket/reassembly + framing 163-289 ms, 1.0-1.9 M pkt/s,
// 1.04 allocs/pkt: the pipeline is 1.4-1.8× faster (ratio of ns/op in the
// same run) although it does more (flow table, events, validation).
// gopacket copies every segment into its page cache, calls through
// interfaces per segment and allocates per flow and per segment;
// reasm.go hands in-order data — the common case — to the framer straight
// from the capture buffer and copies only out-of-order segments.
func BenchmarkReasmGopacket(b *testing.B) {
	data := loadBench(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var packets, wire int
	var f gpFactory
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		f = gpFactory{}
		asm := reassembly.NewAssembler(reassembly.NewStreamPool(&f))
		var pi pktInfo
		var tcp layers.TCP
		packets, wire = 0, 0
		for {
			d, ci, err := r.ZeroCopyReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			packets++
			wire += ci.Length
			if parseFrame(layers.LinkTypeEthernet, d, &pi) != parseTCP {
				continue
			}
			tcp = layers.TCP{
				SrcPort: layers.TCPPort(pi.sport), DstPort: layers.TCPPort(pi.dport),
				Seq: pi.seq, Ack: pi.ack,
				FIN: pi.flags&tcpFIN != 0, SYN: pi.flags&tcpSYN != 0, RST: pi.flags&tcpRST != 0, ACK: pi.flags&tcpACK != 0,
			}
			tcp.Payload = pi.payload
			src, dst := pi.src[12:], pi.dst[12:]
			if !pi.v4 {
				src, dst = pi.src[:], pi.dst[:]
			}
			nf := gopacket.NewFlow(layers.EndpointIPv4, src, dst)
			if !pi.v4 {
				nf = gopacket.NewFlow(layers.EndpointIPv6, src, dst)
			}
			asm.AssembleWithContext(nf, &tcp, gpContext{ci})
		}
		asm.FlushAll()
	}
	perPacket(b, packets, wire, start, cpu0, &m0)
	if f.mqtt == 0 {
		b.Fatal("no MQTT packet decoded")
	}
}

type gpContext struct{ ci gopacket.CaptureInfo }

func (c gpContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

type gpFactory struct{ mqtt, malformed uint64 }

func (f *gpFactory) New(_, _ gopacket.Flow, _ *layers.TCP, _ reassembly.AssemblerContext) reassembly.Stream {
	return &gpStream{f: f, fr: [2]*decode.Framer{decode.NewFramer(decode.FramerOptions{}), decode.NewFramer(decode.FramerOptions{})}}
}

type gpStream struct {
	f   *gpFactory
	fr  [2]*decode.Framer
	pkt decode.Packet
}

func (s *gpStream) Accept(_ *layers.TCP, _ gopacket.CaptureInfo, _ reassembly.TCPFlowDirection, _ reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
	*start = true
	return true
}

func (s *gpStream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	n, _ := sg.Lengths()
	dir, _, _, skip := sg.Info()
	fr := s.fr[0]
	if dir == reassembly.TCPDirServerToClient {
		fr = s.fr[1]
	}
	if skip > 0 {
		fr.Gap(skip)
	}
	if n == 0 {
		return
	}
	fr.Feed(sg.Fetch(n))
	for range n + 64 { // every packet or error consumes a byte
		err := fr.Next(&s.pkt)
		if err == decode.ErrShortBuffer {
			return
		}
		if err != nil {
			s.f.malformed++
			continue
		}
		s.f.mqtt++
	}
}

func (s *gpStream) ReassemblyComplete(_ reassembly.AssemblerContext) bool { return true }
