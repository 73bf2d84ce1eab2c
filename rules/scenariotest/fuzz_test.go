package scenariotest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"mqttids/capture"
	"mqttids/detect"
	"mqttids/rules"
)

// FuzzReplayRules: any capture goes through capture, detect and the
// built-in rules with a small sensor's caps without panicking, and every
// alert it raises has a rule, a category and a packet time. It reaches what capture's FuzzReplay cannot: the detector's
// tables, timers and gauges and the engine's conditions.
func FuzzReplayRules(f *testing.F) {
	for _, glob := range []string{"../../capture/testdata/crafted/*.pcap", "../../capture/testdata/*.pcap"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	rs, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &collect{}
		eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: out})
		if err != nil {
			t.Fatal(err)
		}
		// Caps a small sensor would run with (the defaults' tables are
		// sized for 100,000 keys and would make each run slow).
		det := detect.New(detect.Options{MaxSources: 1024, MaxClientIDs: 1024, MaxUsernames: 1024, MaxConns: 1024}, eng)
		p, err := capture.New(capture.Options{MaxFlows: 1024, MaxFlowBuffer: 64 << 10, MaxBufferTotal: 4 << 20}, det)
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.NewFileSource(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		_ = p.RunSource(context.Background(), src) // a broken file ends the replay: fine
		p.Flush()
		st := p.Stats()
		det.Flush(st.LastTime)
		for _, a := range out.alerts {
			if a.Detection == nil || a.Detection.Rule == "" || a.Alert.Category == "" {
				t.Fatalf("alert without rule or category: %+v", a)
			}
			if a.Timestamp.IsZero() || a.Detection.Count < 0 {
				t.Fatalf("alert without a packet time or with a negative count: %+v", a)
			}
		}
	})
}
