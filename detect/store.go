package detect

import (
	"math"
	"time"
)

// The counter store: what is kept per entry of a table and the window,
// distinct-count and baseline arithmetic on it. table.go holds the
// container (lru.go the key → index map and eviction) and calls in here.

// pubState is the publish baseline of a key that publishes.
type pubState struct {
	pubBase   float32 // EWMA of publishes per baseline bucket
	byteBase  float32 // EWMA of publish bytes per baseline bucket
	baseEpoch int64   // current baseline bucket
	pubCur    uint32  // publishes in it
	byteCur   uint32  // publish bytes in it
	baseN     uint32  // complete buckets the baseline has seen (saturating)
	rateSec   int64   // current 1 s rate bucket
	rateCur   uint32  // publishes in it
	ratePrev  uint32  // publishes in the one before
	rbCur     uint32  // bytes in it
	rbPrev    uint32  // bytes in the one before
	ratePeak  uint32  // the busiest complete second in the baseline bucket
	rbPeak    uint32  // the most bytes in a complete second of it
}

// rateBucket is the bucket length of publish_rate: one second, short
// enough that a burst of a few hundred milliseconds shows at its real rate.
const rateBucket = int64(time.Second)

// rate returns the sliding publishes (or bytes) per second at now.
func (ps *pubState) rate(bytes bool, now int64) float64 {
	cur, prev := ps.rateCur, ps.ratePrev
	if bytes {
		cur, prev = ps.rbCur, ps.rbPrev
	}
	b := now / rateBucket
	switch {
	case b == ps.rateSec:
	case b == ps.rateSec+1:
		cur, prev = 0, cur
	default:
		return 0
	}
	frac := float64(now-b*rateBucket) / float64(rateBucket)
	return math.Round(float64(cur) + float64(prev)*(1-frac))
}

type slab struct {
	stride int
	data   []uint32
	free   []int32
}

func (s *slab) alloc() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		clear(s.data[int(i)*s.stride : int(i+1)*s.stride])
		return i
	}
	i := int32(len(s.data) / s.stride)
	s.data = append(s.data, make([]uint32, s.stride)...)
	return i
}

// groupCounters lists the stored counters of each group.
var groupCounters [numGroups][]Counter

func init() {
	for c := Counter(0); c < NumCounters; c++ {
		if offsetOf[c] >= 0 {
			g := infos[c].group
			groupCounters[g] = append(groupCounters[g], c)
		}
	}
}

// The publish baseline is an EWMA over 5-second buckets: short enough that
// a client's normal is known 10 s after it appears (a flood that starts
// early is still measured against it), with time constants of about 30 min
// for increases — a flood must not become the norm — and 4 min for
// decreases.
const (
	baseBucket = int64(5 * time.Second)
	baseUp     = 1.0 / 384
	baseDown   = 1.0 / 48
)

func (t *table[K, A]) pubOf(i int32) *pubState {
	e := &t.ents[i]
	if e.pub == 0 {
		if n := len(t.pubFree); n > 0 {
			e.pub = t.pubFree[n-1] + 1
			t.pubFree = t.pubFree[:n-1]
			t.pubs[e.pub-1] = pubState{}
		} else {
			t.pubs = append(t.pubs, pubState{})
			e.pub = int32(len(t.pubs))
		}
	}
	return &t.pubs[e.pub-1]
}

// addPublish feeds the publish baseline and rate of entry i; a complete
// bucket is also a sample of peer (nil: none).
func (t *table[K, A]) addPublish(i int32, n uint32, now int64, peer *peerDist) {
	created := t.ents[i].created
	ps := t.pubOf(i)
	if now >= (ps.rateSec+1)*rateBucket || now < ps.rateSec*rateBucket { // a new second (no division otherwise)
		rb := now / rateBucket
		ps.ratePeak, ps.rbPeak = max(ps.ratePeak, ps.rateCur), max(ps.rbPeak, ps.rbCur)
		if rb == ps.rateSec+1 {
			ps.ratePrev, ps.rbPrev = ps.rateCur, ps.rbCur
		} else {
			ps.ratePrev, ps.rbPrev = 0, 0
		}
		ps.rateSec, ps.rateCur, ps.rbCur = rb, 0, 0
	}
	ps.rateCur++
	if v := ps.rbCur + n; v >= n {
		ps.rbCur = v
	}
	if ps.baseEpoch == 0 {
		ps.baseEpoch = now / baseBucket
	}
	if now >= (ps.baseEpoch+1)*baseBucket {
		b := now / baseBucket
		// The bucket the key appeared in is partial: it does not count.
		if ps.baseEpoch != created/baseBucket {
			pubs, byts := float32(ps.pubCur), float32(ps.byteCur)
			if ps.baseN == 0 {
				ps.pubBase, ps.byteBase = pubs, byts
			} else {
				ps.pubBase = ewma(ps.pubBase, pubs)
				ps.byteBase = ewma(ps.byteBase, byts)
			}
			if k := b - ps.baseEpoch - 1; k > 0 {
				f := float32(math.Pow(1-baseDown, float64(min(k, 10000))))
				ps.pubBase *= f
				ps.byteBase *= f
			}
			if ps.baseN < math.MaxUint32 {
				ps.baseN++
			}
			if peer != nil && ps.ratePeak > 0 && ps.baseN > 1 {
				// The busiest second of a complete bucket of a key with a
				// normal of its own: one sample of what new keys are
				// measured against. New keys do not count, so a new flooder
				// cannot raise its own bar.
				peer.add(ps.ratePeak, ps.rbPeak, now)
			}
		}
		ps.baseEpoch, ps.pubCur, ps.byteCur = b, 0, 0
		ps.ratePeak, ps.rbPeak = 0, 0
	}
	ps.pubCur++
	if v := ps.byteCur + n; v >= n {
		ps.byteCur = v
	}
}

// roll starts bucket number b of window w for e.
func (t *table[K, A]) roll(e *entry, w Window, b int64) {
	wd := int64(windowDur[w])
	adjacent := b*wd == e.start[w]+wd
	for g := range e.grp {
		if e.grp[g] == 0 {
			continue
		}
		s := &t.slabs[g]
		d := s.data[int(e.grp[g]-1)*s.stride : int(e.grp[g])*s.stride]
		for _, c := range groupCounters[g] {
			o := offsetOf[c]
			if infos[c].kind == kEvent {
				o += int(w) * 2
				if adjacent {
					d[o+1] = d[o]
				} else {
					d[o+1] = 0
				}
				d[o] = 0
			} else {
				o += int(w) * 2 * sketchWords
				for j := range sketchWords {
					if adjacent {
						d[o+sketchWords+j] = d[o+j]
					} else {
						d[o+sketchWords+j] = 0
					}
					d[o+j] = 0
				}
			}
		}
	}
	if adjacent {
		e.first[w][1] = e.first[w][0]
	} else {
		e.first[w][1] = 0
	}
	e.first[w][0] = 0
	e.start[w] = b * wd
}

func ewma(base, x float32) float32 {
	if x > base {
		return base + baseUp*(x-base)
	}
	return base + baseDown*(x-base)
}

func (t *table[K, A]) words(i int32, g group) []uint32 {
	e := &t.ents[i]
	if e.grp[g] == 0 {
		e.grp[g] = t.slabs[g].alloc() + 1
	}
	s := &t.slabs[g]
	return s.data[int(e.grp[g]-1)*s.stride : int(e.grp[g])*s.stride]
}

// mark records activity for the first-seen bookkeeping: the first touch
// in each window's current bucket. Every window's buckets start on 30 s
// boundaries, where the 30 s window rolls too, so when the 30 s window's
// current bucket has a first time, all windows' have.
func (e *entry) mark(now int64) {
	for w := range e.first {
		if e.first[w][0] == 0 {
			e.first[w][0] = now
		}
	}
}

// publish counts one PUBLISH of n bytes on topic hash h for entry i: the
// common path, so its three counters and the baseline share one lookup.
func (t *table[K, A]) publish(i int32, n uint32, h uint64, now int64, peer *peerDist) {
	d := t.words(i, gPub)
	op, ob, ot := offsetOf[Publishes], offsetOf[PublishBytes], offsetOf[DistinctTopics]
	fp := fingerprint(h)
	for w := 0; w < int(NumWindows); w++ {
		if d[op+w*2] != math.MaxUint32 {
			d[op+w*2]++
		}
		v := d[ob+w*2] + n
		if v < n {
			v = math.MaxUint32
		}
		d[ob+w*2] = v
		sketchAdd(d[ot+w*2*sketchWords:ot+w*2*sketchWords+sketchWords], fp)
	}
	t.addPublish(i, n, now, peer)
}

// evidence are the counters that move a key to the protected segment of
// its table (lru.go): something an attacker did, not just a SYN. A flood of
// keys without any cannot evict a key with some.
const evidence = CounterSet(1<<AuthFailures | 1<<ConnackRefusals | 1<<Malformed | 1<<Takeovers |
	1<<Undeliverable | 1<<IdleConns | 1<<AbnormalCloses | 1<<WildcardSubs | 1<<SysSubs |
	1<<KeepAliveHigh | 1<<UnexpectedSource)

// add adds n to event counter c of entry i (already touched).
func (t *table[K, A]) add(i int32, c Counter, n uint32) {
	if evidence.Has(c) {
		t.promote(i)
	}
	d := t.words(i, infos[c].group)
	o := offsetOf[c]
	for w := 0; w < int(NumWindows); w++ {
		v := d[o+w*2] + n
		if v < n {
			v = math.MaxUint32
		}
		d[o+w*2] = v
	}
}

// addDistinct records hash h in distinct counter c of entry i.
func (t *table[K, A]) addDistinct(i int32, c Counter, h uint64) {
	d := t.words(i, infos[c].group)
	o := offsetOf[c]
	fp := fingerprint(h)
	for w := 0; w < int(NumWindows); w++ {
		sketchAdd(d[o+w*2*sketchWords:o+w*2*sketchWords+sketchWords], fp)
	}
}

// value returns the windowed value of stored counter c of entry i at now.
// With upper set, an event counter returns a cheap upper bound instead
// (both buckets in full), for gates that usually fail.
func (t *table[K, A]) value(i int32, c Counter, w Window, now int64, upper bool) float64 {
	return storedValue(&t.ents[i], &t.slabs, c, w, now, upper)
}

func storedValue(e *entry, slabs *[numGroups]slab, c Counter, w Window, now int64, upper bool) float64 {
	g := infos[c].group
	if e.grp[g] == 0 {
		return 0
	}
	s := &slabs[g]
	d := s.data[int(e.grp[g]-1)*s.stride:]
	if infos[c].kind == kDistinct {
		o := offsetOf[c] + int(w)*2*sketchWords
		return sketchUnion(d[o:o+sketchWords], d[o+sketchWords:o+2*sketchWords])
	}
	o := offsetOf[c] + int(w)*2
	if upper {
		return float64(d[o]) + float64(d[o+1])
	}
	wd := int64(windowDur[w])
	frac := float64(now-e.start[w]) / float64(wd)
	frac = min(max(frac, 0), 1)
	return math.Round(float64(d[o]) + float64(d[o+1])*(1-frac))
}

// firstSeen is the first activity of entry i inside window w (approximate:
// the start of the older bucket still weighted in).
func (t *table[K, A]) firstSeen(i int32, w Window) int64 {
	e := &t.ents[i]
	if f := e.first[w][1]; f != 0 {
		return f
	}
	if f := e.first[w][0]; f != 0 {
		return f
	}
	return e.created
}

// baseline returns the publish (bytes=false) or byte baseline scaled to w.
func (t *table[K, A]) baseline(i int32, bytes bool, w Window) float64 {
	return baselineOf(&t.ents[i], t.pubs, bytes, w)
}

func baselineOf(e *entry, pubs []pubState, bytes bool, w Window) float64 {
	if e.pub == 0 {
		return 0
	}
	ps := &pubs[e.pub-1]
	if ps.baseN == 0 {
		return 0
	}
	b := ps.pubBase
	if bytes {
		b = ps.byteBase
	}
	return float64(b) * float64(int64(windowDur[w])/baseBucket)
}
