package scenariotest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/capture"
	"mqttids/capture/capturetest"
	"mqttids/detect"
	"mqttids/event"
	"mqttids/rules"
)

type collect struct{ alerts []*alerts.Alert }

func (c *collect) EmitAlert(a *alerts.Alert) { c.alerts = append(c.alerts, a) }
func (c *collect) EmitBlock(*block.Event)    {}

// lastTime wraps the detector to remember the last packet time.
type lastTime struct {
	h    event.Handler
	last time.Time
}

func (l *lastTime) Handle(ev *event.Event) {
	if ev.Time.After(l.last) {
		l.last = ev.Time
	}
	l.h.Handle(ev)
}

// scenarios lists the capture files with a labels.json beside them.
func scenarios(t testing.TB) []string {
	pcaps, _ := filepath.Glob("../../testdata/scenarios/*/input.pcap")
	pcaps = append(pcaps, "../../testdata/demo/demo.pcap")
	var out []string
	for _, p := range pcaps {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "labels.json")); err == nil {
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		t.Skip("no recorded scenarios under testdata/scenarios")
	}
	return out
}

func replay(t testing.TB, pcap string, obs bool) (*collect, *detect.Detector) {
	return replayWorkers(t, pcap, obs, 1)
}

func replayWorkers(t testing.TB, pcap string, obs bool, workers int) (*collect, *detect.Detector) {
	out := &collect{}
	var o detect.Observer
	if obs {
		eng, err := rules.NewEngine(rules.Options{Emitter: out})
		if err != nil {
			t.Fatal(err)
		}
		o = eng
	}
	det := detect.New(detect.Options{}, o)
	lt := &lastTime{h: det}
	p, err := capture.New(capture.Options{Workers: workers}, lt)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReplayFile(context.Background(), pcap); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	det.Flush(lt.last)
	return out, det
}

func BenchmarkReplay(b *testing.B) {
	pcaps := scenarios(b)
	for _, mode := range []struct {
		name string
		obs  bool
	}{{"no-rules", false}, {"builtin-rules", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var size int64
			for _, p := range pcaps {
				if fi, err := os.Stat(p); err == nil {
					size += fi.Size()
				}
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pcaps {
					replay(b, p, mode.obs)
				}
			}
		})
	}
}

var synthetic = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	err := capturetest.WriteSynthetic(&buf, capturetest.SynthOptions{Packets: 300_000, Flows: 1000, Reorder: 0.03, Seed: 1})
	return buf.Bytes(), err
})

// BenchmarkReplaySynthetic replays capture's synthetic 300,000-packet
// capture (1000 clients publishing) three ways in the same run: capture
// alone, + detect, + detect and the built-in rules. The rules' share of a
// replay is (rules - detect) / rules.
func BenchmarkReplaySynthetic(b *testing.B) {
	data, err := synthetic()
	if err != nil {
		b.Fatal(err)
	}
	rs, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"capture-only", "detect", "detect+rules"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var packets uint64
			for b.Loop() {
				var h event.Handler = event.HandlerFunc(func(*event.Event) {})
				out := &collect{}
				switch mode {
				case "detect":
					h = detect.New(detect.Options{}, nil)
				case "detect+rules":
					eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: out})
					if err != nil {
						b.Fatal(err)
					}
					h = detect.New(detect.Options{}, eng)
				}
				p, err := capture.New(capture.Options{}, h)
				if err != nil {
					b.Fatal(err)
				}
				src, err := capture.NewFileSource(bytes.NewReader(data), "synthetic")
				if err != nil {
					b.Fatal(err)
				}
				if err := p.RunSource(context.Background(), src); err != nil {
					b.Fatal(err)
				}
				p.Flush()
				packets = p.Stats().Packets
				if len(out.alerts) != 0 {
					b.Fatalf("synthetic telemetry raised %d alerts, first %+v", len(out.alerts), out.alerts[0].Detection)
				}
			}
			b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
		})
	}
}

// TestWorkersSameAlerts: the alerts do not depend on the capture's worker
// count (events reach detect in packet order either way).
func TestWorkersSameAlerts(t *testing.T) {
	for _, pcap := range scenarios(t) {
		one, _ := replayWorkers(t, pcap, true, 1)
		two, _ := replayWorkers(t, pcap, true, 2)
		a, b := summary(one), summary(two)
		if a != b {
			t.Errorf("%s: 1 worker:\n%s\n2 workers:\n%s", pcap, a, b)
		}
	}
}

func summary(c *collect) string {
	var lines []string
	for _, a := range c.alerts {
		js, _ := json.Marshal(a)
		lines = append(lines, a.Timestamp.String()+" "+string(js))
	}
	return strings.Join(lines, "\n")
}

// TestNoTimersDroppedAtRate: 1000 clients alternating between three topics
// nobody subscribes to, at about 700 k and 7 M PUBLISHes per second of
// packet time. Undeliverable checks are kept per (connection, topic), so
// none is dropped however fast the clients publish (before: one timer per
// PUBLISH, and above ~100 k msg/s most were dropped).
func TestNoTimersDroppedAtRate(t *testing.T) {
	for _, rate := range []float64{750_000, 7_500_000} {
		var buf bytes.Buffer
		if err := capturetest.WriteSynthetic(&buf, capturetest.SynthOptions{Packets: 200_000, Flows: 1000, Seed: 2, Rate: rate, Topics: 3}); err != nil {
			t.Fatal(err)
		}
		det := detect.New(detect.Options{MaxConns: 2000}, nil)
		p, err := capture.New(capture.Options{}, det)
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.NewFileSource(bytes.NewReader(buf.Bytes()), "synthetic")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.RunSource(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		p.Flush()
		det.Flush(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		st := det.Stats()
		if st.TimersDropped != 0 {
			t.Errorf("%.0f frames/s: %d timers dropped", rate, st.TimersDropped)
		}
		if p.Stats().MQTTPackets < 190_000 {
			t.Errorf("%.0f frames/s: only %d MQTT packets", rate, p.Stats().MQTTPackets)
		}
	}
}
