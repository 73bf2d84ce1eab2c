package eval_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"mqttids/internal/config"
	"mqttids/internal/eval"
	"mqttids/internal/pipeline"
)

// TestPublicCorpusRaisesNothingUnexpected replays the public captures
// (../shared/corpus, skipped when absent): no crash, and no alert on the
// plain sessions. Every client there logs in over plain TCP, so
// cleartext-credentials is expected; malformed-packet is expected exactly
// where the capture violates the specification on purpose.
func TestPublicCorpusRaisesNothingUnexpected(t *testing.T) {
	root := "../../../shared/corpus"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("public corpus not present: %v", err)
	}
	malformedByDesign := map[string]string{
		"mqtt-events-invalid-qos":        "PUBLISH with QoS 3",
		"mqtt-events-unassigned-msgtype": "reserved packet type",
		"mqtt5-excessiveproplen":         "property length beyond the packet",
		"mqtt5-pub-mosquittoprops":       "payload_format_indicator 88 (only 0 or 1 are allowed, MQTT-2.2.2.2)",
		"mqtt5-sub-mosquittoprops":       "will property value out of range (MQTT-2.2.2.2)",
	}
	files, _ := filepath.Glob(filepath.Join(root, "suricata-verify", "*", "input.pcap"))
	files = append(files, filepath.Join(root, "zeek", "mqtt.pcap"), filepath.Join(root, "verimqtt", "mqtt.pcapng"))
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		var out bytes.Buffer
		s, err := pipeline.New(pipeline.Options{Config: config.Default(), Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReplayFile(context.Background(), f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
		alerts, err := eval.ParseAlerts(&out)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			switch c := a.Alert.Category; {
			case c == "cleartext-credentials":
			case c == "malformed-packet" && malformedByDesign[name] != "":
			default:
				t.Errorf("%s: unexpected %s alert from %s", name, c, a.SrcIP)
			}
		}
	}
}
