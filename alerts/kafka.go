package alerts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"mqttids/alerts/spool"
)

// KafkaOptions configure a Kafka sink; the zero value of every field but
// Brokers and Topic means the default.
type KafkaOptions struct {
	Brokers  []string // host:port
	Topic    string
	ClientID string // default "mqttids"

	// BatchSize and BatchTimeout are passed to the kafka-go Writer. Its
	// own default timeout of 1 s would make every small synchronous write
	// wait a second; ours are 1000 messages and 10 ms.
	BatchSize    int
	BatchTimeout time.Duration
	Acks         string // "all" (default), "one", "none"
	Compression  string // "none" (default), "gzip", "snappy", "lz4", "zstd"
	Partitioner  string // "murmur2" (default, as Java clients), "crc32" (as librdkafka), "fnv1a"
	// WriteTimeout bounds one delivery attempt (default 10 s).
	WriteTimeout time.Duration

	TLS           *tls.Config // nil: plaintext
	SASLMechanism string      // "", "plain", "scram-sha-256", "scram-sha-512"
	SASLUser      string
	SASLPassword  string // never logged

	// SpoolDir holds alerts while the brokers are unreachable; empty
	// means no spool: what cannot be delivered is counted as failed.
	SpoolDir string
	Spool    spool.Options
	// MetadataTTL is how often cluster metadata is refreshed (default
	// 2 s); after an outage, delivery resumes within about this time.
	MetadataTTL time.Duration
	// RetryMin and RetryMax bound the backoff between delivery attempts
	// from the spool (default 100 ms and 5 s).
	RetryMin, RetryMax time.Duration

	// OnDelivered, when set, is called after n more records were
	// acknowledged by the brokers, in delivery order.
	OnDelivered func(n int)
}

func (o *KafkaOptions) validate() error {
	var errs []error
	if len(o.Brokers) == 0 {
		errs = append(errs, errors.New("no broker address"))
	}
	if o.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	if _, err := kafkaAcks(o.Acks); err != nil {
		errs = append(errs, err)
	}
	if _, err := kafkaCompression(o.Compression); err != nil {
		errs = append(errs, err)
	}
	if _, err := kafkaBalancer(o.Partitioner); err != nil {
		errs = append(errs, err)
	}
	if _, err := kafkaSASL(o.SASLMechanism, o.SASLUser, o.SASLPassword); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *KafkaOptions) defaults() {
	if o.ClientID == "" {
		o.ClientID = "mqttids"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 10 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MetadataTTL <= 0 {
		o.MetadataTTL = 2 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
}

func kafkaAcks(s string) (kafka.RequiredAcks, error) {
	switch s {
	case "", "all", "-1":
		return kafka.RequireAll, nil
	case "one", "1":
		return kafka.RequireOne, nil
	case "none", "0":
		return kafka.RequireNone, nil
	}
	return 0, fmt.Errorf("acks %q: want all, one or none", s)
}

func kafkaCompression(s string) (compress.Compression, error) {
	switch s {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

func kafkaBalancer(s string) (kafka.Balancer, error) {
	switch s {
	case "", "murmur2":
		return kafka.Murmur2Balancer{}, nil
	case "crc32":
		return kafka.CRC32Balancer{}, nil
	case "fnv1a":
		return &kafka.Hash{}, nil
	}
	return nil, fmt.Errorf("partitioner %q: want murmur2, crc32 or fnv1a", s)
}

func kafkaSASL(mech, user, pass string) (sasl.Mechanism, error) {
	switch mech {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: user, Password: pass}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if mech == "scram-sha-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, user, pass)
		if err != nil {
			return nil, fmt.Errorf("sasl %s: %w", mech, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("sasl %q: want plain, scram-sha-256 or scram-sha-512", mech)
}

// KafkaSink writes records to a Kafka topic with at-least-once delivery:
// records the brokers do not acknowledge go to an on-disk spool, and while
// the spool holds anything every new record goes behind it, so the topic
// receives them in order when the brokers return — also after a restart,
// when the spool left by the last run is delivered first.
type KafkaSink struct {
	opts KafkaOptions
	name string
	w    *kafka.Writer
	tr   *kafka.Transport
	sp   *spool.Spool
	c    counters

	mu       sync.Mutex
	spooling bool // the spool holds records that go before new ones
	closed   bool // the spool is closed: Write can keep nothing
	// inflight counts Writes talking to the brokers; Add under mu and
	// only while not aborted, so Close can wait for them.
	inflight sync.WaitGroup

	// abort is cancelled when the close deadline (less a reserve for the
	// disk) is reached: deliveries in flight give up, and Write spools
	// what it is given instead of trying the brokers.
	abort     context.Context
	abortFunc context.CancelFunc

	wake    chan struct{}
	closing chan struct{}
	drained chan struct{}
	msgs    []kafka.Message
	once    sync.Once
}

// NewKafkaSink validates opts, opens the spool (if any) and starts
// delivering what it holds. It does not contact the brokers: an
// unreachable cluster at start only means alerts are spooled.
func NewKafkaSink(opts KafkaOptions) (*KafkaSink, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	opts.defaults()
	acks, _ := kafkaAcks(opts.Acks)
	comp, _ := kafkaCompression(opts.Compression)
	bal, _ := kafkaBalancer(opts.Partitioner)
	mech, _ := kafkaSASL(opts.SASLMechanism, opts.SASLUser, opts.SASLPassword)
	s := &KafkaSink{
		opts: opts,
		name: fmt.Sprintf("kafka://%s/%s", joinComma(opts.Brokers), opts.Topic),
		w: &kafka.Writer{
			Addr:         kafka.TCP(opts.Brokers...),
			Topic:        opts.Topic,
			Balancer:     bal,
			BatchSize:    opts.BatchSize,
			BatchTimeout: opts.BatchTimeout,
			RequiredAcks: acks,
			Compression:  comp,
			WriteTimeout: opts.WriteTimeout,
			ReadTimeout:  opts.WriteTimeout,
			// Few quick attempts: the spool, not the writer, rides out
			// an outage.
			MaxAttempts:     3,
			WriteBackoffMin: 20 * time.Millisecond,
			WriteBackoffMax: 200 * time.Millisecond,
		},
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		drained: make(chan struct{}),
	}
	s.abort, s.abortFunc = context.WithCancel(context.Background())
	s.tr = &kafka.Transport{
		ClientID:    opts.ClientID,
		TLS:         opts.TLS,
		SASL:        mech,
		DialTimeout: 5 * time.Second,
		// kafka-go caches a failed metadata fetch until the next
		// refresh: this bounds how long writes keep failing after
		// the brokers are back.
		MetadataTTL: opts.MetadataTTL,
	}
	// The writer's own retries of a batch run on context.Background:
	// only the transport can stop them at the close deadline.
	s.w.Transport = abortTransport{rt: s.tr, abort: s.abort}
	if opts.SpoolDir == "" {
		close(s.drained)
		return s, nil
	}
	sp, err := spool.Open(opts.SpoolDir, opts.Spool)
	if err != nil {
		s.abortFunc()
		return nil, fmt.Errorf("kafka sink %s: %w", s.name, err)
	}
	s.sp = sp
	s.spooling = sp.Pending() > 0
	go s.drain()
	s.kick()
	return s, nil
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func (s *KafkaSink) Name() string { return s.name }

func (s *KafkaSink) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *KafkaSink) toMessages(recs []Record) []kafka.Message {
	s.msgs = s.msgs[:0]
	for _, r := range recs {
		s.msgs = append(s.msgs, kafka.Message{Key: r.Key, Value: r.Value})
	}
	return s.msgs
}

// Write delivers recs synchronously (one acknowledged batch), or spools
// them when the spool is not empty, the brokers fail or the sink was
// aborted (Abort, or Close reaching its deadline).
func (s *KafkaSink) Write(recs []Record) error {
	s.mu.Lock()
	if s.spooling || s.abort.Err() != nil {
		err := s.spoolLocked(recs)
		s.mu.Unlock()
		return err
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	ctx, cancel := context.WithTimeout(s.abort, s.opts.WriteTimeout)
	err := s.w.WriteMessages(ctx, s.toMessages(recs)...)
	cancel()
	if err == nil {
		s.delivered(len(recs))
		return nil
	}
	// Keep the failed ones, in order; with WriteErrors some partitions
	// may have succeeded.
	failed := recs
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(recs) {
		failed = make([]Record, 0, werrs.Count())
		for i, e := range werrs {
			if e != nil {
				failed = append(failed, recs[i])
			}
		}
		s.delivered(len(recs) - len(failed))
	}
	s.mu.Lock()
	serr := s.spoolLocked(failed)
	s.mu.Unlock()
	if serr != nil {
		return fmt.Errorf("kafka %s: %w; %w", s.name, err, serr)
	}
	return nil
}

func (s *KafkaSink) delivered(n int) {
	if n == 0 {
		return
	}
	s.c.delivered.Add(uint64(n))
	if s.opts.OnDelivered != nil {
		s.opts.OnDelivered(n)
	}
}

// spoolLocked appends to the spool and wakes the drainer; s.mu is held.
func (s *KafkaSink) spoolLocked(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if s.sp == nil {
		s.c.failed.Add(uint64(len(recs)))
		return fmt.Errorf("brokers unreachable and no spool: %d alerts lost", len(recs))
	}
	if s.closed {
		s.c.failed.Add(uint64(len(recs)))
		return fmt.Errorf("sink closed: %d alerts lost", len(recs))
	}
	n, err := s.sp.Append(recs)
	s.c.spooled.Add(uint64(n))
	if n > 0 {
		s.spooling = true
		s.kick()
	}
	if err != nil {
		s.c.failed.Add(uint64(len(recs) - n))
		return fmt.Errorf("spool %d alerts: %w", len(recs)-n, err)
	}
	return nil
}

// drain delivers the spool, oldest first, retrying with backoff. When it
// is empty, Write goes back to direct delivery. Once closing it returns
// when the spool is empty; once aborted, at once (what is left stays on
// disk for the next run).
func (s *KafkaSink) drain() {
	defer close(s.drained)
	backoff := s.opts.RetryMin
	closing := false
	closingCh := s.closing // nil once seen, so selects stop firing on it
	for {
		if !closing {
			select {
			case <-s.wake:
			case <-closingCh:
				closing, closingCh = true, nil
			case <-s.abort.Done():
				return
			}
		}
		for {
			if s.abort.Err() != nil {
				return
			}
			recs, pos, err := s.sp.Peek(s.opts.BatchSize)
			if err != nil {
				return // closed or unreadable: stays for the next run
			}
			if len(recs) == 0 {
				s.mu.Lock()
				if s.sp.Pending() == 0 {
					s.spooling = false
				}
				more := s.spooling
				s.mu.Unlock()
				if !more {
					break
				}
				continue
			}
			wctx, cancel := context.WithTimeout(s.abort, s.opts.WriteTimeout)
			err = s.w.WriteMessages(wctx, s.toSpoolMessages(recs)...)
			cancel()
			if err != nil {
				// Nothing is committed, so partitions that did succeed
				// get these again: at least once.
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-closingCh:
					closing, closingCh = true, nil
					t.Stop()
				case <-s.abort.Done():
					t.Stop()
				}
				backoff = min(backoff*2, s.opts.RetryMax)
				continue
			}
			backoff = s.opts.RetryMin
			if err := s.sp.Commit(pos, len(recs)); err != nil {
				return
			}
			s.delivered(len(recs))
		}
		if closing {
			return
		}
	}
}

func (s *KafkaSink) toSpoolMessages(recs []Record) []kafka.Message {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value}
	}
	return msgs
}

func (s *KafkaSink) Flush() error { return nil }

// Abort stops delivery: writes to the brokers in flight give up, and from
// now on Write spools at once. The Dispatcher calls it when its close
// deadline is near, so what is still queued reaches the spool in time.
func (s *KafkaSink) Abort() {
	s.mu.Lock()
	s.abortFunc()
	s.mu.Unlock()
}

// Close delivers the spool until ctx is nearly done (closeReserve before
// its deadline), then aborts: what is left stays in the spool for the next
// run (Counters().Pending says how much; the error too). Close returns by
// ctx's deadline even when the brokers hang: kafka-go's Writer.Close,
// which waits for batches it is still retrying, is not waited for past it.
func (s *KafkaSink) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		soon, cancel := closeReserve(ctx)
		defer cancel()
		close(s.closing)
		select {
		case <-s.drained:
		case <-soon.Done():
		}
		s.Abort()
		s.inflight.Wait() // aborted: they spool and return
		<-s.drained
		var errs []error
		wdone := make(chan error, 1)
		go func() { wdone <- s.w.Close() }()
		select {
		case werr := <-wdone:
			errs = append(errs, werr)
		case <-ctx.Done():
			// Aborted, its requests fail at once; should it still
			// hang, every batch it holds was spooled when its
			// WriteMessages returned: nothing is lost by not waiting.
		}
		s.tr.CloseIdleConnections()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if s.sp != nil {
			if p := s.sp.Pending(); p > 0 {
				errs = append(errs, fmt.Errorf("kafka %s: %d alerts left in spool %s", s.name, p, s.opts.SpoolDir))
			}
			errs = append(errs, s.sp.Close())
		}
		err = errors.Join(errs...)
	})
	return err
}

// abortTransport fails every request once abort is done, and cancels the
// requests in flight then: kafka-go retries a batch (MaxAttempts, each up to
// WriteTimeout) on a context of its own, which is what made a close against
// a stalled broker take 35–44 s, and what would deliver a batch after the
// spool took it over.
type abortTransport struct {
	rt    kafka.RoundTripper
	abort context.Context
}

func (t abortTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if err := t.abort.Err(); err != nil {
		return nil, errAborted
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.abort, cancel)
	defer stop()
	return t.rt.RoundTrip(ctx, addr, req)
}

// errAborted fails the requests of an aborted sink.
var errAborted = errors.New("kafka sink aborted at its close deadline")

// closeReserve returns a context done a little before ctx's deadline
// (a tenth of the time left, at most 1 s), the time kept for spooling what
// could not be delivered and closing files.
func closeReserve(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(time.Until(dl)/10, time.Second)
	return context.WithDeadline(ctx, dl.Add(-reserve))
}

// Counters reports delivered, spooled, failed and pending.
func (s *KafkaSink) Counters() SinkCounters {
	c := s.c.get()
	if s.sp != nil {
		c.Pending = s.sp.Pending()
	}
	return c
}
