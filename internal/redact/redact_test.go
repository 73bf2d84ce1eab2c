package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-", "-"},
		{"file:/var/log/mqttids/alerts.json", "file:/var/log/mqttids/alerts.json"},
		{"kafka://127.0.0.1:9092/alerts?acks=one", "kafka://127.0.0.1:9092/alerts?acks=one"},
		{"kafka://u:hunter2@127.0.0.1:9092/alerts", "kafka://REDACTED@127.0.0.1:9092/alerts"},
		{"kafka://hunter2@127.0.0.1:9092/alerts", "kafka://REDACTED@127.0.0.1:9092/alerts"},
		{"kafka://127.0.0.1:9092/alerts?sasl_user=u&sasl_password=hunter2", "kafka://127.0.0.1:9092/alerts?sasl_password=REDACTED&sasl_user=u"},
		{"kafka://127.0.0.1:9092/alerts?Password=hunter2&password=hunter2", "kafka://127.0.0.1:9092/alerts?Password=REDACTED&password=REDACTED"},
		{"mqtt://admin:hunter2@broker:1883", "mqtt://REDACTED@broker:1883"},
		{"kafka://127.0.0.1:9092/alerts?token=hunter2%zz", "kafka://127.0.0.1:9092/alerts?REDACTED"},
		{"kafka://u:hunter2@[::1/x", "(unparsable URL)"},
		{"kafka://127.0.0.1:9092/alerts#hunter2", "kafka://127.0.0.1:9092/alerts"},
	}
	for _, tt := range tests {
		got := URL(tt.in)
		if got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "hunter2") {
			t.Errorf("URL(%q) leaks the secret: %q", tt.in, got)
		}
	}
}
