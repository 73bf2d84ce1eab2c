package capture

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"mqttids/capture/capturetest"
	"mqttids/event"
)

// The benchmark input: MQTTIDS_BENCH_PCAP (e.g. written by
// go run ./tools/synthpcap -o /tmp/bench.pcap), else a 300,000-packet
// synthetic capture built in memory. Compare the replay with the floor
// (pcapgo zero-copy read alone) measured in the same run:
//
//	GOMAXPROCS=1 go test ./capture -run '^$' -bench 'Read|Replay' -benchtime 3x
var benchData = sync.OnceValues(func() ([]byte, error) {
	if path := os.Getenv("MQTTIDS_BENCH_PCAP"); path != "" {
		return os.ReadFile(path)
	}
	var buf bytes.Buffer
	err := capturetest.WriteSynthetic(&buf, capturetest.SynthOptions{Packets: 300_000, Flows: 1000, Reorder: 0.03, Seed: 1})
	return buf.Bytes(), err
})

func loadBench(b *testing.B) []byte {
	data, err := benchData()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// cpuTime is the process's user+system CPU time: on a shared machine
// packets per CPU second is steadier than per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perPacket reports packets/s (wall and CPU), Gbit/s and allocations per
// packet.
func perPacket(b *testing.B, packets, wireBytes int, start time.Time, cpu0 time.Duration, m0 *runtime.MemStats) {
	elapsed := time.Since(start).Seconds()
	cpu := (cpuTime() - cpu0).Seconds()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	total := float64(packets) * float64(b.N)
	b.ReportMetric(total/elapsed, "pkt/s")
	b.ReportMetric(total/cpu, "pkt/cpu-s")
	b.ReportMetric(float64(wireBytes)*float64(b.N)*8/elapsed/1e9, "Gbit/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/total, "allocs/pkt")
}

// BenchmarkReadFloor is pcapgo's zero-copy read of the same bytes: the
// floor any replay pays.
func BenchmarkReadFloor(b *testing.B) {
	data := loadBench(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var packets, wire int
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
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
			_ = d
		}
	}
	perPacket(b, packets, wire, start, cpu0, &m0)
}

func benchReplay(b *testing.B, workers int) {
	data := loadBench(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var mqtt uint64
	h := event.HandlerFunc(func(ev *event.Event) {
		if ev.Kind == event.MQTT {
			mqtt++
		}
	})
	var st Stats
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		p, err := New(Options{Workers: workers}, h)
		if err != nil {
			b.Fatal(err)
		}
		src, err := NewFileSource(bytes.NewReader(data), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := p.RunSource(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		p.Flush()
		st = p.Stats()
	}
	perPacket(b, int(st.Packets), int(st.Bytes), start, cpu0, &m0)
	if st.MQTTPackets == 0 || st.Malformed != 0 {
		b.Fatalf("stats %+v", st)
	}
}

func BenchmarkReplayWorkers1(b *testing.B) { benchReplay(b, 1) }
func BenchmarkReplayWorkers2(b *testing.B) { benchReplay(b, 2) }

// The hand parser against gopacket's DecodingLayerParser on one frame
// (the claim in parse.go).
func benchFrame() []byte {
	return capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: layers.LinkTypeEthernet}, &capturetest.Segment{
		Src: loopCli, Dst: loopSrv, Seq: 1, Ack: 1, Flags: 0x18, Payload: msgPublish,
	})
}

func BenchmarkParseFrame(b *testing.B) {
	f := benchFrame()
	var pi pktInfo
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if parseFrame(layers.LinkTypeEthernet, f, &pi) != parseTCP {
			b.Fatal("not tcp")
		}
	}
}

func BenchmarkParseFrameDLP(b *testing.B) {
	f := benchFrame()
	var eth layers.Ethernet
	var ip4 layers.IPv4
	var ip6 layers.IPv6
	var tcp layers.TCP
	var dot1q layers.Dot1Q
	var payload gopacket.Payload
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &payload)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := parser.DecodeLayers(f, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}
