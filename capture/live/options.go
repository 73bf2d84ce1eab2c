package live

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// ErrNotSupported is returned by Open and DropCapabilities on systems other
// than Linux.
var ErrNotSupported = errors.New("live capture needs linux")

// Defaults for the zero fields of Options.
const (
	DefaultBlockSize    = 1 << 20  // bytes per ring block
	DefaultRingSize     = 32 << 20 // bytes per socket
	DefaultBlockTimeout = 10 * time.Millisecond
	DefaultPollTimeout  = 100 * time.Millisecond
)

// Filter is a loaded socket filter program (bpf.Filter satisfies it).
type Filter interface {
	FD() int
}

// Options configures Open. The zero value means defaults.
type Options struct {
	// Workers is the number of sockets in the fanout group, one per
	// reading goroutine; 0 means GOMAXPROCS.
	Workers int
	// BlockSize is the size of one TPACKET_V3 block, a multiple of the
	// page size; 0 means DefaultBlockSize. A frame larger than a block is
	// truncated.
	BlockSize int
	// RingSize is the ring of each socket in bytes, rounded down to whole
	// blocks; 0 means DefaultRingSize.
	RingSize int
	// BlockTimeout is how long the kernel keeps a partly filled block
	// before handing it over (the latency floor); 0 means
	// DefaultBlockTimeout. Millisecond granularity.
	BlockTimeout time.Duration
	// PollTimeout bounds how long a read blocks before it looks whether
	// the source was closed; 0 means DefaultPollTimeout.
	PollTimeout time.Duration
	// FanoutID names the fanout group; 0 picks a random one. Sockets of
	// any process using the same ID on the same interface share frames.
	FanoutID uint16
	// NoPromisc leaves the interface out of promiscuous mode.
	NoPromisc bool
	// Filter, when set, is attached to every socket before it joins the
	// fanout group.
	Filter Filter
}

// Stats are the kernel's counters for a socket (or the sum over a group)
// since it was opened: Packets is every frame that passed the filter,
// including the Drops (frames lost because the ring was full), so frames
// read = Packets - Drops; QueueFreezes counts the times the ring filled up.
type Stats struct {
	Packets      uint64
	Drops        uint64
	QueueFreezes uint64
}

func (s *Stats) add(o Stats) {
	s.Packets += o.Packets
	s.Drops += o.Drops
	s.QueueFreezes += o.QueueFreezes
}

const pageSize = 4096

// setDefaults fills the zero fields.
func (o *Options) setDefaults() {
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultRingSize
	}
	if o.BlockTimeout == 0 {
		o.BlockTimeout = DefaultBlockTimeout
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = DefaultPollTimeout
	}
}

// validate checks options after setDefaults; all problems are reported
// together.
func (o *Options) validate() error {
	var errs []error
	if o.Workers < 0 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers %d: want 1..1024", o.Workers))
	}
	if o.BlockSize < 0 || o.BlockSize%pageSize != 0 {
		errs = append(errs, fmt.Errorf("block size %d: want a positive multiple of %d", o.BlockSize, pageSize))
	}
	if o.RingSize < o.BlockSize {
		errs = append(errs, fmt.Errorf("ring size %d: want at least one block (%d)", o.RingSize, o.BlockSize))
	}
	if o.BlockTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("block timeout %v: want at least 1ms", o.BlockTimeout))
	}
	if o.PollTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("poll timeout %v: want at least 1ms", o.PollTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("live capture options: %w", errors.Join(errs...))
	}
	return nil
}
