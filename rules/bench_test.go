package rules_test

import (
	"fmt"
	"testing"
	"time"

	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
)

// publishStream sets up 50 sensors and a dashboard and returns a function
// that sends the next PUBLISH (20 ms of packet time apart).
func publishStream(h event.Handler) func() {
	s := detecttest.New(h)
	dash := s.Session("10.0.1.1", "dash", "", "")
	dash.Subscribe("plant/#")
	cs := make([]*detecttest.Client, 50)
	topics := make([][]byte, len(cs))
	for i := range cs {
		cs[i] = s.Session(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("sensor-%d", i), "", "")
		topics[i] = []byte(fmt.Sprintf("plant/%d/temp", i))
	}
	i := 0
	return func() {
		j := i % len(cs)
		cs[j].PublishBytes(topics[j], 8)
		s.Advance(20 * time.Millisecond)
		i++
	}
}

// TestEngineAllocs: the common path stays allocation-free with the
// built-in rules evaluating every PUBLISH.
func TestEngineAllocs(t *testing.T) {
	h := newHarness(t, detect.Options{}, nil, nil)
	next := publishStream(h.det)
	for range 20_000 { // past the learning period and a few baselines
		next()
	}
	if allocs := testing.AllocsPerRun(2000, next); allocs != 0 {
		t.Errorf("%v allocations per PUBLISH with the built-in rules", allocs)
	}
	if len(h.out.alerts) != 0 {
		t.Errorf("steady telemetry raised %d alerts:\n%s", len(h.out.alerts), h.out.summary())
	}
}

// BenchmarkHandlePublish compares Handle for a PUBLISH stream without an
// observer and with the built-in rules, in the same run.
func BenchmarkHandlePublish(b *testing.B) {
	b.Run("no-rules", func(b *testing.B) {
		benchStream(b, detect.New(detect.Options{}, nil))
	})
	b.Run("builtin-rules", func(b *testing.B) {
		h := newHarness(b, detect.Options{}, nil, nil)
		benchStream(b, h.det)
	})
}

func benchStream(b *testing.B, h event.Handler) {
	next := publishStream(h)
	for range 20_000 {
		next()
	}
	b.ReportAllocs()
	b.SetBytes(4 + 12 + 8)
	b.ResetTimer()
	for b.Loop() {
		next()
	}
}
