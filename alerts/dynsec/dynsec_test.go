package dynsec

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mqttids/block"
)

const (
	pluginPath = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	adminPass  = "admin-test-pass"
	userPass   = "sensor-test-pass"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

type broker struct {
	t    *testing.T
	port int
	conf string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func (b *broker) start() {
	b.t.Helper()
	b.logs = &bytes.Buffer{}
	b.cmd = exec.Command("mosquitto", "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %d: %s", b.port, b.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends mosquitto like SIGTERM from an init system (it saves the
// dynamic-security state).
func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	if b.t.Failed() {
		b.t.Logf("mosquitto log:\n%s", b.logs.String())
	}
	b.cmd = nil
}

// startMosquitto runs Debian's mosquitto with the dynamic-security plugin
// on 127.0.0.1, an admin user and the given client users.
func startMosquitto(t *testing.T, users ...string) *broker {
	t.Helper()
	return startMosquittoAdmin(t, "admin", users...)
}

// startMosquittoAdmin is startMosquitto with the dynamic-security admin
// named admin.
func startMosquittoAdmin(t *testing.T, admin string, users ...string) *broker {
	t.Helper()
	for _, c := range []string{"mosquitto", "mosquitto_ctrl", "mosquitto_pub"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed (apt-get install mosquitto mosquitto-clients)", c)
		}
	}
	if _, err := os.Stat(pluginPath); err != nil {
		t.Skipf("dynamic-security plugin missing: %v", err)
	}
	// mosquitto started as root drops to user mosquitto, which must read
	// (and, to save changes, write) the configuration: t.TempDir is 0700.
	dir, err := os.MkdirTemp("", "mqttids-dynsec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dsFile := filepath.Join(dir, "dynamic-security.json")
	if out, err := run(t, "mosquitto_ctrl", "dynsec", "init", dsFile, admin, adminPass); err != nil {
		t.Fatalf("dynsec init: %v: %s", err, out)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`per_listener_settings false
listener %d 127.0.0.1
allow_anonymous false
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
plugin %s
plugin_opt_config_file %s
`, port, pluginPath, dsFile)), 0o644)
	if u, err := user.Lookup("mosquitto"); err == nil && os.Geteuid() == 0 {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, dsFile, conf} {
			os.Chown(p, uid, gid)
		}
	}
	os.Chmod(dir, 0o755)
	os.Chmod(dsFile, 0o644)

	b := &broker{t: t, port: port, conf: conf}
	b.start()
	t.Cleanup(b.stop)
	for _, u := range users {
		out, err := run(t, "mosquitto_ctrl", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", admin, "-P", adminPass,
			"dynsec", "createClient", u, "-p", userPass)
		if err != nil {
			t.Fatalf("createClient %s: %v: %s", u, err, out)
		}
	}
	return b
}

// connectV3 connects as user with MQTT 3.1.1 (mosquitto_pub) and reports
// the broker's refusal, if any.
func connectV3(t *testing.T, port int, user string) error {
	t.Helper()
	out, err := run(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-V", "mqttv311",
		"-u", user, "-P", userPass, "-i", "probe-"+user, "-t", "probe", "-m", "x")
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
	}
	return nil
}

func waitStats(t *testing.T, e *Enforcer, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond(e.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s: %+v", what, e.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDynsecBlocksUsername(t *testing.T) {
	port := startMosquitto(t, "sensor1", "other").port
	if err := connectV3(t, port, "sensor1"); err != nil {
		t.Fatalf("before the block sensor1 cannot connect: %v", err)
	}
	var mu sync.Mutex
	var errs []error
	enf, err := New(Options{
		Broker:   fmt.Sprintf("mqtt://127.0.0.1:%d", port),
		Username: "admin", Password: []byte(adminPass),
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := block.New(block.Options{Enforcers: []block.Enforcer{enf}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	reason := block.Reason{SignatureID: 2300001, Category: "auth-bruteforce"}

	if _, ok := l.Block(t0, "username", "sensor1", time.Minute, reason); !ok {
		t.Fatal("block refused")
	}
	l.Block(t0, "src_ip", "192.0.2.7", time.Minute, reason) // not for dynsec: ignored
	waitStats(t, enf, "disableClient reply", func(s Stats) bool { return s.Succeeded == 1 })

	err = connectV3(t, port, "sensor1")
	if err == nil || !strings.Contains(err.Error(), "not authorised") {
		t.Fatalf("blocked sensor1 connect: %v, want CONNACK 5 (not authorised)", err)
	}
	t.Logf("blocked: %v", err)
	if err := connectV3(t, port, "other"); err != nil {
		t.Fatalf("another user is refused: %v", err)
	}

	// packet time passes the TTL: the entry expires and is enabled again.
	l.Tick(t0.Add(30 * time.Second))
	if connectV3(t, port, "sensor1") == nil {
		t.Fatal("sensor1 accepted before the TTL ended")
	}
	l.Tick(t0.Add(61 * time.Second))
	waitStats(t, enf, "enableClient reply", func(s Stats) bool { return s.Succeeded == 2 })
	if err := connectV3(t, port, "sensor1"); err != nil {
		t.Fatalf("after the TTL sensor1 is still refused: %v", err)
	}

	// a username the broker does not know: the reply carries an error
	l.Block(t0.Add(2*time.Minute), "username", "nosuchuser", time.Minute, reason)
	waitStats(t, enf, "failed reply", func(s Stats) bool { return s.Failed == 1 })
	st := enf.Stats()
	if st.Sent != 3 || st.Dropped != 0 || st.Pending != 0 || st.Disabled != 1 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Error(), "nosuchuser") && !strings.Contains(errs[len(errs)-1].Error(), "not found") {
		t.Errorf("errors reported: %v", errs)
	}
}

// TestDynsecBrokerRestart: while the broker is down, Apply does not block
// and commands queue; when it is back the enforcer reconnects (backoff) and
// sends them in order: disable, enable, disable leaves the user disabled.
func TestDynsecBrokerRestart(t *testing.T) {
	b := startMosquitto(t, "late", "other")
	enf, err := New(Options{Broker: fmt.Sprintf("mqtt://127.0.0.1:%d", b.port), Username: "admin", Password: []byte(adminPass),
		ReconnectMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer enf.Close()
	// one round trip so the connection is up before the outage
	enf.Apply(&block.Event{Op: "remove", Target: "username", Value: "other"})
	waitStats(t, enf, "first reply", func(s Stats) bool { return s.Succeeded == 1 })

	b.stop()
	start := time.Now()
	for _, op := range []string{"add", "remove", "add"} {
		if err := enf.Apply(&block.Event{Op: op, Target: "username", Value: "late"}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Apply blocked for %v with the broker down", d)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnects
	b.start()
	waitStats(t, enf, "replies after the restart", func(s Stats) bool { return s.Succeeded+s.Failed >= 4 })
	if st := enf.Stats(); st.Succeeded != 4 || st.Failed != 0 || st.Disabled != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := connectV3(t, b.port, "late"); err == nil || !strings.Contains(err.Error(), "not authorised") {
		t.Fatalf("late connect: %v, want refused (last command was disable)", err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{Broker: "http://x"})
	if err == nil || !strings.Contains(err.Error(), "broker") || !strings.Contains(err.Error(), "username") {
		t.Errorf("err %v", err)
	}
}
