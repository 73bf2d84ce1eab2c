package capture

import (
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/capture/capturetest"
	"mqttids/event"
)

// sliceSource replays prepared frames.
type sliceSource struct {
	frames [][]byte
	i      int
	ts     time.Time
}

func (s *sliceSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if s.i >= len(s.frames) {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	f := s.frames[s.i]
	s.i++
	return f, gopacket.CaptureInfo{Timestamp: s.ts.Add(time.Duration(s.i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}, nil
}
func (s *sliceSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (s *sliceSource) Close() error              { return nil }

func mqttTypes(t *testing.T, frames [][]byte, workers int) []string {
	var got []string
	p, err := New(Options{Workers: workers}, event.HandlerFunc(func(ev *event.Event) {
		if ev.Kind == event.MQTT || ev.Kind == event.Malformed || ev.Kind == event.Gap {
			got = append(got, describe(ev))
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RunSource(context.Background(), &sliceSource{frames: frames}); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	// drop the sequence numbers and times: only the packet sequence counts
	for i, l := range got {
		l = strings.SplitN(l, " ", 3)[2]
		l, _, _ = strings.Cut(l, " |")
		got[i] = l
	}
	return got
}

// TestPermutationsPipeline: any permutation and duplication of a client
// stream's segments (after its SYN) yields the same MQTT packet sequence.
func TestPermutationsPipeline(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	msgs := [][]byte{msgConnect, msgSubscribe, msgPublish, msgPublish0, msgPing, msgPublish, msgDisc}
	var stream []byte
	for range 3 {
		for _, m := range msgs {
			stream = append(stream, m...)
		}
	}
	c := newConv(cliAddr, srvAddr)
	syn := capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq, Flags: tcpSYN}
	frame := func(s capturetest.Segment) []byte {
		return capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: layers.LinkTypeEthernet}, &s)
	}
	var want []string
	for iter := 0; iter < 200; iter++ {
		var segs []capturetest.Segment
		for off := 0; off < len(stream); {
			l := 1 + rng.IntN(min(30, len(stream)-off))
			segs = append(segs, capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq + 1 + uint32(off), Flags: 0x08, Payload: stream[off : off+l]})
			off += l
		}
		if iter > 0 {
			rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
			for k := rng.IntN(5); k > 0; k-- {
				segs = append(segs, segs[rng.IntN(len(segs))])
			}
			rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		}
		frames := [][]byte{frame(syn)}
		for _, s := range segs {
			frames = append(frames, frame(s))
		}
		got := mqttTypes(t, frames, 1+iter%2)
		if iter == 0 {
			want = got
			if len(want) != 3*len(msgs) {
				t.Fatalf("in-order replay gave %d events: %q", len(want), want)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: got\n%q\nwant\n%q", iter, got, want)
		}
	}
}

// TestConcurrentRunSource runs several sources at once (as AF_PACKET fanout
// does) and checks that the handler is never called concurrently and that
// every connection is seen. Run with -race.
func TestConcurrentRunSource(t *testing.T) {
	var mu sync.Mutex
	inHandler := false
	var opens int
	p, err := New(Options{}, event.HandlerFunc(func(ev *event.Event) {
		mu.Lock()
		if inHandler {
			t.Error("handler called concurrently")
		}
		inHandler = true
		mu.Unlock()
		if ev.Kind == event.TCPOpen {
			opens++
		}
		mu.Lock()
		inHandler = false
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		src := newLoopSource()
		src.cli = netip.AddrPortFrom(loopCli.Addr(), uint16(50000+i))
		src.limit = 5000
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.RunSource(context.Background(), src); err != nil {
				t.Error(err)
			}
		}()
	}
	for range 20 {
		_ = p.Stats()
	}
	wg.Wait()
	p.Flush()
	if st := p.Stats(); st.Packets != 20000 || opens != 4 || st.MQTTConnections != 4 {
		t.Errorf("packets %d, opens %d, stats %+v", st.Packets, opens, st)
	}
}
