package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqttids/internal/config"
)

// TestEvalErrorsLogged is the logging part of issue 12 item 12: a condition
// that fails at run time (here an index past the end of a split) is false
// on every event, its rule never fires, and nothing said so. The first
// failure is logged now, once, with the count; and again at the end only
// when the count grew.
func TestEvalErrorsLogged(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(rulesFile, []byte(`rules:
  - id: bad-index
    sid: 9000001
    category: auth-bruteforce
    severity: 2
    description: fails at run time
    key: src_ip
    window: 30s
    count: auth_failures
    threshold: 1
    condition: 'len(client_id) > 1 && split(client_id, "-")[7] == "x"'
`), 0o600)
	cfg := config.Default()
	cfg.Rules = []string{rulesFile}
	var logs bytes.Buffer
	s, err := New(Options{Config: cfg, Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReplayFile(context.Background(), writeBruteForce(t, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := s.eng.Stats().EvalErrors
	if n == 0 {
		t.Fatal("the condition did not fail: the test needs another failing condition")
	}
	out := logs.String()
	t.Logf("%d errors; log:\n%s", n, out)
	if strings.Count(out, "rule condition failed at run time") != 1 || !strings.Contains(out, "rule=bad-index") {
		t.Errorf("want one log line naming the rule for its first failure:\n%s", out)
	}
	if !strings.Contains(out, "rule conditions failing at run time") {
		t.Errorf("want the summary at the end:\n%s", out)
	}
	if strings.Contains(out, "guess") {
		t.Error("a password in the log")
	}
}
