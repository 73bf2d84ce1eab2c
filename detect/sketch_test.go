package detect

import (
	"fmt"
	"testing"
)

func TestSketch(t *testing.T) {
	for _, tc := range []struct {
		a, b    int // distinct items in each bucket
		overlap int // items present in both
		tol     float64
	}{
		{0, 0, 0, 0},
		{1, 0, 0, 0},
		{3, 3, 3, 0},  // same items in both buckets
		{5, 0, 0, 0},  // spray threshold: exact
		{7, 0, 0, 0},  // the last exact count
		{4, 5, 2, 0},  // exact union of two exact buckets (7)
		{7, 7, 0, 0},  // 14, both still exact
		{8, 0, 0, 1},  // bitmap from here
		{10, 3, 0, 2}, // mixed modes
		{50, 50, 25, 8},
		{150, 0, 0, 20},
		{300, 0, 0, 45},
	} {
		t.Run(fmt.Sprint(tc.a, tc.b, tc.overlap), func(t *testing.T) {
			a, b := make([]uint32, sketchWords), make([]uint32, sketchWords)
			for i := range tc.a {
				sketchAdd(a, fingerprint(hashString(fmt.Sprintf("item-%d", i))))
				sketchAdd(a, fingerprint(hashString(fmt.Sprintf("item-%d", i)))) // repeats do not count
			}
			for i := range tc.b {
				sketchAdd(b, fingerprint(hashString(fmt.Sprintf("item-%d", tc.a-tc.overlap+i))))
			}
			want := float64(tc.a + tc.b - tc.overlap)
			got := sketchUnion(a, b)
			if d := got - want; d > tc.tol || d < -tc.tol {
				t.Errorf("estimate %v, want %v±%v", got, want, tc.tol)
			}
		})
	}
}

func TestSketchSaturates(t *testing.T) {
	s := make([]uint32, sketchWords)
	for i := range 100_000 {
		sketchAdd(s, fingerprint(hashString(fmt.Sprint(i))))
	}
	if got := sketchUnion(s, make([]uint32, sketchWords)); got != linearTable[0] {
		t.Errorf("saturated estimate %v, want %v", got, linearTable[0])
	}
}
