package alerts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqttids/block"
)

func closeCtx(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("%s: invalid JSON line %q", path, sc.Text())
		}
		out = append(out, sc.Text())
	}
	return out
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var reason = block.Reason{SignatureID: 2300001, Category: "auth-bruteforce"}

func TestStdoutAndFileSinks(t *testing.T) {
	var stdout bytes.Buffer
	path := filepath.Join(t.TempDir(), "alerts.json")
	opts := SinkOptions{Stdout: &stdout, File: FileOptions{FlushInterval: time.Hour}}
	s1, err := ParseSink("-", opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseSink("file:"+path, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher([]Sink{s1, s2}, DispatcherOptions{})
	for i := 0; i < 100; i++ {
		d.EmitAlert(testAlert(i))
	}
	d.EmitBlock(&block.Event{Timestamp: t0, Op: "add", Target: "src_ip", Value: "192.0.2.7", TTLS: 600, Reason: reason})
	waitFor(t, "stdout", 5*time.Second, func() bool { return d.Stats()[0].Delivered == 101 })
	// the file's flush interval has not passed: nothing written yet
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("file flushed before its interval: %d bytes", len(b))
	}
	closeCtx(t, d)
	want := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	got := readLines(t, path)
	if len(got) != 101 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("file has %d lines, stdout %d; differ", len(got), len(want))
	}
	if want[0] != string(testAlert(0).AppendJSON(nil)) || !strings.Contains(want[100], `"event_type":"block"`) {
		t.Errorf("lines: %s ... %s", want[0], want[100])
	}
	for _, st := range d.Stats() {
		if st.Delivered != 101 || st.Dropped != 0 || st.Failed != 0 {
			t.Errorf("%+v", st)
		}
	}
	// emits after Close are counted, not lost silently
	d.EmitAlert(testAlert(1))
	if st := d.Stats()[0]; st.Dropped != 1 {
		t.Errorf("emit after close: %+v", st)
	}
}

// TestFileReopen: logrotate renames the file, SIGHUP → Reopen, later lines
// land in a fresh file at the path; none lost.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	s, err := OpenFileSink(path, FileOptions{FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher([]Sink{s}, DispatcherOptions{})
	for i := 0; i < 50; i++ {
		d.EmitAlert(testAlert(i))
	}
	waitFor(t, "first lines flushed", 5*time.Second, func() bool { return d.Stats()[0].Delivered == 50 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 80; i++ {
		d.EmitAlert(testAlert(i))
	}
	closeCtx(t, d)
	if a, b := len(readLines(t, path+".1")), len(readLines(t, path)); a != 50 || b != 30 {
		t.Errorf("rotated %d lines, new %d; want 50 and 30", a, b)
	}
}

// TestSlowSinkDoesNotBlock: a sink writing to a pipe nobody reads blocks
// for good; EmitAlert still returns at once, the overflow is counted per
// sink, and the healthy sink gets everything.
func TestSlowSinkDoesNotBlock(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stuck := NewWriterSink("stuck-pipe", w)
	var buf bytes.Buffer
	good := NewWriterSink("buffer", &buf)
	d := NewDispatcher([]Sink{stuck, good}, DispatcherOptions{QueueLen: 20000})
	const n = 50000
	start := time.Now()
	for i := 0; i < n; i++ {
		d.EmitAlert(testAlert(i))
		if i%1000 == 999 {
			// a sensor's alert rate is bursty, not endless: let the
			// healthy sink catch up between bursts
			waitFor(t, "good sink", 10*time.Second, func() bool { return d.Stats()[1].Queued < 1000 })
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("emitting %d alerts took %v", n, el)
	}
	st := d.Stats()
	if st[0].Dropped == 0 || st[0].Dropped+st[0].Delivered+uint64(st[0].Queued) > n {
		t.Errorf("stuck sink: %+v", st[0])
	}
	// unblock the pipe so Close can finish.
	go func() { bufio.NewReader(r).WriteTo(discard{}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Close(ctx)
	w.Close()
	st = d.Stats()
	if st[1].Delivered != n || st[0].Delivered+st[0].Dropped != n {
		t.Errorf("accounting: %+v", st)
	}
	t.Logf("stuck: %+v; good: %+v", st[0], st[1])
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestParseSinkErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "want -, file:PATH or kafka://"},
		{"stdout", "want -, file:PATH"},
		{"file:", "empty file path"},
		{"file:/nonexistent-dir/x.json", "open alert file"},
		{"kafka://", "want HOST:PORT"},
		{"kafka://127.0.0.1:9092", "topic"},
		{"kafka://127.0.0.1:99999/alerts", "bad port"},
		{"kafka://127.0.0.1:9092/alerts?acks=2", "acks"},
		{"kafka://127.0.0.1:9092/alerts?compression=brotli", "compression"},
		{"kafka://127.0.0.1:9092/alerts?batch_timeout=soon", "batch_timeout"},
		{"kafka://127.0.0.1:9092/alerts?nope=1", "option nope: unknown option"},
		{"kafka://127.0.0.1:9092/alerts?sasl=plain", "sasl needs sasl_user"},
		{"kafka://127.0.0.1:9092/alerts?sasl=gssapi&sasl_user=u", "sasl \"gssapi\""},
		{"kafka://127.0.0.1:9092/alerts?password=hunter2", "passwords are not accepted"},
		{"kafka://u:hunter2@127.0.0.1:9092/alerts", "credentials in the URL"},
		{"kafka://127.0.0.1:9092/alerts?tls_ca=/nonexistent.pem", "tls_ca"},
		{"kafka://127.0.0.1:9092/alerts?spool_sync=sometimes", "spool sync"},
	}
	for _, tt := range tests {
		_, err := ParseSink(tt.spec, SinkOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSink(%q) = %v, want error containing %q", tt.spec, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseSink(%q) leaks the password: %v", tt.spec, err)
		}
	}
	// several problems are reported together
	_, err := ParseSink("kafka://127.0.0.1:9092/alerts?acks=2&compression=brotli", SinkOptions{})
	if err == nil || !strings.Contains(err.Error(), "acks") || !strings.Contains(err.Error(), "compression") {
		t.Errorf("joined errors: %v", err)
	}
	ko, err := ParseKafkaURL("kafka://a:1,b:2/t?acks=one&compression=lz4&batch_size=500&batch_timeout=5ms&sasl=scram-sha-512&sasl_user=ids&tls=true&spool=/var/spool/mqttids", KafkaOptions{SASLPassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ko.Brokers, ",") != "a:1,b:2" || ko.Topic != "t" || ko.Acks != "one" || ko.BatchSize != 500 ||
		ko.BatchTimeout != 5*time.Millisecond || ko.TLS == nil || ko.SASLMechanism != "scram-sha-512" || ko.SpoolDir != "/var/spool/mqttids" {
		t.Errorf("parsed %+v", ko)
	}
}

func TestParseSpoolDirs(t *testing.T) {
	// two sinks on one base folder get folders of their own
	base := t.TempDir()
	a, _ := ParseKafkaURL("kafka://h1:9092,h2:9092/alerts", KafkaOptions{SpoolDir: base})
	b, _ := ParseKafkaURL("kafka://h1:9092/other", KafkaOptions{SpoolDir: base})
	c, _ := ParseKafkaURL("kafka://h1:9092/other?spool=none", KafkaOptions{SpoolDir: base})
	if a.SpoolDir == b.SpoolDir || filepath.Dir(a.SpoolDir) != base || c.SpoolDir != "" {
		t.Errorf("spool dirs %q %q %q", a.SpoolDir, b.SpoolDir, c.SpoolDir)
	}
}

// TestCloseDeadlineWithStuckSink: SIGTERM with a sink that never returns:
// Close gives up at its deadline instead of hanging the shutdown.
func TestCloseDeadlineWithStuckSink(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	d := NewDispatcher([]Sink{NewWriterSink("stuck-pipe", w)}, DispatcherOptions{})
	for i := 0; i < 2000; i++ { // more than a pipe buffer
		d.EmitAlert(testAlert(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Close(ctx)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Close took %v", el)
	}
	if err == nil {
		t.Fatal("Close reported no error for an undelivered sink")
	}
}
