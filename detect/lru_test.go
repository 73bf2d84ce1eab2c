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
	if !l.full() || l.keys[l.tail] != "b" {
		t.Fatalf("tail %q, full %v", l.keys[l.tail], l.full())
	}
	l.remove(l.tail)
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
	for j := l.head; j >= 0; j = l.links[j].next {
		got = append(got, l.keys[j])
	}
	if len(got) != 3 || got[0] != "d" || got[1] != "a" || got[2] != "c" {
		t.Fatalf("order %v", got)
	}
}
