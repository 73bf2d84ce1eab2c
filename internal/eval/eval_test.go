package eval_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"mqttids/internal/config"
	"mqttids/internal/eval"
	"mqttids/internal/pipeline"
)

// TestScenariosGolden is `make eval` in-process: every labelled scenario,
// replayed through the whole pipeline with the built-in rules, raises its
// expected categories from the attacker addresses and nothing else.
func TestScenariosGolden(t *testing.T) {
	scen, err := eval.Load("../../testdata/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	if len(scen) < 10 {
		t.Fatalf("only %d scenarios found", len(scen))
	}
	demo, err := eval.LoadOne("../../testdata/demo", "demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	scen = append(scen, demo)
	var results []eval.Result
	for _, s := range scen {
		var out bytes.Buffer
		cfg := config.Default()
		sensor, err := pipeline.New(pipeline.Options{Config: cfg, Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if err := sensor.ReplayFile(context.Background(), s.Pcap()); err != nil {
			t.Fatalf("%s: %v", s.Labels.Name, err)
		}
		if err := sensor.Close(); err != nil {
			t.Fatalf("%s: close: %v", s.Labels.Name, err)
		}
		alerts, err := eval.ParseAlerts(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := eval.Score(s, alerts)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range s.Labels.SecretMarkers {
			if m != "" && bytes.Contains(out.Bytes(), []byte(m)) {
				t.Errorf("%s: alerts leak secret marker %q", r.Name, m)
			}
		}
		if !r.OK() {
			late := ""
			if r.Late {
				late = fmt.Sprintf(", late: first expected alert after %v, budget %v", r.TimeToAlert, r.Budget)
			}
			t.Errorf("%s: missing %v, false positives %v, unexpected %v%s", r.Name, r.Missing, r.FalsePositives, r.Unexpected, late)
		}
		results = append(results, r)
	}
	if testing.Verbose() {
		eval.Table(testWriter{t}, results)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

var _ io.Writer = testWriter{}
