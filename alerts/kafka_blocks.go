package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mqttids/block"
)

// ErrQueueFull is returned by an enforcer whose queue is full: the change
// was dropped (and counted).
var ErrQueueFull = errors.New("enforcer queue full")

// KafkaBlockEnforcer publishes the block list to a compacted topic: key
// "target:value", value the JSON block event on add, a tombstone (null
// value) on remove, so after compaction the topic holds the current list.
// It shares the alert sink's delivery: ordered, spooled while the brokers
// are away (set KafkaOptions.SpoolDir to a directory of its own).
type KafkaBlockEnforcer struct {
	sink *KafkaSink
	w    *worker
	// CloseTimeout bounds delivery at Close (default 10 s).
	CloseTimeout time.Duration
}

var _ block.Enforcer = (*KafkaBlockEnforcer)(nil)

// NewKafkaBlockEnforcer starts a writer for the block topic (opts.Topic).
// queueLen bounds the changes waiting for delivery (default 65536).
func NewKafkaBlockEnforcer(opts KafkaOptions, queueLen int) (*KafkaBlockEnforcer, error) {
	s, err := NewKafkaSink(opts)
	if err != nil {
		return nil, fmt.Errorf("kafka block enforcer: %w", err)
	}
	do := DispatcherOptions{QueueLen: queueLen}
	do.defaults()
	return &KafkaBlockEnforcer{sink: s, w: startWorker(s, do, encodeCompacted), CloseTimeout: 10 * time.Second}, nil
}

func encodeCompacted(dst []byte, it *item) ([]byte, int, int, int, int, bool) {
	ks := len(dst)
	dst = appendBlockKey(dst, it.b)
	ke := len(dst)
	if it.b.Op == "remove" {
		return dst, ks, ke, ke, ke, true
	}
	dst = AppendBlockEvent(dst, it.b)
	return dst, ks, ke, ke, len(dst), false
}

func (e *KafkaBlockEnforcer) Name() string { return "kafka-blocks:" + e.sink.Name() }

// Apply queues the change; it never waits for the brokers.
func (e *KafkaBlockEnforcer) Apply(ev *block.Event) error {
	before := e.w.dropped.Load()
	e.w.enqueue(item{b: ev})
	if e.w.dropped.Load() != before {
		return ErrQueueFull
	}
	return nil
}

// Stats reports the topic writer's counters.
func (e *KafkaBlockEnforcer) Stats() SinkStats { return e.w.stats() }

// Close delivers what is queued (bounded by CloseTimeout) and closes.
func (e *KafkaBlockEnforcer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.CloseTimeout)
	defer cancel()
	return e.w.close(ctx)
}
