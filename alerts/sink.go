package alerts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"mqttids/alerts/spool"
)

// Record is one encoded message for a sink: Key is the partitioning key
// (the offending source IP for alerts), Value one JSON object without a
// newline. A nil Value is a Kafka tombstone.
type Record = spool.Record

// Sink delivers encoded records. Write is called from one goroutine (the
// sink's dispatcher worker); the records' memory is reused after it returns.
// Write returns an error only for records neither delivered nor kept for
// later delivery (they are counted as failed).
type Sink interface {
	Name() string
	Write(recs []Record) error
	// Flush is called when the sink's queue runs empty and periodically;
	// a sink with a flush policy decides itself whether to act.
	Flush() error
	// Close flushes and releases; ctx bounds the time spent delivering.
	Close(ctx context.Context) error
	// Counters reports what the sink delivered, spooled and failed.
	Counters() SinkCounters
}

// Reopener is implemented by sinks that write to a file rotated by
// logrotate: Reopen closes and reopens the path (on SIGHUP).
type Reopener interface {
	Reopen() error
}

// SinkCounters are a sink's own counts of records.
type SinkCounters struct {
	Delivered uint64 `json:"delivered"` // written (files) or acknowledged by the broker (Kafka)
	Spooled   uint64 `json:"spooled"`   // kept in the on-disk spool for later delivery
	Failed    uint64 `json:"failed"`    // neither delivered nor spooled (spool full, write errors)
	Pending   int64  `json:"pending"`   // in the spool now
}

type counters struct {
	delivered, spooled, failed atomic.Uint64
}

func (c *counters) get() SinkCounters {
	return SinkCounters{Delivered: c.delivered.Load(), Spooled: c.spooled.Load(), Failed: c.failed.Load()}
}

// WriterSink writes JSON lines to an io.Writer (stdout). Each Write is
// flushed at once: stdout is read by people and pipes.
type WriterSink struct {
	name string
	mu   sync.Mutex // Close may run while a stuck Write holds the writer
	w    io.Writer
	bw   *bufio.Writer
	c    counters
}

// NewWriterSink returns a sink writing JSON lines to w, named name.
func NewWriterSink(name string, w io.Writer) *WriterSink {
	return &WriterSink{name: name, w: w, bw: bufio.NewWriterSize(w, 64<<10)}
}

func (s *WriterSink) Name() string { return s.name }

func (s *WriterSink) Write(recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.bw.Write(r.Value)
		s.bw.WriteByte('\n')
	}
	if err := s.bw.Flush(); err != nil {
		s.c.failed.Add(uint64(len(recs)))
		// bufio keeps the error; start over so a transient EPIPE/EAGAIN
		// does not fail every later write.
		s.bw.Reset(s.w)
		return fmt.Errorf("%s: write: %w", s.name, err)
	}
	s.c.delivered.Add(uint64(len(recs)))
	return nil
}

func (s *WriterSink) Flush() error { return nil }

// Close flushes; if a Write is stuck (a pipe nobody reads) it gives up
// when ctx is done.
func (s *WriterSink) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		done <- s.bw.Flush()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: close: %w", s.name, ctx.Err())
	}
}
func (s *WriterSink) Counters() SinkCounters { return s.c.get() }

// FileOptions configure a file sink; the zero value means defaults.
type FileOptions struct {
	// FlushInterval bounds how long a line may sit in the buffer; default
	// 200 ms. Lines are also flushed when the buffer fills and on Close.
	FlushInterval time.Duration
	// Sync fsyncs at each flush (default off: the page cache is enough
	// for a log that is also shipped elsewhere).
	Sync bool
}

// FileSink appends JSON lines to a file, buffered, flushed every
// FlushInterval and on Close; Reopen supports logrotate.
type FileSink struct {
	path string
	opts FileOptions

	mu        sync.Mutex
	f         *os.File
	bw        *bufio.Writer
	lastFlush time.Time
	unflushed int
	c         counters
}

// OpenFileSink opens path for appending (creating it 0640).
func OpenFileSink(path string, opts FileOptions) (*FileSink, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open alert file %s: %w", path, err)
	}
	return &FileSink{path: path, opts: opts, f: f, bw: bufio.NewWriterSize(f, 256<<10), lastFlush: time.Now()}, nil
}

func (s *FileSink) Name() string { return "file:" + s.path }

func (s *FileSink) Write(recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		s.c.failed.Add(uint64(len(recs)))
		return fmt.Errorf("write %s: %w", s.path, os.ErrClosed)
	}
	for _, r := range recs {
		s.bw.Write(r.Value)
		if err := s.bw.WriteByte('\n'); err != nil {
			s.c.failed.Add(uint64(len(recs)))
			s.bw.Reset(s.f)
			return fmt.Errorf("write %s: %w", s.path, err)
		}
	}
	s.unflushed += len(recs)
	return s.flushLocked(false)
}

// Flush writes the buffer out when FlushInterval has passed since the
// last flush.
func (s *FileSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked(false)
}

func (s *FileSink) flushLocked(force bool) error {
	if s.f == nil || s.unflushed == 0 && s.bw.Buffered() == 0 {
		return nil
	}
	if !force && time.Since(s.lastFlush) < s.opts.FlushInterval {
		return nil
	}
	s.lastFlush = time.Now()
	n := s.unflushed
	s.unflushed = 0
	if err := s.bw.Flush(); err != nil {
		s.c.failed.Add(uint64(n))
		s.bw.Reset(s.f)
		return fmt.Errorf("flush %s: %w", s.path, err)
	}
	if s.opts.Sync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", s.path, err)
		}
	}
	s.c.delivered.Add(uint64(n))
	return nil
}

// Reopen flushes, closes and reopens the path: after logrotate moved the
// file, new lines go to a new file at the configured path.
func (s *FileSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ferr := s.flushLocked(true)
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		s.f = nil
		return errors.Join(ferr, fmt.Errorf("reopen alert file %s: %w", s.path, err))
	}
	s.f = f
	s.bw.Reset(f)
	return ferr
}

func (s *FileSink) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.flushLocked(true)
	if s.f != nil {
		err = errors.Join(err, s.f.Close())
		s.f = nil
	}
	return err
}

func (s *FileSink) Counters() SinkCounters { return s.c.get() }
