package capture

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/capture/capturetest"
	"mqttids/event"
)

// writeSynth writes a synthetic capture into the test's temp dir.
func writeSynth(t testing.TB, o capturetest.SynthOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := capturetest.WriteSynthetic(f, o); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCaptures lists the committed captures and, when present, the shared
// corpus.
func testCaptures(t testing.TB) []string {
	files, _ := filepath.Glob("testdata/*.pcap")
	crafted, _ := filepath.Glob("testdata/crafted/*.pcap*")
	for _, f := range crafted {
		if !strings.HasSuffix(f, ".events") {
			files = append(files, f)
		}
	}
	corpus, _ := filepath.Glob("../../shared/corpus/suricata-verify/*/*.pcap")
	files = append(files, corpus...)
	more, _ := filepath.Glob("../../shared/corpus/*/*.pcap*")
	for _, f := range more {
		// The corpus keeps reference outputs beside some captures
		// (ja4/*.pcap.json): only capture files are inputs.
		if strings.HasSuffix(f, ".pcap") || strings.HasSuffix(f, ".pcapng") || strings.HasSuffix(f, ".pcap.gz") || strings.HasSuffix(f, ".pcapng.gz") {
			files = append(files, f)
		}
	}
	return files
}

func TestWorkersIdentical(t *testing.T) {
	synth := writeSynth(t, capturetest.SynthOptions{Packets: 30000, Flows: 1000, Reorder: 0.05, Seed: 3})
	files := append(testCaptures(t), synth)
	for _, f := range files {
		// A short idle timeout makes sweeps close (and later reopen)
		// connections in the synthetic capture.
		opts := Options{Ports: []uint16{1883, 18883}}
		if f == synth {
			opts.IdleTimeout = 8 * time.Millisecond
		}
		opts.Workers = 1
		one, err1, st1 := replayLines(t, f, opts)
		opts.Workers = 4
		four, err4, st4 := replayLines(t, f, opts)
		if (err1 == nil) != (err4 == nil) {
			t.Errorf("%s: errors differ: %v / %v", f, err1, err4)
		}
		if !slices.Equal(one, four) {
			for i := range min(len(one), len(four)) {
				if one[i] != four[i] {
					t.Errorf("%s: event %d differs:\n1: %s\n4: %s", f, i, one[i], four[i])
					break
				}
			}
			t.Errorf("%s: %d events with 1 worker, %d with 4", f, len(one), len(four))
		}
		if !reflect.DeepEqual(st1, st4) {
			t.Errorf("%s: stats differ:\n%+v\n%+v", f, st1, st4)
		}
		if f == synth {
			var timeouts, opens int
			for _, l := range one {
				if strings.Contains(l, "tcp_close timeout") {
					timeouts++
				}
				if strings.Contains(l, "tcp_open") {
					opens++
				}
			}
			if timeouts == 0 || opens <= 1000 {
				t.Errorf("synthetic capture: %d timeouts, %d opens: the sweep was not exercised", timeouts, opens)
			}
			if st1.MQTTPackets < 25000 || st1.Malformed != 0 {
				t.Errorf("synthetic capture stats: %+v", st1)
			}
		}
	}
}

func TestOptionsAndErrors(t *testing.T) {
	h := event.HandlerFunc(func(*event.Event) {})
	if _, err := New(Options{Workers: 4, MaxFlows: 2}, h); err == nil {
		t.Error("MaxFlows below Workers accepted")
	}
	if _, err := New(Options{}, nil); err == nil {
		t.Error("nil handler accepted")
	}
	p, err := New(Options{}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFile(context.Background(), "testdata/nope.pcap"); err == nil || !strings.Contains(err.Error(), "testdata/nope.pcap") {
		t.Errorf("missing file: %v", err)
	}
	notPcap := filepath.Join(t.TempDir(), "x.pcap")
	os.WriteFile(notPcap, []byte("hello, this is not a capture"), 0o644)
	if err := p.ReplayFile(context.Background(), notPcap); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), notPcap) {
		t.Errorf("not a capture: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.ReplayFile(ctx, "testdata/mosquitto-v311.pcap"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled replay: %v", err)
	}
}

func TestEviction(t *testing.T) {
	path := writeSynth(t, capturetest.SynthOptions{Packets: 5000, Flows: 50, Seed: 1})
	lines, err, st := replayLines(t, path, Options{MaxFlows: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lines {
		if strings.Contains(l, "tcp_close evicted") {
			n++
		}
	}
	if st.Evicted == 0 || uint64(n) != st.Evicted {
		t.Errorf("evicted %d, %d close events", st.Evicted, n)
	}
}

// loopSource is an endless single MQTT connection: handshake, CONNECT,
// CONNACK, then small PUBLISH packets, built into one reused buffer.
type loopSource struct {
	cli   netip.AddrPort
	seg   capturetest.Segment
	cseq  uint32
	n     int
	limit int
	frame []byte
	pub   []byte
	ts    time.Time
}

func newLoopSource() *loopSource {
	s := &loopSource{cli: loopCli, ts: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	s.pub = capturetest.AppendPublish(nil, []byte("site/1/sensor/temp"), 24)
	return s
}

func (s *loopSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if s.n >= s.limit {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	s.n++
	switch s.cseq {
	case 0:
		s.cseq = 1000
		s.seg = capturetest.Segment{Src: s.cli, Dst: loopSrv, Seq: 999, Flags: tcpSYN}
	default:
		s.seg = capturetest.Segment{Src: s.cli, Dst: loopSrv, Seq: s.cseq, Ack: 1, Flags: 0x18, Payload: s.pub}
		if s.cseq == 1000 {
			s.seg.Payload = msgConnect
		}
		s.cseq += uint32(len(s.seg.Payload))
	}
	s.frame = capturetest.AppendFrame(s.frame[:0], capturetest.FrameOptions{Link: layers.LinkTypeEthernet}, &s.seg)
	s.ts = s.ts.Add(time.Microsecond)
	return s.frame, gopacket.CaptureInfo{Timestamp: s.ts, CaptureLength: len(s.frame), Length: len(s.frame)}, nil
}

var (
	loopCli = netip.MustParseAddrPort("192.0.2.7:50000")
	loopSrv = netip.MustParseAddrPort("198.51.100.1:1883")
)

func (s *loopSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (s *loopSource) Close() error              { return nil }

// TestReplayAllocs locks the hot path: once a connection is established,
// replaying small PUBLISH packets allocates nothing.
func TestReplayAllocs(t *testing.T) {
	for _, workers := range []int{1, 2} {
		var mqtt int
		p, err := New(Options{Workers: workers}, event.HandlerFunc(func(ev *event.Event) {
			if ev.Kind == event.MQTT {
				mqtt++
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		src := newLoopSource()
		src.limit = 10000 // warm up: connection, buffers, batches
		if err := p.RunSource(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		const perRun = 20000
		e := p.acquire()
		ctx := context.Background()
		allocs := testing.AllocsPerRun(5, func() {
			src.limit += perRun
			e.run(ctx, src)
		})
		p.release(e)
		// Sharded runs start their goroutines and channels once per call,
		// not per packet.
		budget := 0.0
		if workers > 1 {
			budget = 16
		}
		if allocs > budget {
			t.Errorf("workers %d: %.0f allocations per %d packets", workers, allocs, perRun)
		}
		if mqtt < 60000 {
			t.Errorf("workers %d: %d MQTT events", workers, mqtt)
		}
	}
}
