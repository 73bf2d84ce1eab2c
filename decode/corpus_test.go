package decode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is /work/shared/corpus seen from this package's directory.
const corpusDir = "../../shared/corpus"

// knownViolations lists corpus vectors that legitimately break the
// specification, with the rules Validate reports and why.
var knownViolations = map[string]struct {
	rules  []string
	reason string
}{
	"connect/mqtt.connect.140.raw": {
		rules:  []string{RuleProtocolName},
		reason: "fuzzer-mutated case: protocol name \"hj\" instead of \"MQTT\"",
	},
}

func decodeCorpusFile(t *testing.T, path string, version uint8) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
	d := Decoder{Version: version}
	var p Packet
	var rules []string
	packets := 0
	for off := 0; off < len(raw); {
		n, err := d.Decode(raw[off:], &p)
		if err != nil {
			t.Errorf("%s: offset %d: %v", name, off, err)
			return
		}
		packets++
		Validate(&p, func(v *MalformedError) {
			rules = append(rules, v.Rule)
		})
		off += n
	}
	if packets == 0 {
		t.Errorf("%s: no packet", name)
	}
	known, ok := knownViolations[name]
	switch {
	case ok && !equalStrings(rules, known.rules):
		t.Errorf("%s: Validate = %q, recorded %q (%s)", name, rules, known.rules, known.reason)
	case !ok && len(rules) > 0:
		t.Errorf("%s: Validate = %q", name, rules)
	}
}

func corpusFiles(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("corpus %s not present (want %s)", pattern, corpusDir)
	}
	return files
}

// verimqtt's raw MQTT 5.0 packets.
func TestCorpusVerimqtt(t *testing.T) {
	for _, f := range corpusFiles(t, "verimqtt/bin/*.bin") {
		decodeCorpusFile(t, f, V5)
	}
}

// WithSecure mqtt_fuzz valid cases: MQTT 3.1.1 packets, one per file.
func TestCorpusWithSecure(t *testing.T) {
	files := corpusFiles(t, "withsecure-mqtt_fuzz-valid-cases/*/*.raw")
	for _, f := range files {
		decodeCorpusFile(t, f, V311)
	}
	// The same files through a Framer that knows nothing: framing and
	// version inference must agree with the direct decode.
	fr := NewFramer(FramerOptions{})
	var p Packet
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		fr.Reset()
		fr.Feed(raw)
		for {
			err := fr.Next(&p)
			if err == ErrShortBuffer {
				break
			}
			if err != nil {
				t.Errorf("%s: framer: %v", f, err)
				break
			}
		}
		if st := fr.Stats(); st.Packets == 0 || st.SkippedBytes != 0 {
			t.Errorf("%s: framer stats %+v", strings.TrimPrefix(f, corpusDir), st)
		}
	}
}
