package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"time"
)

// The clients of the varied scenarios write raw MQTT (wire.go): paho
// publishes one packet per write, far too slow for a burst of 10,000
// messages in 50 ms, and a hand-driven connection also lets the fleet
// clients own their reconnect loop.

// liveConn is a raw session whose incoming packets a goroutine drains;
// lost is closed when the broker closes the connection.
type liveConn struct {
	*rawConn
	version byte
	lost    chan struct{}
}

func openSession(ctx context.Context, e *env, src string, o connectOpts, hold time.Duration) (*liveConn, error) {
	rc, err := dialRaw(ctx, src, e.broker)
	if err != nil {
		return nil, err
	}
	code, err := rc.connect(o)
	if err != nil {
		rc.reset()
		return nil, fmt.Errorf("connect %s from %s: %w", o.clientID, src, err)
	}
	if code != 0 {
		rc.reset()
		return nil, fmt.Errorf("connect %s from %s: refused, code %#x", o.clientID, src, code)
	}
	lc := &liveConn{rawConn: rc, version: o.version, lost: make(chan struct{})}
	go func() { defer close(lc.lost); rc.drain(hold) }()
	return lc, nil
}

// burstChunks is how many writes a burst is spread over.
const burstChunks = 10

// writeBurst writes n QoS 0 publishes in burstChunks writes spread evenly
// over d (the first at once); seq numbers the payloads.
func writeBurst(ctx context.Context, lc *liveConn, topic string, n int, d time.Duration, seq *int) error {
	chunks := make([][]byte, burstChunks)
	for c := range chunks {
		for i := c * n / burstChunks; i < (c+1)*n/burstChunks; i++ {
			chunks[c] = append(chunks[c], publishPacket(lc.version, topic, 0, 0, fmt.Appendf(nil, `{"seq":%d,"rms":9.%02d}`, *seq, *seq%100))...)
			*seq++
		}
	}
	start := time.Now()
	for c, b := range chunks {
		if !sleepCtx(ctx, time.Until(start.Add(d*time.Duration(c)/burstChunks))) {
			return ctx.Err()
		}
		if err := lc.write(b); err != nil {
			return fmt.Errorf("burst chunk %d: %w", c, err)
		}
	}
	return nil
}

// steady publishes once a second for d.
func steady(ctx context.Context, lc *liveConn, topic string, d time.Duration, seq *int) error {
	for end := time.Now().Add(d); time.Until(end) > 0; *seq++ {
		if err := lc.write(publishPacket(lc.version, topic, 0, 0, fmt.Appendf(nil, `{"seq":%d,"rms":0.%02d}`, *seq, *seq%100))); err != nil {
			return err
		}
		if !sleepCtx(ctx, time.Second) {
			return ctx.Err()
		}
	}
	return nil
}

func attackBurstKnown(src string, version byte, histS, n, burstMS, afterS int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		lc, err := openSession(ctx, e, src, connectOpts{version: version, clientID: "vib-sensor-12", username: accMallory.user, password: accMallory.pass, keepAlive: 30}, 5*time.Minute)
		if err != nil {
			return err
		}
		seq := 0
		if err := steady(ctx, lc, topicVibration, time.Duration(histS)*time.Second, &seq); err != nil {
			return err
		}
		e.logf("%s: burst of %d in %d ms", src, n, burstMS)
		if err := writeBurst(ctx, lc, topicVibration, n, time.Duration(burstMS)*time.Millisecond, &seq); err != nil {
			return err
		}
		if !sleepCtx(ctx, time.Second) {
			return ctx.Err()
		}
		if err := steady(ctx, lc, topicVibration, time.Duration(afterS)*time.Second, &seq); err != nil {
			return err
		}
		select {
		case <-lc.lost:
			return fmt.Errorf("%s: the broker closed the connection", src)
		default:
		}
		lc.closeClean()
		return nil
	}
}

func attackBurstNew(src string, version byte, n, burstMS, idleS int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		lc, err := openSession(ctx, e, src, connectOpts{version: version, clientID: "fl00d-85", username: accMallory.user, password: accMallory.pass, keepAlive: 60}, time.Minute)
		if err != nil {
			return err
		}
		seq := 0
		if err := writeBurst(ctx, lc, topicVibration, n, time.Duration(burstMS)*time.Millisecond, &seq); err != nil {
			return err
		}
		// Give the broker time to read the last chunk before DISCONNECT.
		sleepCtx(ctx, max(time.Duration(idleS)*time.Second, 300*time.Millisecond))
		lc.closeClean()
		return nil
	}
}

// attackMalaria: k sessions from one address, each publishing rate/k msg/s
// in 20 ms ticks, for d.
func attackMalaria(src string, k, rate int, d time.Duration, topics int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		conns := make([]*liveConn, k)
		for i := range conns {
			lc, err := openSession(ctx, e, src, connectOpts{clientID: fmt.Sprintf("malaria-%d", i), username: accMallory.user, password: accMallory.pass, keepAlive: 60}, time.Minute)
			if err != nil {
				return err
			}
			conns[i] = lc
		}
		var wg sync.WaitGroup
		errs := make([]error, k)
		start := time.Now()
		for i, lc := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer lc.closeClean()
				sent := 0
				for el := time.Duration(0); el < d; el = time.Since(start) {
					want := int(int64(rate) * int64(el+20*time.Millisecond) / int64(k) / int64(time.Second))
					var b []byte
					for ; sent < want; sent++ {
						b = append(b, publishPacket(protocolV311, fmt.Sprintf("plant/line4/stress/%d", (sent+i)%topics), 0, 0, fmt.Appendf(nil, `{"c":%d,"n":%d,"load":"xxxxxxxx"}`, i, sent))...)
					}
					if len(b) > 0 {
						if err := lc.write(b); err != nil {
							errs[i] = err
							return
						}
					}
					if !sleepCtx(ctx, 20*time.Millisecond) {
						return
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

// attackSlowITe opens n sessions back to back and keeps them silent for
// hold after the last CONNECT.
func attackSlowITe(src string, version byte, n int, keepAlive uint16, hold time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		var conns []*rawConn
		defer func() {
			for _, rc := range conns {
				_ = rc.c.Close() // FIN, no DISCONNECT: the attacker just goes away
			}
		}()
		for i := range n {
			rc, err := dialRaw(ctx, src, e.broker)
			if err != nil {
				return err
			}
			conns = append(conns, rc)
			code, err := rc.connect(connectOpts{version: version, clientID: fmt.Sprintf("slowite-%03d", i), username: accMallory.user, password: accMallory.pass, keepAlive: keepAlive})
			if err != nil || code != 0 {
				return fmt.Errorf("slowite session %d: code %d: %v", i, code, err)
			}
		}
		e.logf("%s: %d silent sessions open", src, len(conns))
		sleepCtx(ctx, hold)
		return nil
	}
}

// restartBroker kills the broker with SIGKILL and starts it again after down.
func restartBroker(down time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		if e.restartCmd == "" {
			return errors.New("broker restart needs -restart-cmd")
		}
		run := func(arg string) error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(cctx, e.restartCmd, arg).CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s: %w: %s", e.restartCmd, arg, err, firstLine(out))
			}
			return nil
		}
		if err := run("kill"); err != nil {
			return err
		}
		e.logf("broker killed; down for %v", down)
		if !sleepCtx(ctx, down) {
			return ctx.Err()
		}
		return run("start")
	}
}

// Back-off of the fleet clients: like autopaho's exponential back-off, 1 s
// doubling up to 30 s, each wait jittered by a factor in [0.5, 1.5).
const (
	backoffFirst = time.Second
	backoffCap   = 30 * time.Second
)

func benignFleet(n int, plans []fleetPlan, d time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Staggered joins over the first 3 s, as after a site power-up.
				if !sleepCtx(ctx, time.Duration(i)*3*time.Second/time.Duration(n)) {
					return
				}
				errs[i] = fleetClient(ctx, e, i, plans[i], end)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

// fleetClient publishes telemetry until end and reconnects (with back-off)
// and resubscribes whenever the connection is lost.
func fleetClient(ctx context.Context, e *env, i int, p fleetPlan, end time.Time) error {
	src := fleetAddr(i)
	id := fmt.Sprintf("fleet-%02d", i)
	topic := fleetTopic(i)
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	backoff := backoffFirst
	wait := func() bool {
		w := backoff/2 + time.Duration(rng.Int64N(int64(backoff)))
		backoff = min(2*backoff, backoffCap)
		return sleepCtx(ctx, min(w, time.Until(end)))
	}
	seq := 0
	for attempt := 0; attempt < 100 && time.Until(end) > time.Second; attempt++ {
		lc, err := openSession(ctx, e, src, connectOpts{version: p.version, clientID: id, username: accFleet.user, password: accFleet.pass, keepAlive: 30}, time.Until(end)+5*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !wait() {
				return nil
			}
			continue
		}
		backoff = backoffFirst
		lost := false
		if p.subscribe {
			lost = lc.write(subscribePacket(p.version, uint16(attempt+1), fleetFilter(i))) != nil
		}
		for time.Until(end) > 0 && !lost {
			if err := lc.write(publishPacket(p.version, topic, 0, 0, reading(rng, seq, "kW"))); err != nil {
				lost = true
				break
			}
			seq++
			t := time.NewTimer(min(jitter(rng, p.period), time.Until(end)))
			select {
			case <-ctx.Done():
				t.Stop()
				lc.closeClean()
				return nil
			case <-lc.lost:
				lost = true
			case <-t.C:
			}
			t.Stop()
		}
		if !lost {
			lc.closeClean()
			return nil
		}
		_ = lc.c.Close()
		e.logf("%s: connection lost, reconnecting", id)
		if !wait() {
			return nil
		}
	}
	return nil
}

// benignGateway publishes rate msg/s over topics in 20 ms batches from its
// first second, for d, then disconnects.
func benignGateway(src string, rate, topics int, d time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		lc, err := openSession(ctx, e, src, connectOpts{version: protocolV5, clientID: "edge-gw-1", username: accGateway.user, password: accGateway.pass, keepAlive: 30}, d+10*time.Second)
		if err != nil {
			return err
		}
		defer lc.closeClean()
		rng := rand.New(rand.NewPCG(9, uint64(time.Now().UnixNano())))
		start := time.Now()
		sent := 0
		for el := time.Duration(0); el < d; el = time.Since(start) {
			want := int(int64(rate) * int64(min(el+20*time.Millisecond, d)) / int64(time.Second))
			var b []byte
			for ; sent < want; sent++ {
				b = append(b, publishPacket(protocolV5, fmt.Sprintf("plant/gw/edge/dev%02d/telemetry", sent%topics), 0, 0, reading(rng, sent, "V"))...)
			}
			if len(b) > 0 {
				if err := lc.write(b); err != nil {
					return err
				}
			}
			if !sleepCtx(ctx, 20*time.Millisecond) {
				return nil
			}
		}
		e.logf("%s: %d publishes in %v", src, sent, time.Since(start).Round(time.Millisecond))
		return nil
	}
}
