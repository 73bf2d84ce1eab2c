package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"mqttids/block"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startKafka(t testing.TB, port int, topics ...string) *kfake.Cluster {
	t.Helper()
	var c *kfake.Cluster
	var err error
	// the port of a just-closed cluster may take a moment to be free
	for i := 0; i < 50; i++ {
		c, err = kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, topics...))
		if err == nil {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kfake on port %d: %v", port, err)
	return nil
}

type kcatMsg struct {
	Key, Value string
	Null       bool
}

// kcatRead reads a whole topic with kcat (librdkafka): an independent
// client checks what our kafka-go writer produced.
func kcatRead(t testing.TB, port int, topic string) []kcatMsg {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed (apt-get install kcat)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-b", fmt.Sprintf("127.0.0.1:%d", port), "-t", topic,
		"-C", "-e", "-q", "-o", "beginning", "-Z", "-f", "%k\t%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v: %s", err, stderr.String())
	}
	var msgs []kcatMsg
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("kcat line without tab: %q", line)
		}
		msgs = append(msgs, kcatMsg{Key: k, Value: v, Null: v == "NULL"})
	}
	return msgs
}

func testAlert(i int) *Alert {
	a := &Alert{
		Timestamp: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		SrcIP:     fmt.Sprintf("192.0.2.%d", i%7+1), SrcPort: uint16(40000 + i%1000),
		DestIP: "198.51.100.1", DestPort: 1883,
		Alert: AlertInfo{Action: "allowed", GID: 1, SignatureID: 2300001, Rev: 1,
			Signature: "MQTT authentication brute force", Category: "auth-bruteforce", Severity: 1},
		MQTT:      &MQTTInfo{ClientID: fmt.Sprintf("dev-%d", i), ProtocolVersion: 4},
		Detection: &Detection{Rule: "auth-bruteforce", Key: Key{SrcIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i%7 + 1)})}, Count: float64(i), WindowS: 30},
	}
	return a
}

// seqOf returns the alert number carried in detection.count.
func seqOf(t testing.TB, v string) int {
	t.Helper()
	var m struct {
		Detection struct{ Count float64 } `json:"detection"`
	}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		t.Fatalf("bad JSON from Kafka %q: %v", v, err)
	}
	return int(m.Detection.Count)
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKafkaSinkKcat(t *testing.T) {
	port := freePort(t)
	c := startKafka(t, port, "alerts")
	defer c.Close()
	for _, comp := range []string{"none", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			topic := "alerts-" + comp
			if err := c.CreateTopic(topic, 3, nil); err != nil {
				t.Fatal(err)
			}
			sink, err := ParseSink(fmt.Sprintf("kafka://127.0.0.1:%d/%s?compression=%s&spool=%s", port, topic, comp, t.TempDir()), SinkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d := NewDispatcher([]Sink{sink}, DispatcherOptions{})
			const n = 3000
			want := map[int]string{}
			for i := 0; i < n; i++ {
				a := testAlert(i)
				want[i] = string(a.AppendJSON(nil))
				d.EmitAlert(a)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
			st := d.Stats()[0]
			if st.Delivered != n || st.Dropped != 0 || st.Failed != 0 || st.Spooled != 0 {
				t.Fatalf("stats %+v", st)
			}
			msgs := kcatRead(t, port, topic)
			if len(msgs) != n {
				t.Fatalf("kcat read %d messages, want %d", len(msgs), n)
			}
			last := map[string]int{}
			for _, m := range msgs {
				i := seqOf(t, m.Value)
				if m.Value != want[i] {
					t.Fatalf("message %d:\n got %s\nwant %s", i, m.Value, want[i])
				}
				if m.Key != testAlert(i).SrcIP {
					t.Fatalf("message %d key %q, want the source IP", i, m.Key)
				}
				// one attacker's alerts are ordered (same key, same partition)
				if p, ok := last[m.Key]; ok && p > i {
					t.Fatalf("key %s: alert %d after %d", m.Key, i, p)
				}
				last[m.Key] = i
				delete(want, i)
			}
			if len(want) != 0 {
				t.Fatalf("%d alerts missing", len(want))
			}
		})
	}
}

// TestKafkaOutage: the broker goes away mid-run, alerts spool; the sensor
// itself restarts while the broker is down; a new broker comes up on the
// same port and receives every alert after the outage, in order, none lost.
func TestKafkaOutage(t *testing.T) {
	port := freePort(t)
	spoolDir := t.TempDir()
	spec := fmt.Sprintf("kafka://127.0.0.1:%d/alerts?spool=%s&write_timeout=2s", port, spoolDir)
	opts := SinkOptions{Kafka: KafkaOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}}
	open := func() (*Dispatcher, Sink) {
		s, err := ParseSink(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		return NewDispatcher([]Sink{s}, DispatcherOptions{}), s
	}

	c := startKafka(t, port, "alerts")
	d, sink := open()
	seq := 0
	emit := func(n int) {
		for i := 0; i < n; i++ {
			d.EmitAlert(testAlert(seq))
			seq++
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // a live sensor, not one burst
			}
		}
	}
	emit(500)
	waitFor(t, "first 500 delivered", 20*time.Second, func() bool { return sink.Counters().Delivered == 500 })
	before := kcatRead(t, port, "alerts")
	if len(before) != 500 {
		t.Fatalf("before the outage kcat read %d, want 500", len(before))
	}
	c.Close()

	emit(400)
	waitFor(t, "400 spooled", 30*time.Second, func() bool { return sink.Counters().Spooled == 400 })
	// SIGTERM while the broker is down: a short deadline, the rest stays.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := d.Close(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "left in spool") {
		t.Fatalf("close while down: %v, want a report of the spooled alerts", err)
	}
	st := d.Stats()[0]
	if st.Pending != 400 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("after close: %+v", st)
	}

	// Restart of mqttids on the same spool: the pending 400 go first,
	// new alerts queue behind them.
	d, sink = open()
	if p := sink.Counters().Pending; p != 400 {
		t.Fatalf("pending after restart %d, want 400", p)
	}
	emit(300)
	waitFor(t, "new alerts spooled", 10*time.Second, func() bool { return sink.Counters().Spooled == 300 })

	c2 := startKafka(t, port, "alerts")
	defer c2.Close()
	waitFor(t, "spool delivered", 30*time.Second, func() bool { return sink.Counters().Delivered == 700 })
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	after := kcatRead(t, port, "alerts")
	if len(after) != 700 {
		t.Fatalf("after the outage kcat read %d, want 700", len(after))
	}
	for i, m := range after {
		if got := seqOf(t, m.Value); got != 500+i {
			t.Fatalf("message %d is alert %d, want %d (order)", i, got, 500+i)
		}
	}
	for i, m := range before {
		if got := seqOf(t, m.Value); got != i {
			t.Fatalf("before: message %d is alert %d", i, got)
		}
	}
	st = d.Stats()[0]
	if st.Pending != 0 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("final stats %+v", st)
	}
}

// TestKafkaBlockTopic: adds and expiries through the block list; kcat
// shows the latest value per key is the current list and expired entries
// are tombstones.
func TestKafkaBlockTopic(t *testing.T) {
	port := freePort(t)
	c := startKafka(t, port)
	defer c.Close()
	if err := c.CreateTopic("blocks", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	ko, err := ParseKafkaURL(fmt.Sprintf("kafka://127.0.0.1:%d/blocks?spool=%s", port, t.TempDir()), KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := NewKafkaBlockEnforcer(ko, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := block.New(block.Options{Enforcers: []block.Enforcer{enf}})
	if err != nil {
		t.Fatal(err)
	}
	l.Block(t0, "src_ip", "192.0.2.7", time.Minute, reason)
	l.Block(t0, "username", "admin", 10*time.Minute, reason)
	l.Block(t0, "client_id", "dev-17", 2*time.Minute, reason)
	l.Block(t0.Add(30*time.Second), "src_ip", "192.0.2.7", 5*time.Minute, reason) // extended
	l.Block(t0.Add(40*time.Second), "src_ip", "198.51.100.0/24", time.Minute, reason)
	l.Tick(t0.Add(3 * time.Minute)) // client_id and the /24 expire
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st := enf.Stats(); st.Delivered != 7 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	msgs := kcatRead(t, port, "blocks")
	if len(msgs) != 7 {
		t.Fatalf("%d messages, want 7: %+v", len(msgs), msgs)
	}
	latest := map[string]kcatMsg{}
	for _, m := range msgs {
		latest[m.Key] = m
	}
	current := map[string]bool{}
	for _, e := range l.Entries() {
		current[e.Target+":"+e.Value] = true
	}
	for k, m := range latest {
		if m.Null == current[k] {
			t.Errorf("key %s: tombstone=%v but current=%v", k, m.Null, current[k])
		}
		if !m.Null {
			var ev map[string]any
			if err := json.Unmarshal([]byte(m.Value), &ev); err != nil || ev["op"] != "add" || k != ev["target"].(string)+":"+ev["value"].(string) {
				t.Errorf("key %s: value %s", k, m.Value)
			}
		}
	}
	if len(current) != 2 || !current["src_ip:192.0.2.7"] || !current["username:admin"] || !latest["client_id:dev-17"].Null || !latest["src_ip:198.51.100.0/24"].Null {
		t.Errorf("current %v latest %+v", current, latest)
	}
}

// TestKafkaSASL: SCRAM and PLAIN handshakes against a SASL-enabled broker,
// read back by kcat with the same credentials; a wrong password delivers
// nothing and spools instead.
func TestKafkaSASL(t *testing.T) {
	for _, mech := range []string{"scram-sha-256", "scram-sha-512", "plain"} {
		t.Run(mech, func(t *testing.T) {
			port := freePort(t)
			kmech := strings.ToUpper(mech)
			c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "alerts"), kfake.EnableSASL(),
				kfake.Superuser(kmech, "ids", "s3cret-pass"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			spec := fmt.Sprintf("kafka://127.0.0.1:%d/alerts?sasl=%s&sasl_user=ids&spool=%s", port, mech, t.TempDir())
			good, err := ParseSink(spec, SinkOptions{Kafka: KafkaOptions{SASLPassword: "s3cret-pass"}})
			if err != nil {
				t.Fatal(err)
			}
			d := NewDispatcher([]Sink{good}, DispatcherOptions{})
			for i := 0; i < 10; i++ {
				d.EmitAlert(testAlert(i))
			}
			closeCtx(t, d)
			if st := d.Stats()[0]; st.Delivered != 10 {
				t.Fatalf("stats %+v", st)
			}

			spec = fmt.Sprintf("kafka://127.0.0.1:%d/alerts?sasl=%s&sasl_user=ids&spool=%s&write_timeout=2s", port, mech, t.TempDir())
			bad, err := ParseSink(spec, SinkOptions{Kafka: KafkaOptions{SASLPassword: "wrong"}})
			if err != nil {
				t.Fatal(err)
			}
			d = NewDispatcher([]Sink{bad}, DispatcherOptions{})
			d.EmitAlert(testAlert(99))
			waitFor(t, "spooled after auth failure", 20*time.Second, func() bool { return d.Stats()[0].Spooled == 1 })
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			d.Close(ctx)
			cancel()
			if st := d.Stats()[0]; st.Delivered != 0 || st.Pending != 1 {
				t.Fatalf("wrong password: %+v", st)
			}

			// Read back with franz-go (another client than the writer's);
			// kcat's librdkafka 2.0 and kfake disagree on the SASL handshake.
			var m sasl.Mechanism
			switch mech {
			case "plain":
				m = plain.Auth{User: "ids", Pass: "s3cret-pass"}.AsMechanism()
			case "scram-sha-256":
				m = scram.Auth{User: "ids", Pass: "s3cret-pass"}.AsSha256Mechanism()
			default:
				m = scram.Auth{User: "ids", Pass: "s3cret-pass"}.AsSha512Mechanism()
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", port)), kgo.SASL(m),
				kgo.ConsumeTopics("alerts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			got := 0
			fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer fcancel()
			for got < 10 && fctx.Err() == nil {
				fs := cl.PollFetches(fctx)
				fs.EachRecord(func(r *kgo.Record) {
					if seqOf(t, string(r.Value)) != got || string(r.Key) != testAlert(got).SrcIP {
						t.Errorf("record %d: %s=%s", got, r.Key, r.Value)
					}
					got++
				})
			}
			if got != 10 {
				t.Fatalf("read %d records, want 10", got)
			}
		})
	}
}

// TestKafkaSpoolFull: no broker and a small spool: what fits is spooled,
// the rest is counted as failed and reported — every alert accounted for.
func TestKafkaSpoolFull(t *testing.T) {
	port := freePort(t) // nothing listens there
	s, err := ParseSink(fmt.Sprintf("kafka://127.0.0.1:%d/alerts?spool=%s&spool_max_bytes=20000&write_timeout=1s", port, t.TempDir()), SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reported []string
	d := NewDispatcher([]Sink{s}, DispatcherOptions{OnError: func(_ string, err error) {
		mu.Lock()
		reported = append(reported, err.Error())
		mu.Unlock()
	}})
	const n = 200
	for i := 0; i < n; i++ {
		d.EmitAlert(testAlert(i))
	}
	waitFor(t, "all accounted", 20*time.Second, func() bool { st := d.Stats()[0]; return st.Spooled+st.Failed == n })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cerr := d.Close(ctx)
	st := d.Stats()[0]
	if st.Spooled == 0 || st.Failed == 0 || st.Dropped != 0 || st.Pending != int64(st.Spooled) {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) == 0 || !strings.Contains(strings.Join(reported, "\n"), "spool full") {
		t.Errorf("spool full not reported: %q", reported)
	}
	if cerr == nil || !strings.Contains(cerr.Error(), "left in spool") {
		t.Errorf("close: %v", cerr)
	}
}
