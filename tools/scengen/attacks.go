package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// tool says which client implementation sends a login attempt.
type tool int

const (
	toolRaw3    tool = iota // hand-written MQTT v3.1.1 (like a scripted attack tool)
	toolRaw5                // hand-written MQTT v5
	toolMosqPub             // mosquitto_pub, v3.1.1
	toolPaho5               // paho.golang, v5
)

// login makes one connection attempt and closes it (DISCONNECT when it was
// accepted). It returns whether the broker accepted the credentials.
func login(ctx context.Context, e *env, t tool, src, clientID string, acc account) (bool, error) {
	switch t {
	case toolMosqPub:
		err := e.mosqPubOnce(ctx, src, clientID, acc, "probe/x", "x")
		return err == nil, nil
	case toolPaho5:
		c, code, err := e.connectV5(ctx, src, clientID, acc, 30, nil)
		if err != nil {
			if code == reasonBadAuth {
				return false, nil
			}
			return false, err
		}
		c.close()
		return true, nil
	default:
		rc, err := dialRaw(ctx, src, e.broker)
		if err != nil {
			return false, err
		}
		v := byte(protocolV311)
		if t == toolRaw5 {
			v = protocolV5
		}
		code, err := rc.connect(connectOpts{version: v, clientID: clientID, username: acc.user, password: acc.pass})
		if err != nil {
			rc.reset()
			return false, err
		}
		if code != 0 {
			rc.drain(time.Second) // the broker closes after a refusal
			_ = rc.c.Close()
			return false, nil
		}
		rc.closeClean()
		return true, nil
	}
}

// guessing tries n wrong passwords for one user, alternating tools, every pace.
func guessing(ctx context.Context, e *env, src, user, prefix string, n int, pace time.Duration, tools ...tool) error {
	refused := 0
	for i := range n {
		acc := account{user, fmt.Sprintf("%s%04d", prefix, i)}
		ok, err := login(ctx, e, tools[i%len(tools)], src, fmt.Sprintf("probe-%d", i%7), acc)
		if err != nil {
			e.logf("guess %d: %v", i, err)
		}
		if ok {
			return fmt.Errorf("guess %d was accepted", i)
		}
		if err == nil {
			refused++
		}
		if !sleepCtx(ctx, pace) {
			break
		}
	}
	e.logf("%s: %d of %d guesses refused", src, refused, n)
	return nil
}

// Guess prefixes: every attempted password starts with one of these, so a
// test can grep outputs for them.
const (
	bruteforcePrefix = "bf-test-guess-"
	lowslowPrefix    = "ls-test-guess-"
	sprayPassword    = "Spr4y-test-Winter2026"
)

func attackBruteforce(src string, n int, pace time.Duration, prefix string, tools ...tool) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return guessing(ctx, e, src, accAdmin.user, prefix, n, pace, tools...)
	}
}

var sprayUsers = []string{
	"admin", "root", "mqtt", "operator", "sensor1", "dashboard", "guest", "test", "user", "iot",
	"device", "pi", "ubuntu", "support", "service", "manager", "plc", "scada", "hmi", "gateway",
	"broker", "mosquitto", "homeassistant", "nodered", "grafana", "telegraf", "backup", "monitor", "api", "dev",
	"user001", "user002", "user003", "user004", "user005", "user006", "user007", "user008", "user009", "user010",
}

func attackSpraying(src string, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		refused := 0
		for i, u := range sprayUsers {
			t := []tool{toolRaw3, toolPaho5}[i%2]
			ok, err := login(ctx, e, t, src, fmt.Sprintf("spray-%d", i%5), account{u, sprayPassword})
			if err != nil {
				e.logf("spray %s: %v", u, err)
			}
			if ok {
				return fmt.Errorf("spray password accepted for %s", u)
			}
			if err == nil {
				refused++
			}
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		e.logf("%s: %d of %d sprays refused", src, refused, len(sprayUsers))
		return nil
	}
}

// attackConnectStorm: src opens n sessions (fresh client ids) every pace,
// and srcFlap reconnects one client id m times.
func attackConnectStorm(src string, n int, pace time.Duration, srcFlap string, m int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		var wg sync.WaitGroup
		var errs [2]error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := login(ctx, e, toolRaw3, src, fmt.Sprintf("storm-%04d", i), accMallory); err != nil {
					errs[0] = err
					return
				}
				if !sleepCtx(ctx, pace) {
					return
				}
			}
		}()
		if srcFlap != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range m {
					if _, err := login(ctx, e, toolPaho5, srcFlap, "plc-7", accMallory); err != nil {
						errs[1] = err
						return
					}
					if !sleepCtx(ctx, 2*pace) {
						return
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs[:]...)
	}
}

// attackFlapping: two sources take one client id from each other in turn;
// the broker closes the older connection each time.
func attackFlapping(srcA, srcB string, rounds int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		var wg sync.WaitGroup
		defer wg.Wait()
		var last *rawConn
		for i := range rounds {
			src := srcA
			if i%2 == 1 {
				src = srcB
			}
			rc, err := dialRaw(ctx, src, e.broker)
			if err != nil {
				return err
			}
			code, err := rc.connect(connectOpts{clientID: "pump-ctrl-3", username: accMallory.user, password: accMallory.pass, keepAlive: 30})
			if err != nil || code != 0 {
				rc.reset()
				return fmt.Errorf("flap %d: code %d: %v", i, code, err)
			}
			_ = rc.write(publishPacket(protocolV311, "pumps/ctrl3/state", 0, 0, fmt.Appendf(nil, `{"round":%d}`, i)))
			last = rc
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc.drain(time.Minute) // returns when the broker closes the taken-over session
				_ = rc.c.Close()
			}()
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		if last != nil {
			last.closeClean()
		}
		return nil
	}
}

// scanFilters returns n distinct topic filters an explorer would try.
func scanFilters(n int) []string {
	roots := []string{"devices", "factory", "home", "sensors", "cmd", "config", "firmware", "admin", "building", "vehicle", "tele", "stat", "zigbee2mqtt", "homeassistant", "shellies"}
	leaves := []string{"#", "+/status", "+/cmd", "+/config", "+/set", "+/+/state", "secret/#", "credentials"}
	var out []string
	for i := 0; len(out) < n; i++ {
		r := roots[i%len(roots)]
		l := leaves[(i/len(roots))%len(leaves)]
		if i >= len(roots)*len(leaves) {
			r = fmt.Sprintf("%s%d", r, i/(len(roots)*len(leaves)))
		}
		out = append(out, r+"/"+l)
	}
	return out
}

// scanTopics returns n distinct concrete topics nobody subscribes to.
func scanTopics(prefix string, n int) []string {
	kinds := []string{"cmd", "set", "config", "reboot", "ota", "debug"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/dev%03d/%s", prefix, i, kinds[i%len(kinds)])
	}
	return out
}

// attackSubscribeScanV5: paho client subscribes to #, $SYS/# and n filters.
func attackSubscribeScanV5(src string, n int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		c, _, err := e.connectV5(ctx, src, "mqtt-explorer-5", accMallory, 60, func(paho.PublishReceived) (bool, error) { return true, nil })
		if err != nil {
			return err
		}
		defer c.close()
		for _, f := range append([]string{"#", "$SYS/#"}, scanFilters(n)...) {
			if err := c.subscribe(ctx, 0, f); err != nil {
				return err
			}
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		sleepCtx(ctx, time.Second)
		return nil
	}
}

// attackSubscribeScanV3: hand-written v3.1.1 client, same idea.
func attackSubscribeScanV3(src string, n int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		rc, err := dialRaw(ctx, src, e.broker)
		if err != nil {
			return err
		}
		if code, err := rc.connect(connectOpts{clientID: "scan-311", username: accMallory.user, password: accMallory.pass}); err != nil || code != 0 {
			rc.reset()
			return fmt.Errorf("subscribe scan connect: code %d: %v", code, err)
		}
		done := make(chan struct{})
		go func() { defer close(done); rc.drain(time.Minute) }()
		for i, f := range append([]string{"#", "$SYS/#", "+/+/+"}, scanFilters(n)...) {
			if err := rc.write(subscribePacket(protocolV311, uint16(i+1), f)); err != nil {
				return err
			}
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		sleepCtx(ctx, time.Second)
		rc.closeClean()
		<-done
		return nil
	}
}

// attackPublishScanV3 publishes to n distinct unsubscribed topics, every
// fifth at QoS 1 (v3.1.1 PUBACK carries no reason code).
func attackPublishScanV3(src string, n int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		rc, err := dialRaw(ctx, src, e.broker)
		if err != nil {
			return err
		}
		if code, err := rc.connect(connectOpts{clientID: "pubscan-311", username: accMallory.user, password: accMallory.pass}); err != nil || code != 0 {
			rc.reset()
			return fmt.Errorf("publish scan connect: code %d: %v", code, err)
		}
		done := make(chan struct{})
		go func() { defer close(done); rc.drain(time.Minute) }()
		for i, t := range scanTopics("ctrl", n) {
			qos := byte(0)
			if i%5 == 0 {
				qos = 1
			}
			if err := rc.write(publishPacket(protocolV311, t, qos, uint16(i+1), []byte(`{"cmd":"status"}`))); err != nil {
				return err
			}
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		sleepCtx(ctx, 500*time.Millisecond)
		rc.closeClean()
		<-done
		return nil
	}
}

// attackPublishScanV5 publishes at QoS 1 so the broker answers each with
// PUBACK 0x10 (no matching subscribers).
func attackPublishScanV5(src string, n int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		c, _, err := e.connectV5(ctx, src, "pubscan-5", accMallory, 60, nil)
		if err != nil {
			return err
		}
		defer c.close()
		noSubs := 0
		for _, t := range scanTopics("actuators", n) {
			code, err := c.publish(ctx, t, 1, []byte(`{"cmd":"open"}`))
			if err != nil {
				return err
			}
			if code == reasonNoSubs {
				noSubs++
			}
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		e.logf("%s: %d of %d publishes answered 0x10", src, noSubs, n)
		return nil
	}
}

// attackIdle holds TCP connections that never send CONNECT (srcSilent) and
// MQTT sessions that only ever ping (srcPing) for hold.
func attackIdle(srcSilent string, silent int, srcPing string, pingers int, hold time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		var wg sync.WaitGroup
		end := time.Now().Add(hold)
		for i := range silent {
			rc, err := dialRaw(ctx, srcSilent, e.broker)
			if err != nil {
				return err
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc.drain(time.Until(end)) // never writes; notes if the broker gives up first
				_ = rc.c.Close()
			}()
			if i < silent-1 && !sleepCtx(ctx, 500*time.Millisecond) {
				break
			}
		}
		for i := range pingers {
			rc, err := dialRaw(ctx, srcPing, e.broker)
			if err != nil {
				return err
			}
			if code, err := rc.connect(connectOpts{clientID: fmt.Sprintf("idle-%d", i), username: accMallory.user, password: accMallory.pass, keepAlive: 5}); err != nil || code != 0 {
				rc.reset()
				return fmt.Errorf("idle connect: code %d: %v", code, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer rc.closeClean()
				for time.Until(end) > 4*time.Second {
					if !sleepCtx(ctx, 4*time.Second) {
						return
					}
					if err := rc.write(pingreqPacket); err != nil {
						return
					}
					if _, _, err := rc.read(3 * time.Second); err != nil {
						return
					}
				}
				sleepCtx(ctx, time.Until(end))
			}()
		}
		wg.Wait()
		return nil
	}
}

// attackFlood: a sensor publishing once a second bursts to ~burstRate/s.
func attackFlood(src string, normal, burst time.Duration, burstRate int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		c, _, err := e.connectV5(ctx, src, "vib-sensor-9", accMallory, 30, nil)
		if err != nil {
			return err
		}
		defer c.close()
		seq := 0
		steady := func(d time.Duration) error {
			for end := time.Now().Add(d); time.Until(end) > 0; seq++ {
				if _, err := c.publish(ctx, "plant/line3/vibration", 0, fmt.Appendf(nil, `{"seq":%d,"rms":0.%02d}`, seq, seq%100)); err != nil {
					return err
				}
				if !sleepCtx(ctx, time.Second) {
					return nil
				}
			}
			return nil
		}
		if err := steady(normal); err != nil {
			return err
		}
		const batch = 10
		gap := time.Second * batch / time.Duration(burstRate)
		for end := time.Now().Add(burst); time.Until(end) > 0; {
			for range batch {
				if _, err := c.publish(ctx, "plant/line3/vibration", 0, fmt.Appendf(nil, `{"seq":%d,"rms":9.%02d}`, seq, seq%100)); err != nil {
					return err
				}
				seq++
			}
			if !sleepCtx(ctx, gap) {
				return nil
			}
		}
		return steady(normal / 2)
	}
}

// attackRST opens n sessions and kills each with a TCP reset, no DISCONNECT.
func attackRST(src string, n int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		for i := range n {
			rc, err := dialRaw(ctx, src, e.broker)
			if err != nil {
				return err
			}
			code, err := rc.connect(connectOpts{clientID: fmt.Sprintf("rst-%03d", i), username: accMallory.user, password: accMallory.pass})
			if err == nil && code == 0 && i%2 == 0 {
				_ = rc.write(pingreqPacket)
				_, _, _ = rc.read(time.Second)
			}
			rc.reset()
			if !sleepCtx(ctx, pace) {
				break
			}
		}
		return nil
	}
}

// attackCleartext logs in with a password over plain TCP, v3.1.1 and v5.
func attackCleartext(src string, rounds int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		for i := range rounds {
			rc, err := dialRaw(ctx, src, e.broker)
			if err != nil {
				return err
			}
			if code, err := rc.connect(connectOpts{clientID: "maint-laptop", username: accMallory.user, password: accMallory.pass}); err != nil || code != 0 {
				rc.reset()
				return fmt.Errorf("cleartext connect: code %d: %v", code, err)
			}
			_ = rc.write(publishPacket(protocolV311, "plant/maint/log", 0, 0, fmt.Appendf(nil, "check %d", i)))
			sleepCtx(ctx, time.Second)
			rc.closeClean()
			if _, err := login(ctx, e, toolPaho5, src, "maint-laptop-5", accMallory); err != nil {
				return err
			}
			if !sleepCtx(ctx, 2*time.Second) {
				break
			}
		}
		return nil
	}
}
