package pipeline

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mqttids/internal/config"
)

// stalledBroker accepts on 127.0.0.1 and never answers.
func stalledBroker(t *testing.T) string {
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

// TestHealthFailsWhileSinkStalls is issue 12 item 11: /healthz stayed 200
// through a Kafka stall because it only looked at failed alerts (the spool
// took them all). With alerts waiting longer than health.sink_stall it
// fails now, and it is healthy again while the sink is idle.
func TestHealthFailsWhileSinkStalls(t *testing.T) {
	cfg := config.Default()
	cfg.Alerts = []string{fmt.Sprintf("kafka://%s/alerts?write_timeout=30s", stalledBroker(t))}
	cfg.Output.SpoolDir = t.TempDir()
	cfg.Health.SinkStall = 300 * time.Millisecond
	s, err := New(Options{Config: cfg, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	s.closeTimeout = time.Second
	defer s.Close()
	if err := s.Health(); err != nil {
		t.Fatalf("healthy at start: %v", err)
	}
	if err := s.ReplayFile(context.Background(), writeBruteForce(t, false)); err != nil {
		t.Fatal(err)
	}
	s.cap.Flush()
	time.Sleep(100 * time.Millisecond)
	if err := s.Health(); err != nil {
		t.Fatalf("unhealthy before health.sink_stall: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.Health()
		if err != nil {
			if !strings.Contains(err.Error(), "delivered nothing") {
				t.Fatalf("health: %v", err)
			}
			t.Logf("health: %v", err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still healthy with a stalled sink: %+v", s.disp.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHealthIdleSinkIsHealthy: a sink with nothing to do is never stalled,
// however long since it last delivered.
func TestHealthIdleSinkIsHealthy(t *testing.T) {
	cfg := config.Default()
	cfg.Alerts = []string{fmt.Sprintf("kafka://%s/alerts", stalledBroker(t))}
	cfg.Output.SpoolDir = t.TempDir()
	cfg.Health.SinkStall = 50 * time.Millisecond
	s, err := New(Options{Config: cfg, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	s.closeTimeout = time.Second
	defer s.Close()
	time.Sleep(200 * time.Millisecond)
	if err := s.Health(); err != nil {
		t.Fatalf("idle sink unhealthy: %v", err)
	}
}

// TestHealthCaptureStall: live capture is unhealthy once the kernel has
// counted frames for the sockets that capture has not read for longer than
// health.capture_stall; a quiet link (the kernel counts nothing) is not.
func TestHealthCaptureStall(t *testing.T) {
	cfg := config.Default()
	cfg.Health.CaptureStall = 10 * time.Second
	s, err := New(Options{Config: cfg, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kernel uint64
	s.SetKernelPackets(func() uint64 { return kernel })
	t0 := time.Now()
	if err := s.captureHealth(t0); err != nil {
		t.Fatal(err)
	}
	// quiet link: nothing counted, nothing read, for a minute
	if err := s.captureHealth(t0.Add(time.Minute)); err != nil {
		t.Fatalf("quiet link: %v", err)
	}
	kernel = 500 // frames arrive, the reader is stuck
	if err := s.captureHealth(t0.Add(time.Minute + 5*time.Second)); err != nil {
		t.Fatalf("within capture_stall: %v", err)
	}
	err = s.captureHealth(t0.Add(time.Minute + 11*time.Second))
	if err == nil || !strings.Contains(err.Error(), "capture stalled") {
		t.Fatalf("stalled reader: %v", err)
	}
	// the reader catches up
	if err := s.ReplayFile(context.Background(), writeBruteForce(t, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.captureHealth(t0.Add(2 * time.Minute)); err != nil {
		t.Fatalf("reader reads again: %v", err)
	}
}
