package detect

import "testing"

func TestLRUOrderAndRefs(t *testing.T) {
	l := newLRU[string](3)
	refs := map[string]ref{}
	for _, k := range []string{"a", "b", "c"} {
		i, grown := l.insert(k)
		if !grown {
			t.Fatalf("%s: index reused in a fresh lru", k)
		}
		refs[k] = l.ref(i)
	}
	l.use(l.lookup("a")) // b is now the least recently used
	if !l.full() || l.keys[l.victim()] != "b" {
		t.Fatalf("victim %q, full %v", l.keys[l.victim()], l.full())
	}
	l.remove(l.victim())
	if l.valid(refs["b"]) || l.lookup("b") >= 0 {
		t.Fatal("removed key still valid")
	}
	i, grown := l.insert("d")
	if grown || i != refs["b"].i {
		t.Fatalf("d got index %d (grown %v), want b's %d reused", i, grown, refs["b"].i)
	}
	if l.valid(refs["b"]) || !l.valid(l.ref(i)) || !l.valid(refs["a"]) || !l.valid(refs["c"]) {
		t.Fatal("generations do not tell the reused index from the old key")
	}
	// Order, most recent first: d, a, c.
	var got []string
	for j := l.seg[probation].head; j >= 0; j = l.links[j].next {
		got = append(got, l.keys[j])
	}
	if len(got) != 3 || got[0] != "d" || got[1] != "a" || got[2] != "c" {
		t.Fatalf("order %v", got)
	}
}

// TestLRUProtectsEvidence: keys with evidence are evicted only when no key
// without any is left, and protected holds at most 3/4 of the cap.
func TestLRUProtectsEvidence(t *testing.T) {
	l := newLRU[int](8)
	for k := range 8 {
		l.insert(k)
	}
	for _, k := range []int{0, 1, 2} { // the oldest three showed evidence
		l.promote(l.lookup(k))
	}
	for k := 8; k < 100; k++ { // a flood of keys without evidence
		l.remove(l.victim())
		l.insert(k)
	}
	for _, k := range []int{0, 1, 2} {
		if l.lookup(k) < 0 {
			t.Errorf("key %d with evidence evicted by keys without", k)
		}
	}
	for k := 100; k < 110; k++ {
		l.promote(l.lookup(k - 1)) // everything promoted now
		l.remove(l.victim())
		l.insert(k)
	}
	if n := l.seg[protected].n; n > 6 {
		t.Errorf("protected holds %d of 8", n)
	}
	if l.seg[protected].n+l.seg[probation].n != l.len() {
		t.Errorf("segments %d+%d, %d keys", l.seg[protected].n, l.seg[probation].n, l.len())
	}
}
