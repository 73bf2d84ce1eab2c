package live

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/capture"
)

// closeWait bounds how long Close waits for a reader that holds a frame to
// come back for the next one.
const closeWait = time.Second

// Group is the fanout group of one interface: Workers sockets, each a
// capture.Source for one reading goroutine. The kernel hashes each frame's
// flow (symmetrically, after IP defragmentation) to one socket, so both
// directions of a TCP connection always reach the same worker.
type Group struct {
	iface   string
	sources []*Source
}

// Source is one AF_PACKET TPACKET_V3 socket of a Group. Read it from one
// goroutine; Close and Stats may be called from any goroutine.
type Source struct {
	iface       string
	pollTimeout time.Duration

	closing   atomic.Bool
	closeOnce sync.Once
	done      chan struct{} // closed when the socket is released

	mu     sync.Mutex // guards below
	tp     *afpacket.TPacket
	inUse  bool // a reader is in a call or holds a frame from the ring
	last   afpacket.SocketStatsV3
	totals Stats
}

var _ capture.Source = (*Source)(nil)

// Open opens o.Workers sockets on iface, attaches o.Filter to each, joins
// them into one hash fanout group and puts the interface in promiscuous
// mode (unless o.NoPromisc). On error everything opened is closed. Needs
// CAP_NET_RAW.
//
// Frames that arrive between a socket's creation and its filter and fanout
// set-up can reach that socket unfiltered; the kernel counters are reset
// once the group is complete.
func Open(iface string, o Options) (*Group, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.FanoutID == 0 {
		o.FanoutID = uint16(1 + rand.N(0xfffe))
	}
	g := &Group{iface: iface}
	for i := 0; i < o.Workers; i++ {
		s, err := openSocket(iface, o)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("open capture %s socket %d: %w", iface, i, err)
		}
		g.sources = append(g.sources, s)
	}
	for i, s := range g.sources {
		if err := s.tp.InitSocketStats(); err != nil {
			g.Close()
			return nil, fmt.Errorf("open capture %s socket %d: reset stats: %w", iface, i, err)
		}
	}
	return g, nil
}

func openSocket(iface string, o Options) (*Source, error) {
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.TPacketVersion3,
		afpacket.OptBlockSize(o.BlockSize),
		afpacket.OptNumBlocks(o.RingSize/o.BlockSize),
		afpacket.OptBlockTimeout(o.BlockTimeout),
		afpacket.OptPollTimeout(o.PollTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("tpacket v3 ring: %w", err)
	}
	if o.Filter != nil {
		if err := tp.SetEBPF(int32(o.Filter.FD())); err != nil {
			tp.Close()
			return nil, fmt.Errorf("attach socket filter: %w", err)
		}
	}
	if err := tp.SetFanout(afpacket.FanoutHashWithDefrag, o.FanoutID); err != nil {
		tp.Close()
		return nil, fmt.Errorf("join fanout group %d: %w", o.FanoutID, err)
	}
	if !o.NoPromisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	return &Source{iface: iface, pollTimeout: o.PollTimeout, tp: tp, done: make(chan struct{})}, nil
}

// Sources are the group's sockets, one per worker.
func (g *Group) Sources() []*Source { return g.sources }

// Stats sums the kernel counters of every socket.
func (g *Group) Stats() Stats {
	var t Stats
	for _, s := range g.sources {
		t.add(s.Stats())
	}
	return t
}

// Close closes every socket; readers get io.EOF within the poll timeout.
// All readers are told at once, so the wait does not grow with Workers.
func (g *Group) Close() error {
	for _, s := range g.sources {
		s.closing.Store(true)
	}
	var errs []error
	for _, s := range g.sources {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// LinkType is Ethernet.
func (s *Source) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// ZeroCopyReadPacketData returns the next frame. The bytes are in the
// kernel's ring and valid until the next call or Close, whichever comes
// first; copy what must outlive that. It blocks until a frame arrives and
// returns io.EOF once the source is closed (within the poll timeout of
// Close). It does not allocate, except for the VLAN ancillary data of a
// frame whose tag the kernel stripped.
func (s *Source) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	s.mu.Lock()
	if s.tp == nil {
		s.mu.Unlock()
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	s.inUse = true
	s.mu.Unlock()
	for {
		if s.closing.Load() {
			s.release()
			return nil, gopacket.CaptureInfo{}, io.EOF
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err == nil {
			return data, ci, nil
		}
		if errors.Is(err, afpacket.ErrTimeout) {
			continue
		}
		if s.closing.Load() {
			s.release()
			return nil, gopacket.CaptureInfo{}, io.EOF
		}
		s.mu.Lock()
		s.inUse = false
		s.mu.Unlock()
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("read capture %s: %w", s.iface, err)
	}
}

// release takes the final stats and closes the socket; the ring is unmapped.
func (s *Source) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return
	}
	s.pollStatsLocked()
	s.tp.Close()
	s.tp = nil
	s.inUse = false
	close(s.done)
}

// Close stops the source. A reader blocked in ZeroCopyReadPacketData gets
// io.EOF within the poll timeout; the socket is released by that reader (so
// the frame it holds stays mapped until it asks for the next) or here when
// no reader is active. Close waits up to the poll timeout plus a second for
// the reader.
func (s *Source) Close() error {
	s.closing.Store(true)
	s.closeOnce.Do(s.finish)
	return nil
}

func (s *Source) finish() {
	s.mu.Lock()
	if s.tp == nil {
		s.mu.Unlock()
		return
	}
	if !s.inUse {
		s.mu.Unlock()
		s.release()
		return
	}
	s.mu.Unlock()
	t := time.NewTimer(s.pollTimeout + closeWait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		// The reader holds a frame and has not come back: it releases the
		// socket on its next call (or the finalizer does).
	}
}

// Stats returns the kernel counters of this socket since Open (the last
// values once closed).
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp != nil {
		s.pollStatsLocked()
	}
	return s.totals
}

// pollStatsLocked folds the kernel's counters into totals. afpacket keeps
// 32-bit running sums; the differences are taken modulo 2^32 so the 64-bit
// totals survive a wrap.
func (s *Source) pollStatsLocked() {
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return
	}
	s.totals.Packets += uint64(uint32(v3.Packets()) - uint32(s.last.Packets()))
	s.totals.Drops += uint64(uint32(v3.Drops()) - uint32(s.last.Drops()))
	s.totals.QueueFreezes += uint64(uint32(v3.QueueFreezes()) - uint32(s.last.QueueFreezes()))
	s.last = v3
}
