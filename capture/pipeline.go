package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"mqttids/event"
	"mqttids/internal/defaults"
	"mqttids/session"
)

// Options configure a Pipeline. The zero value of every field means the
// default given in its comment; for the port lists nil and empty are the
// same (the default, from internal/defaults).
type Options struct {
	// Ports carry MQTT in clear text (nil or empty: 1883, 8883). MQTT on
	// any other port is recognised when a client stream starts with
	// CONNECT.
	Ports []uint16
	// TLSPorts carry MQTT over TLS (nil or empty: 8883); connections are
	// counted (event.TLS) and not decoded. A port in both lists is TLS.
	TLSPorts []uint16
	// WebSocketPorts carry MQTT over WebSocket (nil or empty: none). Not
	// decoded yet (issue 14): they only join Plan.FilterPorts, so that a
	// kernel filter passes them.
	WebSocketPorts []uint16
	// Workers is the number of goroutines flows are hashed to within one
	// engine (0: 1). With one worker everything runs on the calling
	// goroutine.
	Workers int
	// Sources is the number of RunSource calls that run at once on one
	// traffic split by flow, e.g. the sockets of an AF_PACKET fanout group
	// (0: 1). Each gets its own engine of Workers shards, so the caps that
	// are split are divided by Workers × Sources (Plan.Shards).
	Sources int
	// KernelFilter says that a port filter in front of the sources (the
	// eBPF socket filter of `run`) drops every TCP port not in
	// Plan.FilterPorts: MQTT on other ports then never reaches capture and
	// Plan.AnyPort is false.
	KernelFilter bool
	// MaxFlows caps tracked connections (0: 262144); when full, the least
	// recently active one is evicted (event.CloseEvicted). Split evenly
	// over the shards.
	MaxFlows int
	// MaxFlowBuffer caps the memory out-of-order segments hold per
	// direction (0: 256 KiB) — each segment's pooled buffer, a power of two
	// of at least 256 bytes, and its bookkeeping, not its payload bytes —
	// and the framer's partial-packet buffer. At most 1,024 segments are
	// buffered per direction whatever this allows.
	MaxFlowBuffer int
	// MaxBufferTotal caps the memory out-of-order segments hold over all
	// flows, counted as for MaxFlowBuffer (0: 256 MiB), split evenly over
	// the shards.
	MaxBufferTotal int
	// IdleTimeout closes connections without a segment for this long in
	// packet time (0: 10 minutes).
	IdleTimeout time.Duration
	// MaxPacketSize is the largest MQTT packet decoded (0: the decode
	// package's default); larger ones are skipped.
	MaxPacketSize int
}

// setDefaults replaces every zero field (and empty port list) by its
// default.
func (o *Options) setDefaults() {
	if len(o.Ports) == 0 {
		o.Ports = defaults.MQTTPorts()
	}
	if len(o.TLSPorts) == 0 {
		o.TLSPorts = defaults.TLSPorts()
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Sources <= 0 {
		o.Sources = 1
	}
	if o.MaxFlows <= 0 {
		o.MaxFlows = 1 << 18
	}
	if o.MaxFlowBuffer <= 0 {
		o.MaxFlowBuffer = 256 << 10
	}
	if o.MaxBufferTotal <= 0 {
		o.MaxBufferTotal = 256 << 20
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers: %d is more than 1024", o.Workers))
	}
	if o.Sources > 1024 {
		errs = append(errs, fmt.Errorf("sources: %d is more than 1024", o.Sources))
	}
	if shards := o.Workers * o.Sources; o.MaxFlows < shards {
		if o.Sources == 1 {
			errs = append(errs, fmt.Errorf("max flows: %d is fewer than the %d workers", o.MaxFlows, o.Workers))
		} else {
			errs = append(errs, fmt.Errorf("max flows: %d is fewer than the %d shards (%d workers × %d sources)", o.MaxFlows, shards, o.Workers, o.Sources))
		}
	}
	if o.MaxPacketSize < 0 {
		errs = append(errs, fmt.Errorf("max packet size: %d is negative", o.MaxPacketSize))
	}
	return errors.Join(errs...)
}

// Plan is the layout of the capture, computed once from Options (NewPlan,
// and New for its Pipeline): how many flow tables there are, what each may
// hold, which ports a kernel filter must pass and whether MQTT is
// recognised on ports not listed.
type Plan struct {
	// Shards is the number of flow tables: Workers × Sources. Flows are
	// hashed to shards (by the fanout group to sources, by the engine to
	// workers); a flow lives in one shard.
	Shards int
	// MaxFlows is the connection cap of one shard (Options.MaxFlows /
	// Shards, at least 1).
	MaxFlows int
	// MaxBufferTotal is the out-of-order byte budget of one shard
	// (Options.MaxBufferTotal / Shards, at least MaxFlowBuffer).
	MaxBufferTotal int
	// MaxFlowBuffer is the per-direction cap (not divided).
	MaxFlowBuffer int
	// FilterPorts are the MQTT, TLS and WebSocket ports, each once: what a
	// kernel port filter must pass.
	FilterPorts []uint16
	// AnyPort says MQTT on a port not in FilterPorts is picked up from
	// its first CONNECT. It is false with a KernelFilter: the filter drops
	// those frames before capture sees the CONNECT, and a flow cannot be
	// learned from frames that never reached userspace. Live any-port MQTT
	// therefore needs the filter off (capture.no_ebpf); replay always has
	// it.
	AnyPort bool
}

// NewPlan fills o's defaults, checks it and returns the plan.
func NewPlan(o Options) (Plan, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return Plan{}, fmt.Errorf("capture options: %w", err)
	}
	return o.plan(), nil
}

// plan computes the layout of o after setDefaults and validate.
func (o *Options) plan() Plan {
	shards := o.Workers * o.Sources
	return Plan{
		Shards:         shards,
		MaxFlows:       max(1, o.MaxFlows/shards),
		MaxBufferTotal: max(o.MaxFlowBuffer, o.MaxBufferTotal/shards),
		MaxFlowBuffer:  o.MaxFlowBuffer,
		FilterPorts:    defaults.Union(o.Ports, o.TLSPorts, o.WebSocketPorts),
		AnyPort:        !o.KernelFilter,
	}
}

// Stats are counters over the pipeline's life.
type Stats struct {
	Packets         uint64 // frames read
	Bytes           uint64 // frame bytes on the wire (original length)
	TCPFlows        uint64 // connections tracked (MQTT and TLS ports, or CONNECT seen)
	MQTTConnections uint64 // connections whose CONNECT was seen
	MQTTPackets     uint64 // control packets decoded
	Malformed       uint64 // protocol violations (framing errors and Validate findings)
	ReassemblyGaps  uint64 // holes declared in a TCP stream
	Dropped         uint64 // frames with truncated headers, out-of-order segments that hit a buffer cap, IPv4 datagrams whose fragments were dropped
	// DroppedBy splits Dropped by reason: "short" (truncated headers),
	// "ooo_segments" (the per-direction segment count cap),
	// "ooo_flow_buffer" (MaxFlowBuffer), "ooo_total_buffer"
	// (MaxBufferTotal). Reasons with no drop are absent.
	DroppedBy map[string]uint64
	Evicted   uint64 // connections evicted because the table was full
	// OverlapConflicts counts segments whose bytes differed from those
	// buffered for the same sequence range (first seen kept); a direction
	// with more than 3 is reported malformed (RuleOverlapConflict).
	OverlapConflicts uint64
	NonIP            uint64 // frames that are not IPv4/IPv6
	Fragments        uint64 // IP fragments read (IPv4 ones reassembled, IPv6 ones dropped)
	// Reassembled counts IPv4 datagrams rebuilt from fragments;
	// FragmentOverlaps the datagrams discarded for overlapping fragments
	// (also DroppedBy "fragment_overlap"). DroppedBy "fragment_timeout",
	// "fragment_cap" and "fragment_invalid" count datagrams expired after
	// 30 s of packet time, evicted from the bounded cache, and fragments
	// with impossible offsets or lengths.
	Reassembled      uint64
	FragmentOverlaps uint64
	TLSConnections   uint64 // connections on a TLS port
	MQTTByType       [16]uint64
	MalformedByRule  map[string]uint64 // rule id → count
	FirstTime        time.Time         // first packet time
	LastTime         time.Time         // last packet time
}

// Pipeline turns frames into MQTT events for one Handler. ReplayFile,
// RunSource and Flush may be called from several goroutines; the handler
// is still called from one goroutine at a time.
type Pipeline struct {
	opts Options
	plan Plan
	h    event.Handler

	mu      sync.Mutex // guards idle, all
	idle    []*engine  // engines not running; ReplayFile reuses the first
	all     []*engine
	hmu     sync.Mutex // serialises handler calls between engines
	running int        // engines running (guarded by mu)
}

// New checks opts and returns a pipeline that calls h for every event.
func New(opts Options, h event.Handler) (*Pipeline, error) {
	o := opts
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("capture options: %w", err)
	}
	if h == nil {
		return nil, errors.New("capture: nil handler")
	}
	return &Pipeline{opts: o, plan: o.plan(), h: h}, nil
}

// Plan returns the layout the pipeline runs with.
func (p *Pipeline) Plan() Plan {
	pl := p.plan
	pl.FilterPorts = append([]uint16(nil), pl.FilterPorts...)
	return pl
}

func (p *Pipeline) acquire() *engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running++
	if n := len(p.idle); n > 0 {
		e := p.idle[0]
		p.idle = p.idle[1:]
		return e
	}
	e := newEngine(p)
	p.all = append(p.all, e)
	return e
}

func (p *Pipeline) release(e *engine) {
	e.publish()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	p.idle = append([]*engine{e}, p.idle...)
}

// ReplayFile reads one capture file to its end. Connections stay open
// across calls (a capture split into several files); call Flush after the
// last one. An error names the file and the byte offset; every packet
// before it has been processed.
func (p *Pipeline) ReplayFile(ctx context.Context, path string) error {
	src, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return p.run(ctx, src)
}

// RunSource processes src until io.EOF or ctx is cancelled (then src is
// closed, which makes a live source return io.EOF). Several RunSource
// calls may run at once, e.g. one per AF_PACKET fanout socket: each gets
// its own flow table, so the sources must split traffic by flow.
func (p *Pipeline) RunSource(ctx context.Context, src Source) error {
	stop := context.AfterFunc(ctx, func() { src.Close() })
	defer stop()
	err := p.run(ctx, src)
	if err == nil && ctx.Err() != nil {
		return nil
	}
	return err
}

func (p *Pipeline) run(ctx context.Context, src Source) error {
	e := p.acquire()
	defer p.release(e)
	return e.run(ctx, src)
}

// Flush closes every open connection (event.CloseEOF) and delivers the
// pending events. Call it when no ReplayFile or RunSource is running.
func (p *Pipeline) Flush() {
	p.mu.Lock()
	engines := append([]*engine(nil), p.idle...)
	p.mu.Unlock()
	for _, e := range engines {
		e.flush()
	}
}

// Stats returns a snapshot of the counters; safe to call at any time. The
// snapshot trails the packets being processed by at most a few thousand.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	engines := append([]*engine(nil), p.all...)
	p.mu.Unlock()
	s := Stats{MalformedByRule: map[string]uint64{}, DroppedBy: map[string]uint64{}}
	for _, e := range engines {
		e.addStats(&s)
	}
	return s
}

// handle delivers one event to the pipeline's handler. The mutex is
// taken for every event, even when one engine runs: skipping it while
// alone races with a second RunSource starting mid-call (an uncontended
// lock costs ~10 ns, about 3% of a packet's processing).
func (e *engine) handle(ev *event.Event) {
	e.p.hmu.Lock()
	e.p.h.Handle(ev)
	e.p.hmu.Unlock()
}

// published is a snapshot of counters readable by Stats.
type published struct {
	mu     sync.Mutex
	c      counters
	app    session.Counters // ByRule nil: see byRule
	disp   dispCounters
	byRule map[string]uint64
}

// dispCounters are counted by the goroutine reading the source.
type dispCounters struct {
	packets, bytes, nonIP, fragments, short uint64
	frag                                    fragCounters
	first, last                             time.Time
}

func (pb *published) store(c *counters, a *session.Counters, d *dispCounters) {
	pb.mu.Lock()
	if c != nil {
		pb.c = *c
	}
	if a != nil {
		// The map is copied only when a violation was counted since the
		// last snapshot.
		if a.Malformed != pb.app.Malformed || len(a.ByRule) != len(pb.byRule) {
			if pb.byRule == nil {
				pb.byRule = make(map[string]uint64, len(a.ByRule))
			}
			for k, v := range a.ByRule {
				pb.byRule[k] = v
			}
		}
		pb.app = *a
		pb.app.ByRule = nil
	}
	if d != nil {
		pb.disp = *d
	}
	pb.mu.Unlock()
}

func (pb *published) addTo(s *Stats) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	c, d := &pb.c, &pb.disp
	s.Packets += d.packets
	s.Bytes += d.bytes
	s.NonIP += d.nonIP
	s.Fragments += d.fragments
	s.Dropped += d.short
	if d.short > 0 {
		s.DroppedBy["short"] += d.short
	}
	s.Dropped += d.frag.overlaps + d.frag.timeouts + d.frag.evicted + d.frag.invalid
	s.Reassembled += d.frag.reassembled
	s.FragmentOverlaps += d.frag.overlaps
	for k, v := range map[string]uint64{"fragment_overlap": d.frag.overlaps, "fragment_timeout": d.frag.timeouts, "fragment_cap": d.frag.evicted, "fragment_invalid": d.frag.invalid} {
		if v > 0 {
			s.DroppedBy[k] += v
		}
	}
	if !d.first.IsZero() && (s.FirstTime.IsZero() || d.first.Before(s.FirstTime)) {
		s.FirstTime = d.first
	}
	if d.last.After(s.LastTime) {
		s.LastTime = d.last
	}
	s.TCPFlows += c.tcpFlows
	s.MQTTConnections += pb.app.Conns
	s.MQTTPackets += pb.app.Packets
	s.Malformed += pb.app.Malformed
	s.ReassemblyGaps += c.gaps
	s.Dropped += c.dropped
	for i, v := range c.dropBy {
		if v > 0 {
			s.DroppedBy[dropNames[i]] += v
		}
	}
	s.Evicted += c.evicted
	s.OverlapConflicts += c.overlapConflicts
	s.TLSConnections += c.tls
	for i, v := range pb.app.ByType {
		s.MQTTByType[i] += v
	}
	for k, v := range pb.byRule {
		s.MalformedByRule[k] += v
	}
}

// readErr maps a source's read error to the engine's result: io.EOF (the
// end of a file, or a live source after Close) is a clean end, nil; any
// other error is returned unchanged — a FileSource error already names the
// file and offset, and nothing is wrapped here.
func readErr(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}
