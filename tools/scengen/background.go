package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Benign client addresses (127.0.0.10–127.0.0.49). The labels name them.
const (
	srcSensor1   = "127.0.0.10" // v5 (paho), plant/line1/temp every 0.5 s
	srcSensor2   = "127.0.0.11" // v3.1.1 (mosquitto_pub -l), plant/line1/pressure every 1 s
	srcSensor3   = "127.0.0.12" // v5 (paho) QoS 1, plant/line2/flow every 0.7 s
	srcDashboard = "127.0.0.20" // v5 (paho), subscribed to plant/#
	srcHistorian = "127.0.0.21" // v3.1.1 (mosquitto_sub), plant/+/temp and plant/ops/#
	srcGateway   = "127.0.0.30" // v5 (paho), reconnects once
	srcOperator  = "127.0.0.31" // v3.1.1 (mosquitto_pub), mistypes its password once
)

// benignSources lists the addresses background traffic uses in each mode.
func benignSources(session bool) []string {
	if session {
		return []string{srcSensor1, srcSensor3, srcDashboard, srcGateway, srcOperator}
	}
	return []string{srcSensor1, srcSensor2, srcSensor3, srcDashboard, srcHistorian, srcGateway, srcOperator}
}

// background runs the benign clients for d and returns when they have all
// disconnected. Errors are logged, not fatal: background traffic is
// scenery, and a scenario checks its own attack traffic.
func background(ctx context.Context, e *env, d time.Duration) {
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	run := func(name string, delay time.Duration, f func(ctx context.Context, end time.Time) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(ctx, delay) {
				return
			}
			if err := f(ctx, end); err != nil {
				e.logf("background %s: %v", name, err)
			}
		}()
	}
	if e.bgSession {
		run("dashboard", 0, func(ctx context.Context, end time.Time) error {
			return sessions(ctx, end, 5*time.Second, 500*time.Millisecond, func(ctx context.Context, until time.Time) error {
				return dashboard(ctx, e, until)
			})
		})
		run("sensor1", 700*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sessions(ctx, end, 4*time.Second, time.Second, func(ctx context.Context, until time.Time) error {
				return sensorV5(ctx, e, srcSensor1, "sensor-l1-temp", accSensor1, "plant/line1/temp", 1, 500*time.Millisecond, until)
			})
		})
		run("sensor3", 1500*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sessions(ctx, end, 4*time.Second, 1500*time.Millisecond, func(ctx context.Context, until time.Time) error {
				return sensorV5(ctx, e, srcSensor3, "sensor-l2-flow", accSensor3, "plant/line2/flow", 1, 700*time.Millisecond, until)
			})
		})
		run("gateway", 2500*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sessions(ctx, end, 3*time.Second, 2*time.Second, func(ctx context.Context, until time.Time) error {
				return sensorV5(ctx, e, srcGateway, "gateway-7", accGateway, "plant/gw/status", 1, time.Second, until)
			})
		})
	} else {
		run("dashboard", 0, func(ctx context.Context, end time.Time) error { return dashboard(ctx, e, end) })
		run("historian", 0, func(ctx context.Context, end time.Time) error {
			return e.mosqSub(ctx, srcHistorian, "historian", accHistorian, time.Until(end), "plant/+/temp", "plant/ops/#")
		})
		run("sensor1", 500*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sensorV5(ctx, e, srcSensor1, "sensor-l1-temp", accSensor1, "plant/line1/temp", 0, 500*time.Millisecond, end.Add(-500*time.Millisecond))
		})
		run("sensor2", 600*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sensorV3(ctx, e, end.Add(-500*time.Millisecond))
		})
		run("sensor3", 700*time.Millisecond, func(ctx context.Context, end time.Time) error {
			return sensorV5(ctx, e, srcSensor3, "sensor-l2-flow", accSensor3, "plant/line2/flow", 1, 700*time.Millisecond, end.Add(-500*time.Millisecond))
		})
		run("gateway", 800*time.Millisecond, func(ctx context.Context, end time.Time) error {
			mid := start.Add(d / 2)
			if err := sensorV5(ctx, e, srcGateway, "gateway-7", accGateway, "plant/gw/status", 1, 2*time.Second, mid); err != nil {
				return err
			}
			if !sleepCtx(ctx, 1500*time.Millisecond) {
				return nil
			}
			return sensorV5(ctx, e, srcGateway, "gateway-7", accGateway, "plant/gw/status", 1, 2*time.Second, end.Add(-500*time.Millisecond))
		})
	}
	run("operator", d/3, func(ctx context.Context, end time.Time) error { return operator(ctx, e) })
	wg.Wait()
}

// sessions repeats f in sessions of length on separated by off until end.
func sessions(ctx context.Context, end time.Time, on, off time.Duration, f func(ctx context.Context, until time.Time) error) error {
	for time.Until(end) > on/2 {
		until := time.Now().Add(on)
		if until.After(end) {
			until = end
		}
		if err := f(ctx, until); err != nil {
			return err
		}
		if !sleepCtx(ctx, off) {
			return nil
		}
	}
	return nil
}

func dashboard(ctx context.Context, e *env, until time.Time) error {
	c, _, err := e.connectV5(ctx, srcDashboard, "dashboard-1", accDashboard, 60, func(paho.PublishReceived) (bool, error) { return true, nil })
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.subscribe(ctx, 0, "plant/#"); err != nil {
		return err
	}
	sleepCtx(ctx, time.Until(until))
	return nil
}

// reading is a telemetry payload; every fourth carries the payload marker
// that no mqttids output may ever contain.
func reading(rng *rand.Rand, seq int, unit string) []byte {
	v := 20 + rng.Float64()*5
	if seq%4 == 0 {
		return fmt.Appendf(nil, `{"seq":%d,"value":%.2f,"unit":%q,"note":%q}`, seq, v, unit, payloadMarker)
	}
	return fmt.Appendf(nil, `{"seq":%d,"value":%.2f,"unit":%q}`, seq, v, unit)
}

func jitter(rng *rand.Rand, every time.Duration) time.Duration {
	return every - every/10 + time.Duration(rng.Int64N(int64(every/5)))
}

// sensorV5 publishes telemetry every ~every until the deadline, then disconnects.
func sensorV5(ctx context.Context, e *env, src, id string, acc account, topic string, qos byte, every time.Duration, until time.Time) error {
	rng := rand.New(rand.NewPCG(uint64(len(id)), uint64(time.Now().UnixNano())))
	c, _, err := e.connectV5(ctx, src, id, acc, 30, nil)
	if err != nil {
		return err
	}
	defer c.close()
	for seq := 0; time.Until(until) > 0; seq++ {
		if _, err := c.publish(ctx, topic, qos, reading(rng, seq, "C")); err != nil {
			return err
		}
		if !sleepCtx(ctx, min(jitter(rng, every), time.Until(until))) {
			return nil
		}
	}
	return nil
}

// sensorV3 feeds mosquitto_pub -l one reading a second.
func sensorV3(ctx context.Context, e *env, until time.Time) error {
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	w, wait, err := e.mosqPubLines(ctx, srcSensor2, "sensor-l1-press", accSensor2, "plant/line1/pressure")
	if err != nil {
		return err
	}
	for seq := 0; time.Until(until) > 0; seq++ {
		line := append(reading(rng, seq, "bar"), '\n')
		if _, err := w.Write(line); err != nil {
			break
		}
		if !sleepCtx(ctx, min(jitter(rng, time.Second), time.Until(until))) {
			break
		}
	}
	_ = w.Close()
	return wait()
}

// operator mistypes the password once, then logs in and posts a note.
func operator(ctx context.Context, e *env) error {
	typo := account{accOperator.user, operatorTypo}
	if err := e.mosqPubOnce(ctx, srcOperator, "operator-console", typo, "plant/ops/note", "shift start"); err == nil {
		return fmt.Errorf("operator: wrong password was accepted")
	}
	if !sleepCtx(ctx, 2*time.Second) {
		return nil
	}
	return e.mosqPubOnce(ctx, srcOperator, "operator-console", accOperator, "plant/ops/note", "shift start "+payloadMarker)
}
