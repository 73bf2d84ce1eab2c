package alerts

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"mqttids/block"
)

var externalBroker = flag.Bool("external-broker", false, "benchmarks: run kfake in a process of its own (internal/kfakebroker)")

// startExternalKafka builds and starts internal/kfakebroker on port; it is
// killed when the benchmark ends.
func startExternalKafka(b *testing.B, port int) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "kfakebroker")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./internal/kfakebroker").CombinedOutput(); err != nil {
		b.Fatalf("build kfakebroker: %v: %s", err, out)
	}
	cmd := exec.Command(bin, "-port", strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("kfakebroker: %q %v", line, err)
	}
}

// ackClock records when each alert was acknowledged: the sink delivers in
// emission order (one partition-ordered writer, no drops in these runs), so
// the k-th acknowledged record is the k-th emitted alert.
type ackClock struct {
	mu   sync.Mutex
	n    int
	acks []time.Time
}

func (c *ackClock) delivered(n int) {
	now := time.Now()
	c.mu.Lock()
	for i := 0; i < n && c.n < len(c.acks); i++ {
		c.acks[c.n] = now
		c.n++
	}
	c.mu.Unlock()
}

func (c *ackClock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// benchKafka emits n alerts through a Dispatcher and a KafkaSink into kfake;
// every is the pause after each group of `group` alerts (0: as fast as
// possible). It reports alerts/s and the latency from EmitAlert to the
// broker's acknowledgement.
func benchKafka(b *testing.B, n, group int, every, batchTimeout time.Duration) {
	port := freePort(b)
	if *externalBroker {
		startExternalKafka(b, port)
	} else {
		c := startKafka(b, port, "alerts")
		defer c.Close()
	}
	clock := &ackClock{acks: make([]time.Time, n)}
	sink, err := NewKafkaSink(KafkaOptions{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Topic: "alerts",
		BatchSize: 1000, BatchTimeout: batchTimeout, Acks: "all", OnDelivered: clock.delivered, SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	d := NewDispatcher([]Sink{sink}, DispatcherOptions{QueueLen: n + 1, BatchMax: 1000})
	alerts := make([]*Alert, 1000)
	for i := range alerts {
		alerts[i] = testAlert(i)
	}
	b.SetBytes(int64(len(alerts[0].AppendJSON(nil))))
	b.ReportAllocs()
	// warm up the connection and metadata
	d.EmitAlert(alerts[0])
	waitFor(b, "warm-up", 10*time.Second, func() bool { return sink.Counters().Delivered == 1 })
	clock.mu.Lock()
	clock.n = 0
	clock.mu.Unlock()

	emitted := make([]time.Time, n)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i++ {
		emitted[i] = time.Now()
		d.EmitAlert(alerts[i%len(alerts)])
		if every > 0 && i%group == group-1 {
			time.Sleep(time.Until(start.Add(time.Duration(i/group+1) * every)))
		}
	}
	waitFor(b, "all acknowledged", 60*time.Second, func() bool { return clock.count() == n })
	elapsed := time.Since(start)
	b.StopTimer()
	st := d.Stats()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.Close(ctx)
	if st.Dropped != 0 || st.Spooled != 0 || st.Failed != 0 {
		b.Fatalf("stats %+v", st)
	}
	lat := make([]time.Duration, n)
	for i := range lat {
		lat[i] = clock.acks[i].Sub(emitted[i])
	}
	if testing.Verbose() {
		// where the slow ones are, in 100 ms buckets of emission time
		buckets := map[int]time.Duration{}
		for i, l := range lat {
			k := int(emitted[i].Sub(start) / (100 * time.Millisecond))
			buckets[k] = max(buckets[k], l)
		}
		b.Logf("max latency per 100 ms of emission: %v", buckets)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "alerts/s")
	if every == 0 {
		return // a burst measures throughput; its latency is queueing
	}
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max_ms")
}

// Settings of all Kafka benchmarks: one partition, acks=all, batch size
// 1000 (writer and dispatcher), no compression, kfake in-process.

// BenchmarkKafkaSinkBurst: b.N alerts emitted at once (the queue holds
// them all); throughput of the sink. Run with -benchtime=200000x.
func BenchmarkKafkaSinkBurst(b *testing.B) { benchKafka(b, b.N, 0, 0, 10*time.Millisecond) }

// BenchmarkKafkaSinkPaced50k: b.N alerts at 50 k alerts/s (50 per ms):
// latency from EmitAlert to acknowledgement below saturation.
func BenchmarkKafkaSinkPaced50k(b *testing.B) {
	benchKafka(b, b.N, 50, time.Millisecond, 10*time.Millisecond)
}

// BenchmarkKafkaWriterBaseline: kafka-go's Writer alone with pre-encoded
// messages in synchronous 1000-message calls, same settings — the ceiling
// for the sink.
func BenchmarkKafkaWriterBaseline(b *testing.B) {
	port := freePort(b)
	if *externalBroker {
		startExternalKafka(b, port)
	} else {
		c := startKafka(b, port, "alerts")
		defer c.Close()
	}
	w := &kafka.Writer{Addr: kafka.TCP(fmt.Sprintf("127.0.0.1:%d", port)), Topic: "alerts", Balancer: kafka.Murmur2Balancer{},
		BatchSize: 1000, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		a := testAlert(i)
		msgs[i] = kafka.Message{Key: []byte(a.SrcIP), Value: a.AppendJSON(nil)}
	}
	b.SetBytes(int64(len(msgs[0].Value)))
	b.ReportAllocs()
	w.WriteMessages(context.Background(), msgs[0])
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += len(msgs) {
		batch := msgs[:min(len(msgs), b.N-i)]
		if err := w.WriteMessages(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "alerts/s")
}

// BenchmarkEmitAlert: the packet path's cost of EmitAlert (queueing only).
func BenchmarkEmitAlert(b *testing.B) {
	d := NewDispatcher([]Sink{NewWriterSink("discard", io.Discard)}, DispatcherOptions{})
	defer d.Close(context.Background())
	a := testAlert(1)
	b.ReportAllocs()
	for b.Loop() {
		d.EmitAlert(a)
	}
}

// BenchmarkKafkaSinkPaced100k: as above at 100 k alerts/s (100 per ms),
// with the default 10 ms batch timeout and with 2 ms (a synchronous
// kafka-go write of a partial batch waits the batch timeout: it is the
// floor of the latency).
func BenchmarkKafkaSinkPaced100k(b *testing.B) {
	b.Run("batch_timeout=10ms", func(b *testing.B) { benchKafka(b, b.N, 100, time.Millisecond, 10*time.Millisecond) })
	b.Run("batch_timeout=2ms", func(b *testing.B) { benchKafka(b, b.N, 100, time.Millisecond, 2*time.Millisecond) })
}

func TestEmitAllocs(t *testing.T) {
	d := NewDispatcher([]Sink{NewWriterSink("discard", io.Discard), NewWriterSink("discard2", io.Discard)}, DispatcherOptions{})
	defer d.Close(context.Background())
	a := testAlert(1)
	ev := &block.Event{Op: "add", Target: "src_ip", Value: "192.0.2.7"}
	if n := testing.AllocsPerRun(1000, func() {
		d.EmitAlert(a)
		d.EmitBlock(ev)
	}); n != 0 {
		t.Errorf("EmitAlert+EmitBlock allocate %.1f times", n)
	}
}
