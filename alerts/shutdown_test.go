package alerts

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// stalledBroker accepts TCP connections on 127.0.0.1 and never answers:
// a broker that hangs, not one that is down (a refused connection fails
// fast, a stalled one runs into every timeout).
func stalledBroker(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestKafkaCloseHonoursDeadlineWhenStalled: with the broker stalled, Close
// returns within its deadline (plus a small margin for the disk) and every
// alert not delivered is in the spool, none lost (issue 12, item 10: 35–44 s
// against a 15 s deadline before).
func TestKafkaCloseHonoursDeadlineWhenStalled(t *testing.T) {
	addr := stalledBroker(t)
	dir := t.TempDir()
	spec := fmt.Sprintf("kafka://%s/alerts?spool=%s", addr, dir) // default 10 s write timeout
	s, err := ParseSink(spec, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher([]Sink{s}, DispatcherOptions{})
	const n = 3000
	for i := 0; i < n; i++ {
		d.EmitAlert(testAlert(i))
	}
	time.Sleep(300 * time.Millisecond) // the first batch is stuck in the writer
	const deadline = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = d.Close(ctx)
	took := time.Since(start)
	t.Logf("close took %v (deadline %v): %v", took, deadline, err)
	if took > deadline+500*time.Millisecond {
		t.Errorf("close took %v, deadline %v", took, deadline)
	}
	st := d.Stats()[0]
	if st.Delivered != 0 || st.Failed != 0 || st.Dropped != 0 || st.Pending != n {
		t.Fatalf("after close: %+v, want all %d pending in the spool", st, n)
	}
	// The next run finds them.
	s2, err := ParseSink(spec, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := s2.Counters().Pending; p != n {
		t.Errorf("next run finds %d in the spool, want %d", p, n)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	_ = s2.Close(ctx2)
}
