package dynsec

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"mqttids/alerts"
	"mqttids/block"
	"mqttids/internal/redact"
)

// Topics of the dynamic-security plugin's control API.
const (
	ControlTopic  = "$CONTROL/dynamic-security/v1"
	ResponseTopic = "$CONTROL/dynamic-security/v1/response"
)

// Options configure an Enforcer; Broker and Username are required.
type Options struct {
	Broker   string // mqtt://HOST:PORT or tls://HOST:PORT
	TLS      *tls.Config
	Username string // a dynsec admin (role with the control topics)
	Password []byte // never logged
	ClientID string // default "mqttids-dynsec"

	QueueLen     int           // commands waiting; default 4096
	ReplyTimeout time.Duration // a command without reply by then failed; default 10 s
	// ReconnectMin and ReconnectMax bound the reconnect backoff
	// (default 100 ms and 30 s).
	ReconnectMin, ReconnectMax time.Duration
	// EnableOnClose re-enables, at Close, every client this enforcer
	// disabled and did not enable again.
	EnableOnClose bool
	// OnError, when set, receives failures (replies with an error,
	// timeouts, connection errors).
	OnError func(error)
}

// Stats are the enforcer's counters.
type Stats struct {
	Sent      uint64 `json:"sent"`      // commands published
	Succeeded uint64 `json:"succeeded"` // replies without error
	Failed    uint64 `json:"failed"`    // replies with an error, or no reply in time
	Dropped   uint64 `json:"dropped"`   // queue full
	Pending   int    `json:"pending"`   // sent, waiting for a reply
	Disabled  int    `json:"disabled"`  // clients disabled by us now
}

type command struct {
	name     string // disableClient / enableClient
	username string
	corr     string
}

// Enforcer implements block.Enforcer for the dynamic-security plugin.
type Enforcer struct {
	opts Options
	cm   *autopaho.ConnectionManager

	q   chan command
	seq atomic.Uint64
	// inflight counts commands enqueued and not yet sent (or given up).
	inflight atomic.Int64
	// Replies are only seen once the response topic is subscribed on the
	// current connection: commands wait for subGen to catch up with
	// connGen.
	connGen, subGen atomic.Uint64
	ctx             context.Context
	cancel          context.CancelFunc
	exited          chan struct{}
	once            sync.Once

	mu       sync.Mutex
	pending  map[string]time.Time // correlationData -> reply deadline
	disabled map[string]bool
	st       Stats
}

var _ block.Enforcer = (*Enforcer)(nil)

// New validates opts and starts connecting (in the background: an
// unreachable broker only delays the commands).
func New(opts Options) (*Enforcer, error) {
	var errs []error
	u, err := url.Parse(opts.Broker)
	if err != nil || u.Host == "" || (u.Scheme != "mqtt" && u.Scheme != "tls" && u.Scheme != "mqtts" && u.Scheme != "ssl" && u.Scheme != "tcp") {
		errs = append(errs, fmt.Errorf("broker %q: want mqtt://HOST:PORT or tls://HOST:PORT", redact.URL(opts.Broker)))
	}
	if opts.Username == "" {
		errs = append(errs, errors.New("no username (a dynamic-security admin)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dynsec enforcer: %w", errors.Join(errs...))
	}
	if opts.ClientID == "" {
		opts.ClientID = "mqttids-dynsec"
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 4096
	}
	if opts.ReplyTimeout <= 0 {
		opts.ReplyTimeout = 10 * time.Second
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 100 * time.Millisecond
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 30 * time.Second
	}
	e := &Enforcer{
		opts:     opts,
		q:        make(chan command, opts.QueueLen),
		exited:   make(chan struct{}),
		pending:  map[string]time.Time{},
		disabled: map[string]bool{},
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        opts.TLS,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(opts.ReconnectMin, opts.ReconnectMax, 2*opts.ReconnectMin, 2),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               opts.Username,
		ConnectPassword:               opts.Password,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			// must not block: subscribe from a goroutine
			gen := e.connGen.Add(1)
			go func() {
				ctx, cancel := context.WithTimeout(e.ctx, opts.ReplyTimeout)
				defer cancel()
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: ResponseTopic, QoS: 1}}}); err != nil {
					e.report(fmt.Errorf("dynsec: subscribe %s: %w", ResponseTopic, err))
					return
				}
				e.subGen.CompareAndSwap(gen-1, gen)
			}()
		},
		OnConnectError: func(err error) { e.report(fmt.Errorf("dynsec: connect %s: %w", u.Host, err)) },
		ClientConfig: paho.ClientConfig{
			ClientID: opts.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					if pr.Packet.Topic != ResponseTopic {
						return false, nil
					}
					e.onResponse(pr.Packet.Payload)
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(e.ctx, cfg)
	if err != nil {
		e.cancel()
		return nil, fmt.Errorf("dynsec enforcer: %w", err)
	}
	e.cm = cm
	go e.run()
	return e, nil
}

func (e *Enforcer) report(err error) {
	if e.opts.OnError != nil && err != nil {
		e.opts.OnError(err)
	}
}

// Name implements block.Enforcer.
func (e *Enforcer) Name() string { return "dynsec:" + redact.URL(e.opts.Broker) }

// Apply queues disableClient (add) or enableClient (remove) for a
// username block; other targets are ignored. It never blocks.
func (e *Enforcer) Apply(ev *block.Event) error {
	if ev.Target != block.TargetUsername {
		return nil
	}
	var name string
	switch ev.Op {
	case "add":
		name = "disableClient"
	case "remove":
		name = "enableClient"
	default:
		return fmt.Errorf("dynsec: block event op %q", ev.Op)
	}
	return e.enqueue(command{name: name, username: ev.Value})
}

func (e *Enforcer) enqueue(c command) error {
	e.inflight.Add(1) // before the send: Close must not see an empty queue while c is on its way
	select {
	case e.q <- c:
		return nil
	default:
		e.inflight.Add(-1)
		e.mu.Lock()
		e.st.Dropped++
		e.mu.Unlock()
		return fmt.Errorf("dynsec: %w", alerts.ErrQueueFull)
	}
}

type request struct {
	Commands []requestCommand `json:"commands"`
}

type requestCommand struct {
	Command         string `json:"command"`
	Username        string `json:"username"`
	CorrelationData string `json:"correlationData"`
}

type response struct {
	Responses []struct {
		Command         string `json:"command"`
		Error           string `json:"error"`
		CorrelationData string `json:"correlationData"`
	} `json:"responses"`
}

// run sends queued commands in order, one at a time, waiting for a
// connection when there is none, and expires unanswered ones.
func (e *Enforcer) run() {
	defer close(e.exited)
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	for {
		select {
		case c := <-e.q:
			ok := e.send(c)
			e.inflight.Add(-1)
			if !ok {
				return
			}
		case <-sweep.C:
			e.expire(time.Now())
		case <-e.ctx.Done():
			return
		}
	}
}

// send publishes c, retrying across reconnects until it is accepted or
// the enforcer closes (false).
func (e *Enforcer) send(c command) bool {
	c.corr = "mqttids-" + strconv.FormatUint(e.seq.Add(1), 10)
	payload, err := json.Marshal(request{Commands: []requestCommand{{Command: c.name, Username: c.username, CorrelationData: c.corr}}})
	if err != nil {
		e.fail(fmt.Errorf("dynsec: encode %s: %w", c.name, err))
		return true
	}
	backoff := e.opts.ReconnectMin
	for {
		if err := e.cm.AwaitConnection(e.ctx); err != nil {
			return false
		}
		if !e.awaitSubscription() {
			continue
		}
		e.mu.Lock()
		e.pending[c.corr] = time.Now().Add(e.opts.ReplyTimeout)
		e.mu.Unlock()
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.ReplyTimeout)
		_, err := e.cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: ControlTopic, Payload: payload})
		cancel()
		if err == nil {
			e.mu.Lock()
			e.st.Sent++
			switch c.name {
			case "disableClient":
				e.disabled[c.username] = true
			case "enableClient":
				delete(e.disabled, c.username)
			}
			e.mu.Unlock()
			return true
		}
		e.mu.Lock()
		delete(e.pending, c.corr)
		e.mu.Unlock()
		if e.ctx.Err() != nil {
			return false
		}
		e.report(fmt.Errorf("dynsec: publish %s: %w", c.name, err))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return false
		}
		backoff = min(2*backoff, e.opts.ReconnectMax)
	}
}

// awaitSubscription waits up to ReplyTimeout for the response topic to be
// subscribed on the current connection.
func (e *Enforcer) awaitSubscription() bool {
	deadline := time.Now().Add(e.opts.ReplyTimeout)
	for e.subGen.Load() != e.connGen.Load() {
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (e *Enforcer) onResponse(payload []byte) {
	var r response
	if err := json.Unmarshal(payload, &r); err != nil {
		e.report(fmt.Errorf("dynsec: reply of %d bytes is not JSON: %w", len(payload), err))
		return
	}
	e.mu.Lock()
	var errs []error
	for _, x := range r.Responses {
		if _, ok := e.pending[x.CorrelationData]; !ok {
			continue // another controller's reply
		}
		delete(e.pending, x.CorrelationData)
		if x.Error != "" {
			e.st.Failed++
			errs = append(errs, fmt.Errorf("dynsec: %s (%s): %s", x.Command, x.CorrelationData, x.Error))
		} else {
			e.st.Succeeded++
		}
	}
	e.mu.Unlock()
	for _, err := range errs {
		e.report(err)
	}
}

func (e *Enforcer) expire(now time.Time) {
	e.mu.Lock()
	n := 0
	for k, d := range e.pending {
		if now.After(d) {
			delete(e.pending, k)
			e.st.Failed++
			n++
		}
	}
	e.mu.Unlock()
	if n > 0 {
		e.report(fmt.Errorf("dynsec: %d commands without reply in %v", n, e.opts.ReplyTimeout))
	}
}

func (e *Enforcer) fail(err error) {
	e.mu.Lock()
	e.st.Failed++
	e.mu.Unlock()
	e.report(err)
}

// Stats returns a copy of the counters.
func (e *Enforcer) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st
	st.Pending = len(e.pending)
	st.Disabled = len(e.disabled)
	return st
}

// Close sends what is queued (and, with EnableOnClose, enables the clients
// still disabled), waits briefly for replies, and disconnects. It gives up
// after ReplyTimeout.
func (e *Enforcer) Close() error {
	var err error
	e.once.Do(func() {
		deadline := time.Now().Add(e.opts.ReplyTimeout)
		if e.opts.EnableOnClose {
			e.mu.Lock()
			users := make([]string, 0, len(e.disabled))
			for u := range e.disabled {
				users = append(users, u)
			}
			e.mu.Unlock()
			for _, u := range users {
				e.enqueue(command{name: "enableClient", username: u})
			}
		}
		// let the queue drain and the replies arrive
		for time.Now().Before(deadline) {
			e.mu.Lock()
			busy := len(e.pending) > 0
			e.mu.Unlock()
			if !busy && e.inflight.Load() == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		left := len(e.q)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		derr := e.cm.Disconnect(ctx)
		cancel()
		e.cancel()
		<-e.exited
		if left > 0 {
			err = fmt.Errorf("dynsec: %d commands not sent", left)
		}
		if derr != nil && !errors.Is(derr, context.Canceled) && !errors.Is(derr, autopaho.ConnectionDownError) {
			err = errors.Join(err, fmt.Errorf("dynsec: disconnect: %w", derr))
		}
	})
	return err
}
