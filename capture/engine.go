package capture

import (
	"context"
	"time"

	"github.com/gopacket/gopacket/layers"

	"mqttids/decode"
	"mqttids/event"
)

const (
	maxSweepEvery = int64(time.Second) // idle sweep interval, packet time (at most)
	roundPackets  = 256                // packets per round when sharded (batches stay in cache)...
	roundBytes    = 4 << 20            // ...or payload bytes copied per round
	publishEvery  = 4096               // packets between stats snapshots
)

// engine is one independent set of flow tables: the reading goroutine
// (dispatcher) and its workers. ReplayFile reuses one engine so flows
// continue across files; concurrent RunSource calls get one each.
type engine struct {
	p       *Pipeline
	workers []*worker
	seq     uint64 // index of the next packet
	sweepAt int64  // packet time of the next idle sweep
	pubAt   int64  // packet time of the next stats snapshot (a slow live link still updates /metrics)
	sweepDt int64  // sweep interval: min(1 s, IdleTimeout/4)
	d       dispCounters
	pub     published
	pi      pktInfo
	frag    defrag

	// sharded mode
	rounds [2][]*inBatch
}

// direct is the emitter of a single-worker engine: events go straight to
// the handler.
type direct struct{ e *engine }

func (d direct) emit(ev *event.Event, _ uint8, _ uint64) { d.e.handle(ev) }

func newEngine(p *Pipeline) *engine {
	e := &engine{p: p, sweepDt: max(1, min(maxSweepEvery, int64(p.opts.IdleTimeout/4)))}
	n := p.opts.Workers
	for i := 0; i < n; i++ {
		var out emitter = direct{e}
		if n > 1 {
			out = &outBatch{}
		}
		e.workers = append(e.workers, newWorker(&p.opts, &p.plan, out))
	}
	if n > 1 {
		for r := range e.rounds {
			for i := 0; i < n; i++ {
				e.rounds[r] = append(e.rounds[r], &inBatch{out: e.workers[i].out.(*outBatch)})
			}
		}
		// Both rounds' batches of worker i share one outBatch only if they
		// never are in flight together; give round 1 its own.
		for i := 0; i < n; i++ {
			e.rounds[1][i].out = &outBatch{}
		}
	}
	return e
}

func (e *engine) run(ctx context.Context, src Source) error {
	if len(e.workers) == 1 {
		err := e.runDirect(ctx, src)
		e.publish()
		return err
	}
	err := e.runSharded(ctx, src)
	e.publish()
	return err
}

// count does the per-frame bookkeeping of the dispatcher and reports
// whether an idle sweep is due before the frame.
func (e *engine) count(n int, ts time.Time) bool {
	e.d.packets++
	e.d.bytes += uint64(n)
	if e.d.first.IsZero() {
		e.d.first = ts
	}
	e.d.last = ts
	t := ts.UnixNano()
	if t >= e.sweepAt {
		sweep := e.sweepAt != 0
		e.sweepAt = t + e.sweepDt
		return sweep
	}
	return false
}

// classify parses a frame and counts what is not TCP. An IPv4 fragment
// that completes a datagram makes the datagram's TCP segment e.pi (its
// payload valid until the next classify).
func (e *engine) classify(lt layers.LinkType, data []byte, ts time.Time) bool {
	switch parseFrame(lt, data, &e.pi) {
	case parseTCP:
		return true
	case parseNonIP:
		e.d.nonIP++
	case parseFragment:
		e.d.fragments++
		ip := e.pi.frag4
		e.pi.frag4 = nil
		if ip != nil {
			dg := e.frag.add(ip, ts.UnixNano())
			e.d.frag = e.frag.st
			if dg != nil && parseIPv4(dg, &e.pi) == parseTCP {
				return true
			}
		}
	case parseShort:
		e.d.short++
	}
	return false
}

// perPacketLinkType is implemented by sources whose frames may differ in
// link type (FileSource reading a pcapng with several interfaces).
type perPacketLinkType interface{ PacketLinkType() layers.LinkType }

func (e *engine) runDirect(ctx context.Context, src Source) error {
	w := e.workers[0]
	lt := src.LinkType()
	plt, mixed := src.(perPacketLinkType)
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if n&(publishEvery-1) == 0 {
				e.publish()
			}
		}
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			return readErr(err)
		}
		seq := e.seq
		e.seq++
		if e.count(ci.Length, ci.Timestamp) {
			w.sweep(ci.Timestamp, seq)
		}
		if t := ci.Timestamp.UnixNano(); t >= e.pubAt {
			e.pubAt = t + int64(time.Second)
			e.publish()
		}
		if mixed {
			lt = plt.PacketLinkType()
		}
		if !e.classify(lt, data, ci.Timestamp) {
			continue
		}
		key, fromA := canonical(&e.pi)
		w.packet(&e.pi, &key, key.hash(), fromA, ci.Timestamp, seq)
	}
}

// flush closes every connection at the end of input.
func (e *engine) flush() {
	ts := e.d.last
	for _, w := range e.workers {
		if ob, ok := w.out.(*outBatch); ok {
			ob.reset()
		}
		w.closeAll(event.CloseEOF, ts, e.seq)
	}
	if len(e.workers) > 1 {
		e.merge(e.outs(nil))
	}
	e.publish()
}

func (e *engine) outs(round []*inBatch) []*outBatch {
	obs := make([]*outBatch, len(e.workers))
	for i, w := range e.workers {
		if round != nil {
			obs[i] = round[i].out
		} else {
			obs[i] = w.out.(*outBatch)
		}
	}
	return obs
}

func (e *engine) publish() {
	e.pub.store(nil, nil, &e.d)
	for _, w := range e.workers {
		w.pub.store(&w.st, &w.app.St, nil)
	}
}

func (e *engine) addStats(s *Stats) {
	e.pub.addTo(s)
	for _, w := range e.workers {
		w.pub.addTo(s)
	}
}

// Sharded mode. The dispatcher reads a round of frames, copies the TCP
// payloads into one reused batch per worker (the capture buffer is reused
// by the next read), and hands the batches over; while the workers decode
// round r, the dispatcher reads round r+1, then merges round r's events by
// (packet sequence, phase, tie) and calls the handler. The merge makes the
// output identical for any number of workers.

// inPkt is one segment for a worker; its payload is data[off:off+n] of the
// batch. tick marks an idle sweep instead of a segment.
type inPkt struct {
	pi     pktInfo
	key    flowKey
	hash   uint64
	fromA  bool
	tick   bool
	ts     time.Time
	seq    uint64
	off, n int
}

type inBatch struct {
	pkts []inPkt
	data []byte
	out  *outBatch
}

// outEvent is an event copied out of a worker with everything it points
// to, so it stays valid until the merge delivers it.
type outEvent struct {
	ev     event.Event
	phase  uint8
	tie    uint64
	conn   event.Conn
	pkt    decode.Packet
	hasPkt bool
	merr   decode.MalformedError
	isMerr bool
	terr   decode.TooLargeError
	isTerr bool
}

// outBatch collects a worker's events for one round. Its slices are reused
// round after round, so steady state does not allocate.
type outBatch struct {
	evs   []outEvent
	arena []byte
}

func (b *outBatch) reset() {
	b.evs = b.evs[:0]
	b.arena = b.arena[:0]
}

// bytes copies v into the arena. Earlier views stay valid when the arena
// grows: they keep pointing into the old array.
func (b *outBatch) bytes(v []byte) []byte {
	if v == nil {
		return nil
	}
	n := len(b.arena)
	b.arena = append(b.arena, v...)
	return b.arena[n:len(b.arena):len(b.arena)]
}

func (b *outBatch) emit(ev *event.Event, phase uint8, tie uint64) {
	if len(b.evs) < cap(b.evs) {
		b.evs = b.evs[:len(b.evs)+1] // keep the element's slices for reuse
	} else {
		b.evs = append(b.evs, outEvent{})
	}
	o := &b.evs[len(b.evs)-1]
	o.hasPkt, o.isMerr, o.isTerr = false, false, false
	o.ev = *ev
	o.phase, o.tie = phase, tie
	if ev.Conn != nil {
		o.conn = *ev.Conn
	}
	if ev.Packet != nil {
		o.hasPkt = true
		b.copyPacket(&o.pkt, ev.Packet)
	}
	// The framer's errors live in the framer: copy them.
	switch e := ev.Err.(type) {
	case *decode.MalformedError:
		o.merr, o.isMerr = *e, true
	case *decode.TooLargeError:
		o.terr, o.isTerr = *e, true
	}
}

func (b *outBatch) copyPacket(dst, src *decode.Packet) {
	filters, props, willProps := dst.Filters, dst.Props, dst.WillProps
	*dst = *src
	dst.ProtocolName = b.bytes(src.ProtocolName)
	dst.ClientID = b.bytes(src.ClientID)
	dst.WillTopic = b.bytes(src.WillTopic)
	dst.WillPayload = b.bytes(src.WillPayload)
	dst.Username = b.bytes(src.Username)
	dst.Password = b.bytes(src.Password)
	dst.Topic = b.bytes(src.Topic)
	dst.Payload = b.bytes(src.Payload)
	dst.ReasonCodes = b.bytes(src.ReasonCodes)
	dst.Filters = filters[:0]
	for _, f := range src.Filters {
		dst.Filters = append(dst.Filters, decode.Filter{Topic: b.bytes(f.Topic), Options: f.Options})
	}
	dst.Props = b.copyProps(props[:0], src.Props)
	dst.WillProps = b.copyProps(willProps[:0], src.WillProps)
}

func (b *outBatch) copyProps(dst, src []decode.Property) []decode.Property {
	for _, p := range src {
		dst = append(dst, decode.Property{ID: p.ID, Int: p.Int, Key: b.bytes(p.Key), Data: b.bytes(p.Data)})
	}
	return dst
}

func (e *engine) runSharded(ctx context.Context, src Source) error {
	n := len(e.workers)
	in := make([]chan *inBatch, n)
	done := make([]chan *inBatch, n)
	for i := range in {
		in[i] = make(chan *inBatch, 2)
		done[i] = make(chan *inBatch, 2)
		go func(w *worker, in <-chan *inBatch, done chan<- *inBatch) {
			for b := range in {
				w.out = b.out
				b.out.reset()
				for j := range b.pkts {
					ip := &b.pkts[j]
					if ip.tick {
						w.sweep(ip.ts, ip.seq)
						continue
					}
					ip.pi.payload = b.data[ip.off : ip.off+ip.n]
					w.packet(&ip.pi, &ip.key, ip.hash, ip.fromA, ip.ts, ip.seq)
				}
				w.pub.store(&w.st, &w.app.St, nil)
				done <- b
			}
		}(e.workers[i], in[i], done[i])
	}
	defer func() {
		for i := range in {
			close(in[i])
		}
		// Workers are idle: point them back at their own batch for Flush.
		for i, w := range e.workers {
			w.out = e.rounds[0][i].out
		}
	}()
	lt := src.LinkType()
	plt, mixed := src.(perPacketLinkType)
	inflight := -1
	collect := func(r int) {
		for i := range done {
			<-done[i]
		}
		e.merge(e.outs(e.rounds[r]))
		// workers publish their own counters; they may be busy now
		e.pub.store(nil, nil, &e.d)
	}
	for r := 0; ; r ^= 1 {
		if err := ctx.Err(); err != nil {
			if inflight >= 0 {
				collect(inflight)
			}
			return err
		}
		round := e.rounds[r]
		for _, b := range round {
			b.pkts, b.data = b.pkts[:0], b.data[:0]
		}
		var rerr error
		copied := 0
		for k := 0; k < roundPackets && copied < roundBytes; k++ {
			data, ci, err := src.ZeroCopyReadPacketData()
			if err != nil {
				rerr = err
				break
			}
			seq := e.seq
			e.seq++
			if e.count(ci.Length, ci.Timestamp) {
				for _, b := range round {
					b.pkts = append(b.pkts, inPkt{tick: true, ts: ci.Timestamp, seq: seq})
				}
			}
			if mixed {
				lt = plt.PacketLinkType()
			}
			if !e.classify(lt, data, ci.Timestamp) {
				continue
			}
			key, fromA := canonical(&e.pi)
			hash := key.hash()
			b := round[(hash>>32)%uint64(n)]
			off := len(b.data)
			b.data = append(b.data, e.pi.payload...)
			copied += len(e.pi.payload)
			b.pkts = append(b.pkts, inPkt{pi: e.pi, key: key, hash: hash, fromA: fromA, ts: ci.Timestamp, seq: seq, off: off, n: len(e.pi.payload)})
			b.pkts[len(b.pkts)-1].pi.payload = nil
		}
		for i, b := range round {
			in[i] <- b
		}
		if inflight >= 0 {
			collect(inflight)
		}
		inflight = r
		if rerr != nil {
			collect(inflight)
			return readErr(rerr)
		}
	}
}

// merge delivers the events of one round in (seq, phase, tie) order.
func (e *engine) merge(obs []*outBatch) {
	idx := make([]int, len(obs)) // small: one per worker per round
	for {
		best := -1
		var bo *outEvent
		for i, b := range obs {
			if idx[i] >= len(b.evs) {
				continue
			}
			o := &b.evs[idx[i]]
			if bo == nil || o.ev.Seq < bo.ev.Seq ||
				o.ev.Seq == bo.ev.Seq && (o.phase < bo.phase || o.phase == bo.phase && o.tie < bo.tie) {
				best, bo = i, o
			}
		}
		if best < 0 {
			break
		}
		idx[best]++
		ev := &bo.ev
		if ev.Conn != nil {
			ev.Conn = &bo.conn
		}
		if bo.hasPkt {
			ev.Packet = &bo.pkt
		}
		switch {
		case bo.isMerr:
			ev.Err = &bo.merr
		case bo.isTerr:
			ev.Err = &bo.terr
		}
		e.handle(ev)
	}
	for _, b := range obs {
		b.reset()
	}
}
