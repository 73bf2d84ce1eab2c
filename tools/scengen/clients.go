package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// account is a broker user from the password file record.sh writes.
type account struct{ user, pass string }

// The accounts record.sh puts in the broker's password file. Every password is
// an obviously fake test value listed in the labels' secret_markers.
var (
	accSensor1   = account{"sensor1", "s3nsor1-test-pw"}
	accSensor2   = account{"sensor2", "s3nsor2-test-pw"}
	accSensor3   = account{"sensor3", "s3nsor3-test-pw"}
	accDashboard = account{"dashboard", "dashb0ard-test-pw"}
	accHistorian = account{"historian", "h1storian-test-pw"}
	accGateway   = account{"gateway", "gatew4y-test-pw"}
	accOperator  = account{"operator", "0perator-test-pw"}
	accMallory   = account{"mallory", "m4llory-test-pw"} // stolen credentials the attackers use
	accAdmin     = account{"admin", "adm1n-test-pw"}     // brute-force target, never guessed
	accFleet     = account{"fleet", "fl33t-test-pw"}     // the benign-broker-restart fleet (fleet/#)
	accounts     = []account{accSensor1, accSensor2, accSensor3, accDashboard, accHistorian, accGateway, accOperator, accMallory, accAdmin, accFleet}

	operatorTypo = "0perator-test-typo"
)

const payloadMarker = "PAYLOAD-MARKER-7f3a"

// env is what every scenario needs: where the broker is and which client
// binaries to run.
type env struct {
	broker    string // host:port
	host      string
	port      string
	pubBin    string // mosquitto_pub
	subBin    string // mosquitto_sub
	logf      func(format string, args ...any)
	bgSession bool // background clients use short sessions (for -stretch)
	// restartCmd restarts the broker: "CMD kill" (SIGKILL) and "CMD start".
	restartCmd string
}

func (e *env) dial(ctx context.Context, src string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", e.broker)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", e.broker, src, err)
	}
	return c, nil
}

// v5client is a paho.golang MQTT v5 client bound to a source address.
type v5client struct {
	*paho.Client
	conn net.Conn
}

// connectV5 connects with paho; on refusal it returns the reason code and
// an error, the connection closed.
func (e *env) connectV5(ctx context.Context, src, clientID string, acc account, keepAlive uint16, onMsg func(paho.PublishReceived) (bool, error)) (*v5client, byte, error) {
	conn, err := e.dial(ctx, src)
	if err != nil {
		return nil, 0, err
	}
	cfg := paho.ClientConfig{ClientID: clientID, Conn: conn, OnClientError: func(error) {}}
	if onMsg != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onMsg}
	}
	c := paho.NewClient(cfg)
	cp := &paho.Connect{ClientID: clientID, KeepAlive: keepAlive, CleanStart: true}
	if acc.user != "" {
		cp.Username, cp.UsernameFlag = acc.user, true
	}
	if acc.pass != "" {
		cp.Password, cp.PasswordFlag = []byte(acc.pass), true
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ca, err := c.Connect(cctx, cp)
	if err != nil {
		_ = conn.Close()
		var code byte
		if ca != nil {
			code = ca.ReasonCode
		}
		return nil, code, fmt.Errorf("connect %s as %s: %w", clientID, acc.user, err)
	}
	return &v5client{Client: c, conn: conn}, ca.ReasonCode, nil
}

func (c *v5client) publish(ctx context.Context, topic string, qos byte, payload []byte) (byte, error) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := c.Publish(pctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload})
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", topic, err)
	}
	if r == nil {
		return 0, nil
	}
	return r.ReasonCode, nil
}

func (c *v5client) subscribe(ctx context.Context, qos byte, filters ...string) error {
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: qos})
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Subscribe(sctx, s); err != nil {
		return fmt.Errorf("subscribe %v: %w", filters, err)
	}
	return nil
}

// close sends DISCONNECT (reason 0) and waits for paho to wind down.
func (c *v5client) close() {
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		_ = c.conn.Close()
	}
}

// mosqArgs are the common mosquitto_pub/mosquitto_sub arguments for an
// MQTT v3.1.1 client bound to src.
func (e *env) mosqArgs(src, clientID string, acc account) []string {
	return []string{"-h", e.host, "-p", e.port, "-A", src, "-V", "mqttv311", "-i", clientID, "-u", acc.user, "-P", acc.pass}
}

// mosqPubOnce runs mosquitto_pub for a single message and returns its exit
// error (non-nil when the broker refused the connection).
func (e *env) mosqPubOnce(ctx context.Context, src, clientID string, acc account, topic, msg string) error {
	args := append(e.mosqArgs(src, clientID, acc), "-t", topic, "-m", msg, "-q", "1")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, e.pubBin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_pub %s: %w: %s", clientID, err, firstLine(out))
	}
	return nil
}

// mosqPubLines starts mosquitto_pub -l: each line written to the returned
// writer is published; closing it makes mosquitto_pub disconnect cleanly.
func (e *env) mosqPubLines(ctx context.Context, src, clientID string, acc account, topic string) (io.WriteCloser, func() error, error) {
	args := append(e.mosqArgs(src, clientID, acc), "-t", topic, "-l", "-q", "0")
	cmd := exec.CommandContext(ctx, e.pubBin, args...)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start mosquitto_pub: %w", err)
	}
	return w, cmd.Wait, nil
}

// mosqSub runs mosquitto_sub for d (its -W timeout makes it disconnect cleanly).
func (e *env) mosqSub(ctx context.Context, src, clientID string, acc account, d time.Duration, filters ...string) error {
	args := e.mosqArgs(src, clientID, acc)
	for _, f := range filters {
		args = append(args, "-t", f)
	}
	args = append(args, "-W", strconv.Itoa(int(d/time.Second)))
	cctx, cancel := context.WithTimeout(ctx, d+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, e.subBin, args...)
	cmd.Stdout = io.Discard
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 27 { // -W timeout reached
		return nil
	}
	return err
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// sleepCtx sleeps d or until ctx ends; it reports whether the full d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
