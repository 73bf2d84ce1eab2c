package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSinkURLSecretsNotPrinted: a sink or enforcer URL carrying a password
// (userinfo or a password query parameter) is refused, and neither the
// error nor any log line repeats the password (issue 12, item 9).
func TestSinkURLSecretsNotPrinted(t *testing.T) {
	pcap := filepath.Join(repo, "testdata/demo/demo.pcap")
	for _, tc := range []struct{ name, flag, url string }{
		{"userinfo", "--alerts", "kafka://u:hunter2@127.0.0.1:9092/alerts"},
		{"sasl_password", "--alerts", "kafka://127.0.0.1:9092/alerts?sasl=plain&sasl_user=u&sasl_password=hunter2"},
		{"password and another error", "--alerts", "kafka://127.0.0.1:9092/alerts?password=hunter2&acks=2"},
		{"unknown secret option", "--alerts", "kafka://127.0.0.1:9092/alerts?api_token=hunter2"},
		{"not a sink", "--alerts", "kafkax://u:hunter2@127.0.0.1:9092/alerts"},
		{"block topic userinfo", "--block-kafka", "kafka://u:hunter2@127.0.0.1:9092/blocks"},
		{"block topic password", "--block-kafka", "kafka://127.0.0.1:9092/blocks?sasl_password=hunter2"},
		{"dynsec bad scheme", "--block-dynsec-url", "http://admin:hunter2@127.0.0.1:1883"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "replay", "-q", "--log-level", "debug", "--output-spool-dir", t.TempDir(), tc.flag, tc.url, "--block-dynsec-username", "admin", pcap)
			if code == 0 {
				t.Fatalf("%s %s accepted", tc.flag, tc.url)
			}
			if strings.Contains(stdout+stderr, "hunter2") {
				t.Errorf("the password is printed:\n%s%s", stdout, stderr)
			}
			if !strings.Contains(stderr, "REDACTED") && !strings.Contains(stderr, "not accepted") {
				t.Errorf("no error naming the refused URL:\n%s", stderr)
			}
		})
	}
}
