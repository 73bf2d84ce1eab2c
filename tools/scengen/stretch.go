package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// stretchOpts configures time dilation. Zero values mean: attacker
// connections 1–2 s apart, seed 1.
type stretchOpts struct {
	brokerPort     uint16
	attackers      []string
	minGap, maxGap time.Duration
	seed           uint64
}

// stretch rewrites the timestamps of a recording so the attackers'
// connections start minGap–maxGap apart, and every other connection starts
// at its original offset scaled to the new length. Inside each connection
// the original spacing of packets is kept, so benign clients keep their
// pace; only the time between connections changes. The bytes are untouched.
func stretch(in, out string, o stretchOpts) error {
	if o.minGap == 0 && o.maxGap == 0 {
		o.minGap, o.maxGap = time.Second, 2*time.Second
	}
	if o.maxGap < o.minGap {
		return fmt.Errorf("stretch: max gap %v below min gap %v", o.maxGap, o.minGap)
	}
	if o.seed == 0 {
		o.seed = 1
	}
	attackers := map[netip.Addr]bool{}
	for _, a := range o.attackers {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("stretch: attacker %q: %w", a, err)
		}
		attackers[ip] = true
	}
	frames, lt, snaplen, err := readPcap(in)
	if err != nil {
		return fmt.Errorf("stretch: %w", err)
	}
	if len(frames) == 0 {
		return fmt.Errorf("stretch: %s has no frames", in)
	}

	// Assign frames to connections; -1 for frames outside any.
	type conn struct {
		start, newStart time.Time
		attacker        bool
		closed          bool
	}
	var conns []*conn
	current := map[netip.AddrPort]int{}
	flowOf := make([]int, len(frames))
	for i, fr := range frames {
		s := parseSegment(lt, fr.data, o.brokerPort)
		flowOf[i] = -1
		if !s.ok || (s.dst.Port() != o.brokerPort && s.src.Port() != o.brokerPort) {
			continue
		}
		idx, seen := current[s.client]
		if !seen || (s.fromClient && s.flags&(tcpSYN|0x10) == tcpSYN && conns[idx].closed) {
			idx = len(conns)
			conns = append(conns, &conn{start: fr.ci.Timestamp, attacker: attackers[s.client.Addr()]})
			current[s.client] = idx
		}
		conns[idx].closed = conns[idx].closed || s.flags&(tcpFIN|tcpRST) != 0
		flowOf[i] = idx
	}

	t0, end := frames[0].ci.Timestamp, frames[len(frames)-1].ci.Timestamp
	rng := rand.New(rand.NewPCG(o.seed, 0x5ca1e))
	var lastOld, lastNew time.Time
	for _, c := range conns { // conns are in order of first frame
		if !c.attacker {
			continue
		}
		if lastOld.IsZero() {
			c.newStart = c.start
		} else {
			gap := o.minGap + time.Duration(rng.Int64N(int64(o.maxGap-o.minGap)+1))
			c.newStart = lastNew.Add(gap)
		}
		lastOld, lastNew = c.start, c.newStart
	}
	if lastOld.IsZero() {
		return fmt.Errorf("stretch: no connection from attackers %v in %s", o.attackers, in)
	}
	newEnd := lastNew.Add(end.Sub(lastOld))
	scale := float64(newEnd.Sub(t0)) / float64(max(end.Sub(t0), time.Millisecond))
	scaled := func(t time.Time) time.Time { return t0.Add(time.Duration(float64(t.Sub(t0)) * scale)) }
	for _, c := range conns {
		if !c.attacker {
			c.newStart = scaled(c.start)
		}
	}

	order := make([]int, len(frames))
	for i := range frames {
		ts := frames[i].ci.Timestamp
		if f := flowOf[i]; f >= 0 {
			frames[i].ci.Timestamp = conns[f].newStart.Add(ts.Sub(conns[f].start))
		} else {
			frames[i].ci.Timestamp = scaled(ts)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return frames[a].ci.Timestamp.Compare(frames[b].ci.Timestamp)
	})

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("stretch: %w", err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(snaplen, lt); err != nil {
		f.Close()
		return fmt.Errorf("stretch: write %s: %w", out, err)
	}
	for _, i := range order {
		if err := w.WritePacket(frames[i].ci, frames[i].data); err != nil {
			f.Close()
			return fmt.Errorf("stretch: write %s: %w", out, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("stretch: close %s: %w", out, err)
	}
	return nil
}
