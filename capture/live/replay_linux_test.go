package live

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"mqttids/bpf"
	"mqttids/bpf/netnstest"
)

// writeSynthPcap writes n Ethernet/IPv4/TCP frames from 256 clients to
// dport, each carrying an MQTT PUBLISH (QoS 0, 64-byte payload).
func writeSynthPcap(tb testing.TB, path string, n int, dport uint16) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	topic := "sensors/temp"
	pub := []byte{0x30, byte(2 + len(topic) + 64), 0, byte(len(topic))} // PUBLISH QoS 0, remaining length, topic length
	pub = append(pub, topic...)
	pub = append(pub, bytes.Repeat([]byte{'x'}, 64)...)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	seq := make([]uint32, 256)
	ts := time.Unix(1700000000, 0)
	for i := 0; i < n; i++ {
		c := i % 256
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 1, byte(c)}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 2, 1}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IPv4(10, 201, 1, byte(c)), DstIP: net.IPv4(10, 201, 2, 1)}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + c), DstPort: layers.TCPPort(dport), Seq: seq[c], ACK: true, PSH: true, Window: 4096}
		tcp.SetNetworkLayerForChecksum(ip)
		seq[c] += uint32(len(pub))
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(pub)); err != nil {
			tb.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			tb.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
}

var replayRate = regexp.MustCompile(`Rated: [0-9.]+ Bps, [0-9.]+ Mbps, ([0-9.]+) pps`)

// replay pushes file out of side's veth at top speed and returns
// tcpreplay's own rate.
func replay(tb testing.TB, side netnstest.Side, file string) float64 {
	tb.Helper()
	out, err := netnstest.Exec(side.NS, "tcpreplay", "--topspeed", "-q", "-i", side.Iface, file).CombinedOutput()
	if err != nil {
		tb.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	m := replayRate.FindSubmatch(out)
	if m == nil {
		return 0
	}
	pps, _ := strconv.ParseFloat(string(m[1]), 64)
	return pps
}

// BenchmarkReplay replays a 200k-frame synthetic MQTT capture onto a veth
// with tcpreplay and reports what the AF_PACKET source (with the MQTT socket
// filter, 1 and 2 workers) and tcpdump -w /dev/null received and dropped in
// the same run. Each iteration is one replay: use -benchtime 1x.
//
//	go test -run '^$' -bench Replay -benchtime 1x ./capture/live/
func BenchmarkReplay(b *testing.B) {
	for _, tool := range []string{"tcpreplay", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s missing", tool)
		}
	}
	const frames = 200_000
	file := filepath.Join(b.TempDir(), "synth.pcap")
	writeSynthPcap(b, file, frames, 1883)
	other := filepath.Join(b.TempDir(), "other.pcap")
	writeSynthPcap(b, other, frames, 5000)
	p := netnstest.New(b)
	f, err := bpf.NewFilter(bpf.FilterOptions{})
	if err != nil {
		b.Skipf("socket filter: %v", err)
	}
	defer f.Close()

	runs := []struct {
		name    string
		workers int
		filter  Filter
		file    string
	}{
		{"afpacket-workers-1", 1, f, file},
		{"afpacket-workers-2", 2, f, file},
		// The same volume on port 5000: with the filter nothing reaches
		// userspace; without it every frame does.
		{"afpacket-port5000-filter", 1, f, other},
		{"afpacket-port5000-nofilter", 1, nil, other},
	}
	for _, r := range runs {
		workers := r.workers
		b.Run(r.name, func(b *testing.B) {
			var got, bytesRead, lastRead atomic.Int64
			var g *Group
			if err := netnstest.Do(p.B.NS, func() (err error) {
				g, err = Open(p.B.Iface, Options{Workers: workers, Filter: r.filter})
				return err
			}); err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{}, workers)
			for _, s := range g.Sources() {
				go func() {
					for {
						data, _, err := s.ZeroCopyReadPacketData()
						if err != nil {
							done <- struct{}{}
							return
						}
						got.Add(1)
						bytesRead.Add(int64(len(data)))
						lastRead.Store(time.Now().UnixNano())
					}
				}()
			}
			b.ResetTimer()
			var sent float64
			start := time.Now()
			for range b.N {
				sent = replay(b, p.A, r.file)
			}
			replayEnd := time.Now()
			settle(got.Load)
			// Receiving ends with the replay or the last read, whichever
			// is later (the settle wait is not counted).
			end := time.Unix(0, lastRead.Load())
			if end.Before(replayEnd) {
				end = replayEnd
			}
			elapsed := end.Sub(start)
			b.StopTimer()
			st := g.Stats()
			g.Close()
			for range workers {
				<-done
			}
			want := int64(frames * b.N)
			b.ReportMetric(float64(got.Load())/float64(b.N), "frames/replay")
			b.ReportMetric(float64(st.Drops)/float64(b.N), "drops/replay")
			b.ReportMetric(sent, "sent-pps")
			b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "recv-pps")
			b.SetBytes(bytesRead.Load() / int64(b.N))
			if r.file == file && got.Load()+int64(st.Drops) < want {
				b.Logf("received %d + dropped %d < sent %d", got.Load(), st.Drops, want)
			}
		})
	}

	b.Run("tcpdump", func(b *testing.B) {
		var captured, dropped int64
		var sent float64
		var elapsed time.Duration
		for range b.N {
			cmd := netnstest.Exec(p.B.NS, "tcpdump", "-n", "-p", "-i", p.B.Iface, "-w", "/dev/null", "tcp port 1883")
			var stderr bytes.Buffer
			pr, pw, _ := os.Pipe()
			cmd.Stderr = pw
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			pw.Close()
			// Wait for "listening on".
			br := bufio.NewReader(pr)
			line, _ := br.ReadString('\n')
			stderr.WriteString(line)
			start := time.Now()
			sent = replay(b, p.A, file)
			// tcpdump's own end is unknown: the replay's end is used.
			elapsed += time.Since(start)
			time.Sleep(500 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
			rest := new(bytes.Buffer)
			rest.ReadFrom(br)
			cmd.Wait()
			stderr.Write(rest.Bytes())
			c, d := parseTcpdump(stderr.String())
			if c < 0 {
				b.Fatalf("tcpdump summary not found:\n%s", stderr.String())
			}
			captured += c
			dropped += d
		}
		b.ReportMetric(float64(captured)/float64(b.N), "frames/replay")
		b.ReportMetric(float64(dropped)/float64(b.N), "drops/replay")
		b.ReportMetric(sent, "sent-pps")
		b.ReportMetric(float64(captured)/elapsed.Seconds(), "recv-pps")
	})
}

var (
	tdCaptured = regexp.MustCompile(`(\d+) packets? captured`)
	tdDropped  = regexp.MustCompile(`(\d+) packets? dropped by kernel`)
)

func parseTcpdump(s string) (captured, dropped int64) {
	m := tdCaptured.FindStringSubmatch(s)
	if m == nil {
		return -1, 0
	}
	captured, _ = strconv.ParseInt(m[1], 10, 64)
	if m := tdDropped.FindStringSubmatch(s); m != nil {
		dropped, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return captured, dropped
}
