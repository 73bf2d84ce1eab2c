package capture

import (
	"math/rand/v2"
	"testing"
)

// TestFlowTable checks the open-addressing table against a map under
// random inserts and deletes, with a weak hash to force long probe runs.
func TestFlowTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tab flowTable
	ref := map[flowKey]*conn{}
	var keys []flowKey
	for i := 0; i < 50000; i++ {
		if len(keys) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(keys))
			k := keys[j]
			keys[j] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			h := uint64(k.ap) % 64
			c := tab.get(&k, h)
			if c != ref[k] || c == nil {
				t.Fatalf("get before delete: %p, want %p", c, ref[k])
			}
			tab.del(c)
			delete(ref, k)
			if tab.get(&k, h) != nil {
				t.Fatal("deleted key still found")
			}
			continue
		}
		var k flowKey
		k.a[0], k.ap, k.bp = byte(i), uint16(rng.IntN(65536)), uint16(i)
		if ref[k] != nil {
			continue
		}
		c := &conn{key: k, hash: uint64(k.ap) % 64}
		tab.put(c)
		ref[k] = c
		keys = append(keys, k)
	}
	if tab.len() != len(ref) {
		t.Fatalf("len %d, want %d", tab.len(), len(ref))
	}
	for k, c := range ref {
		if got := tab.get(&k, c.hash); got != c {
			t.Fatalf("get %v: %p, want %p", k, got, c)
		}
		if tab.list[c.idx] != c {
			t.Fatalf("list index broken")
		}
	}
}
