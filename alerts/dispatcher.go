package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"mqttids/block"
)

// DispatcherOptions configure a Dispatcher; the zero value means defaults.
type DispatcherOptions struct {
	QueueLen      int           // items queued per sink before dropping; default 65536
	BatchMax      int           // records handed to Sink.Write at once; default 1000
	FlushInterval time.Duration // period of Sink.Flush calls; default 50 ms
	// OnError, when set, is called from sink workers with write errors
	// (at most one call per sink per second).
	OnError func(sink string, err error)
}

func (o *DispatcherOptions) defaults() {
	if o.QueueLen <= 0 {
		o.QueueLen = 65536
	}
	if o.BatchMax <= 0 {
		o.BatchMax = 1000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 50 * time.Millisecond
	}
}

// SinkStats are one sink's counters as the Dispatcher sees them.
type SinkStats struct {
	Sink string `json:"sink"`
	SinkCounters
	Dropped uint64 `json:"dropped"` // the queue was full: never reached the sink
	Queued  int    `json:"queued"`  // in the queue now
	// StalledFor is how long the sink has had work (queued, being written
	// or pending in its spool) without delivering anything; 0 while it is
	// idle or delivering. /healthz fails past a threshold.
	StalledFor time.Duration `json:"-"`
}

// item is an alert or a block event on its way to one sink.
type item struct {
	a *Alert
	b *block.Event
}

// Dispatcher is the Emitter in front of the sinks: each sink has a bounded
// queue and a worker goroutine, so a slow or stuck sink drops (and counts)
// instead of blocking the packet path.
type Dispatcher struct {
	workers []*worker
	closed  atomic.Bool
	once    sync.Once
	cerr    error
}

// NewDispatcher starts one worker per sink. Sinks are closed by Close.
func NewDispatcher(sinks []Sink, opts DispatcherOptions) *Dispatcher {
	opts.defaults()
	d := &Dispatcher{}
	for _, s := range sinks {
		d.workers = append(d.workers, startWorker(s, opts, encodeEvent))
	}
	return d
}

// EmitAlert queues a to every sink; never blocks.
func (d *Dispatcher) EmitAlert(a *Alert) { d.emit(item{a: a}) }

// EmitBlock queues b to every sink; never blocks.
func (d *Dispatcher) EmitBlock(b *block.Event) { d.emit(item{b: b}) }

func (d *Dispatcher) emit(it item) {
	closed := d.closed.Load()
	for _, w := range d.workers {
		if closed {
			w.dropped.Add(1)
			continue
		}
		w.enqueue(it)
	}
}

// Stats returns each sink's counters, in the order the sinks were given.
func (d *Dispatcher) Stats() []SinkStats {
	out := make([]SinkStats, len(d.workers))
	for i, w := range d.workers {
		out[i] = w.stats()
	}
	return out
}

// Reopen reopens every file sink (SIGHUP after logrotate).
func (d *Dispatcher) Reopen() error {
	var errs []error
	for _, w := range d.workers {
		if r, ok := w.sink.(Reopener); ok {
			if err := r.Reopen(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops accepting (later emits are counted as dropped), delivers
// what is queued, then closes every sink; ctx bounds the whole (a Kafka
// sink keeps what it could not deliver in its spool).
func (d *Dispatcher) Close(ctx context.Context) error {
	d.once.Do(func() {
		d.closed.Store(true)
		var wg sync.WaitGroup
		errs := make([]error, len(d.workers))
		for i, w := range d.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = w.close(ctx)
			}()
		}
		wg.Wait()
		d.cerr = errors.Join(errs...)
	})
	return d.cerr
}

// encodeFunc encodes an item into dst, returning the key and value as
// offsets into dst (dst may move while a batch is encoded).
type encodeFunc func(dst []byte, it *item) (out []byte, keyStart, keyEnd, valStart, valEnd int, tombstone bool)

// encodeEvent: alerts are keyed by source IP so one attacker's alerts stay
// ordered in one partition; a block event on an IP uses the same key, other
// block events target:value.
func encodeEvent(dst []byte, it *item) ([]byte, int, int, int, int, bool) {
	ks := len(dst)
	if it.a != nil {
		dst = append(dst, it.a.SrcIP...)
		ke := len(dst)
		dst = it.a.AppendJSON(dst)
		return dst, ks, ke, ke, len(dst), false
	}
	if it.b.Target == "src_ip" {
		dst = append(dst, it.b.Value...)
	} else {
		dst = appendBlockKey(dst, it.b)
	}
	ke := len(dst)
	dst = AppendBlockEvent(dst, it.b)
	return dst, ks, ke, ke, len(dst), false
}

// appendBlockKey is the compacted block topic's key, target:value.
func appendBlockKey(dst []byte, b *block.Event) []byte {
	dst = append(dst, b.Target...)
	dst = append(dst, ':')
	return append(dst, b.Value...)
}

type worker struct {
	sink    Sink
	opts    DispatcherOptions
	encode  encodeFunc
	q       chan item
	done    chan struct{}
	exited  chan struct{}
	dropped atomic.Uint64

	buf     []byte
	offs    []int
	recs    []Record
	lastErr time.Time

	// For StalledFor: writing is set during Sink.Write; progressAt is
	// when the sink last delivered something or last had nothing to do
	// (UnixNano), sampled after each batch and at each flush tick.
	writing       atomic.Bool
	progressAt    atomic.Int64
	lastDelivered uint64 // worker goroutine only
}

func startWorker(s Sink, opts DispatcherOptions, enc encodeFunc) *worker {
	w := &worker{
		sink: s, opts: opts, encode: enc,
		q:      make(chan item, opts.QueueLen),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	w.progressAt.Store(time.Now().UnixNano())
	go w.run()
	return w
}

func (w *worker) enqueue(it item) {
	select {
	case w.q <- it:
	default:
		w.dropped.Add(1)
	}
}

func (w *worker) stats() SinkStats {
	st := SinkStats{Sink: w.sink.Name(), SinkCounters: w.sink.Counters(), Dropped: w.dropped.Load(), Queued: len(w.q)}
	if st.Queued > 0 || st.Pending > 0 || w.writing.Load() {
		st.StalledFor = max(0, time.Since(time.Unix(0, w.progressAt.Load())))
	}
	return st
}

// observe notes progress: something delivered since the last look, or
// nothing left to do.
func (w *worker) observe() {
	c := w.sink.Counters()
	if c.Delivered != w.lastDelivered || len(w.q) == 0 && c.Pending == 0 {
		w.lastDelivered = c.Delivered
		w.progressAt.Store(time.Now().UnixNano())
	}
}

func (w *worker) run() {
	defer close(w.exited)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case it := <-w.q:
			w.batch(it)
			if len(w.q) == 0 {
				w.report(w.sink.Flush())
			}
			w.observe()
		case <-t.C:
			w.report(w.sink.Flush())
			w.observe()
		case <-w.done:
			// Deliver what was queued before Close.
			for {
				select {
				case it := <-w.q:
					w.batch(it)
				default:
					return
				}
			}
		}
	}
}

// batch encodes first and up to BatchMax-1 more queued items and writes
// them in one call.
func (w *worker) batch(first item) {
	w.buf, w.offs, w.recs = w.buf[:0], w.offs[:0], w.recs[:0]
	w.add(&first)
	for len(w.offs)/5 < w.opts.BatchMax {
		select {
		case it := <-w.q:
			w.add(&it)
			continue
		default:
		}
		break
	}
	for i := 0; i < len(w.offs); i += 5 {
		o := w.offs[i : i+5]
		r := Record{Key: w.buf[o[0]:o[1]:o[1]], Value: w.buf[o[2]:o[3]:o[3]]}
		if o[4] == 1 {
			r.Value = nil
		}
		w.recs = append(w.recs, r)
	}
	w.writing.Store(true)
	err := w.sink.Write(w.recs)
	w.writing.Store(false)
	w.report(err)
	if cap(w.buf) > 16<<20 {
		w.buf = nil // one huge batch should not pin its memory
	}
}

func (w *worker) add(it *item) {
	var ks, ke, vs, ve int
	var tomb bool
	w.buf, ks, ke, vs, ve, tomb = w.encode(w.buf, it)
	t := 0
	if tomb {
		t = 1
	}
	w.offs = append(w.offs, ks, ke, vs, ve, t)
}

func (w *worker) report(err error) {
	if err == nil || w.opts.OnError == nil {
		return
	}
	if now := time.Now(); now.Sub(w.lastErr) >= time.Second {
		w.lastErr = now
		w.opts.OnError(w.sink.Name(), err)
	}
}

// Aborter is a sink that can stop delivering and keep what it is given for
// later (the Kafka sink's spool) at once: at the close deadline the
// dispatcher aborts it so the queue empties into the spool instead of
// being lost.
type Aborter interface {
	Abort()
}

func (w *worker) close(ctx context.Context) error {
	close(w.done)
	soon, cancel := closeReserve(ctx)
	defer cancel()
	select {
	case <-w.exited:
	case <-soon.Done():
		if a, ok := w.sink.(Aborter); ok {
			a.Abort()
			select {
			case <-w.exited:
			case <-ctx.Done():
			}
		}
		// Otherwise the worker is stuck in a sink; close the sink under it.
	}
	if err := w.sink.Close(ctx); err != nil {
		return fmt.Errorf("close sink %s: %w", w.sink.Name(), err)
	}
	return nil
}
