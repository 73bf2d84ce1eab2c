package detect

import (
	"math"
	"math/bits"
)

// A distinct sketch is four uint32 words (16 bytes) per bucket, in one of
// two modes chosen by bit 31 of word 0:
//
//   - exact (bit clear, the zero value): up to 7 15-bit fingerprints in
//     half-words 1..7, their number in the low bits of half-word 0. Counts
//     up to 7 — the range thresholds like "5 user names" live in — are exact
//     (two items share a fingerprint with probability ~1/32767 per pair).
//   - bitmap (bit set): linear counting over the other 127 bits (Whang et
//     al.), entered when an eighth distinct item arrives: within ~10 % up to
//     ~300, saturating at 127·ln 127 ≈ 615.
//
// Fingerprint and bit position both derive from the item's hash, so
// converting exact to bitmap and merging buckets of different modes agree.
const (
	sketchWords = 4
	sketchExact = 7
	sketchFlag  = uint32(1) << 31
	sketchBits  = 127
)

// fingerprint is 15 bits of the hash, never 0 (0 marks an empty slot).
func fingerprint(h uint64) uint16 {
	fp := uint16(h >> 49)
	if fp == 0 {
		fp = 1
	}
	return fp
}

// bitOf maps a fingerprint to one of the 127 bitmap positions, skipping the
// mode flag (word 0, bit 31).
func bitOf(fp uint16) (word int, mask uint32) {
	b := int(fp) % sketchBits
	if b >= 31 {
		b++
	}
	return b >> 5, 1 << (b & 31)
}

func halfword(s []uint32, k int) uint16 { return uint16(s[k>>1] >> ((k & 1) * 16)) }

func setHalfword(s []uint32, k int, v uint16) {
	shift := (k & 1) * 16
	s[k>>1] = s[k>>1]&^(0xffff<<shift) | uint32(v)<<shift
}

// sketchAdd records the item with fingerprint fp in the sketch s (4 words).
func sketchAdd(s []uint32, fp uint16) {
	if s[0]&sketchFlag != 0 {
		w, m := bitOf(fp)
		s[w] |= m
		return
	}
	n := int(s[0] & 7)
	for k := 1; k <= n; k++ {
		if halfword(s, k) == fp {
			return
		}
	}
	if n < sketchExact {
		setHalfword(s, n+1, fp)
		s[0] = s[0]&^7 | uint32(n+1)
		return
	}
	var fps [sketchExact]uint16
	for k := range fps {
		fps[k] = halfword(s, k+1)
	}
	s[0], s[1], s[2], s[3] = sketchFlag, 0, 0, 0
	for _, f := range fps {
		w, m := bitOf(f)
		s[w] |= m
	}
	w, m := bitOf(fp)
	s[w] |= m
}

// sketchUnion estimates the distinct items of two sketches together.
func sketchUnion(a, b []uint32) float64 {
	if a[0]&sketchFlag == 0 && b[0]&sketchFlag == 0 {
		var fps [2 * sketchExact]uint16
		n := 0
		for _, s := range [2][]uint32{a, b} {
			for k := 1; k <= int(s[0]&7); k++ {
				fp := halfword(s, k)
				dup := false
				for _, f := range fps[:n] {
					dup = dup || f == fp
				}
				if !dup {
					fps[n] = fp
					n++
				}
			}
		}
		return float64(n)
	}
	var u [sketchWords]uint32
	for _, s := range [2][]uint32{a, b} {
		if s[0]&sketchFlag != 0 {
			for j := range u {
				u[j] |= s[j]
			}
			continue
		}
		for k := 1; k <= int(s[0]&7); k++ {
			w, m := bitOf(halfword(s, k))
			u[w] |= m
		}
	}
	u[0] &^= sketchFlag
	set := 0
	for _, x := range u {
		set += bits.OnesCount32(x)
	}
	return linearTable[sketchBits-set]
}

// linearTable[z] is the linear-counting estimate for z zero bits of 127.
var linearTable = func() (t [sketchBits + 1]float64) {
	const m = sketchBits
	t[0] = math.Round(m * math.Log(m))
	for z := 1; z <= m; z++ {
		t[z] = math.Round(-m * math.Log(float64(z)/m))
	}
	return t
}()
