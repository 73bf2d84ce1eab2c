package detect

import (
	"math"
	"math/bits"
	"time"
)

// peerDist is the distribution of per-key publish rates among the keys of
// one kind (source address or client id) on one broker: what "normal" is
// for a key that has no history of its own yet. Each key that has a
// normal of its own (its publish baseline is known) contributes one sample
// per complete 5 s baseline bucket in which it published: its busiest
// second in that bucket (publishes, and bytes), the measure a new key's
// rate over the last second is compared with. A key weighs by how long it
// has been active, not by how fast it publishes, and a new key (a flooder
// among them) never counts among the peers it is judged against.
//
// Samples go into log-scale histograms (four bins per octave, so a
// quantile is within 25 % of the true value) in six slices of 5 min: the
// distribution covers the last 25–30 min with 2 × 6 × 130 counters per
// kind and broker, whatever the number of keys. Quantiles are recomputed
// lazily: when samples were added and 100 ms of packet time passed, or
// the number of samples doubled, or too few were behind the last answer —
// so a flood of queries does not cost a histogram scan each.
type peerDist struct {
	slice [peerSlices]peerSlice
	// cached quantiles, refreshed at most once per second of packet time
	at      int64
	gen     uint64 // samples added, for the cache
	atGen   uint64
	q       [4]float64 // publishes p50, p99, bytes p50, p99 (per second)
	samples uint32     // samples behind q
}

type peerSlice struct {
	epoch int64 // slice number (packet time / peerSliceDur)
	n     uint32
	pubs  [peerBins]uint32
	bytes [peerBins]uint32
}

const (
	peerSlices     = 6
	peerSliceDur   = int64(5 * time.Minute)
	peerBins       = 4*32 + 2 // bin 0: zero; bins 1..: 4 per octave up to 2^32
	peerMinSamples = 20       // fewer samples: the distribution is unknown (0)
)

// peerBin maps a per-second count to its histogram bin: four bins per
// octave, from the two bits after the leading one (integer arithmetic: a
// sample is taken every second for every publishing key).
func peerBin(v uint32) int {
	if v == 0 {
		return 0
	}
	l := bits.Len32(v) - 1
	q := int(uint64(v)<<(32-l)>>30) & 3
	return min(1+4*l+q, peerBins-1)
}

// peerBinValue is the upper edge of bin b: a quantile errs on the high
// side (by less than 25 %), so a key is never judged against a normal
// lower than its peers'.
func peerBinValue(b int) float64 {
	if b == 0 {
		return 0
	}
	l, q := (b-1)/4, (b-1)%4
	return math.Exp2(float64(l)) * float64(5+q) / 4
}

// add records one complete bucket of a key: n publishes of total bytes.
func (p *peerDist) add(n, bytes uint32, now int64) {
	e := now / peerSliceDur
	s := &p.slice[e%peerSlices]
	if s.epoch != e {
		*s = peerSlice{epoch: e}
	}
	s.n++
	s.pubs[peerBin(n)]++
	s.bytes[peerBin(bytes)]++
	p.gen++
}

// quantile returns publishes (bytes=false) or bytes per second at quantile
// q (0.5 or 0.99) over the live slices, 0 when too few samples.
func (p *peerDist) quantile(bytes bool, q99 bool, now int64) float64 {
	if p == nil {
		return 0
	}
	if (p.gen != p.atGen && (p.at == 0 || now-p.at >= int64(100*time.Millisecond) || now < p.at ||
		p.gen >= 2*p.atGen || p.samples < peerMinSamples)) || now/peerSliceDur != p.at/peerSliceDur {
		p.refresh(now) // new samples, or a slice expired
	}
	if p.samples < peerMinSamples {
		return 0
	}
	i := 0
	if q99 {
		i = 1
	}
	if bytes {
		i += 2
	}
	return p.q[i]
}

func (p *peerDist) refresh(now int64) {
	p.at, p.atGen = now, p.gen
	e := now / peerSliceDur
	var pubs, byts [peerBins]uint32
	var n uint32
	for i := range p.slice {
		s := &p.slice[i]
		if s.n == 0 || s.epoch > e || e-s.epoch >= peerSlices {
			continue
		}
		n += s.n
		for b := range pubs {
			pubs[b] += s.pubs[b]
			byts[b] += s.bytes[b]
		}
	}
	p.samples = n
	p.q[0], p.q[1] = histQuantile(&pubs, n, 0.5), histQuantile(&pubs, n, 0.99)
	p.q[2], p.q[3] = histQuantile(&byts, n, 0.5), histQuantile(&byts, n, 0.99)
}

func histQuantile(h *[peerBins]uint32, n uint32, q float64) float64 {
	if n == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(n)))
	var cum uint64
	for b, c := range h {
		cum += uint64(c)
		if cum >= want {
			return peerBinValue(b)
		}
	}
	return peerBinValue(peerBins - 1)
}
