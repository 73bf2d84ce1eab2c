package capture

// flowTable maps flow keys to connections: open addressing with linear
// probing on the key's 64-bit hash, plus a dense list for sweeps and
// eviction. It replaced a Go map and a move-to-front LRU list: the map
// hashed the 36-byte key with memhash and the LRU touched three other
// connections per packet (cache misses), together ~60 ns of the ~400 ns
// per packet measured by BenchmarkReplayWorkers1.
type flowTable struct {
	slots []flowSlot // power of two
	mask  uint64
	list  []*conn // every connection once; conn.idx is its position
	hand  int     // eviction clock hand into list
}

type flowSlot struct {
	h uint64
	c *conn
}

const evictSample = 32

func (t *flowTable) len() int { return len(t.list) }

func (t *flowTable) get(k *flowKey, h uint64) *conn {
	if t.slots == nil {
		return nil
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.c == nil {
			return nil
		}
		if s.h == h && s.c.key == *k {
			return s.c
		}
	}
}

// put adds c (c.key and c.hash set; not present yet).
func (t *flowTable) put(c *conn) {
	if 2*(len(t.list)+1) > len(t.slots) {
		t.grow()
	}
	t.insertSlot(c)
	c.idx = len(t.list)
	t.list = append(t.list, c)
}

func (t *flowTable) insertSlot(c *conn) {
	i := c.hash & t.mask
	for t.slots[i].c != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = flowSlot{h: c.hash, c: c}
}

func (t *flowTable) grow() {
	n := max(1024, 2*len(t.slots))
	t.slots = make([]flowSlot, n)
	t.mask = uint64(n - 1)
	for _, c := range t.list {
		t.insertSlot(c)
	}
}

// del removes c, shifting back the entries that probed past it.
func (t *flowTable) del(c *conn) {
	i := c.hash & t.mask
	for t.slots[i].c != c {
		i = (i + 1) & t.mask
	}
	j := i
	for {
		j = (j + 1) & t.mask
		if t.slots[j].c == nil {
			break
		}
		k := t.slots[j].h & t.mask // home slot of the entry at j
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue // its home is after the hole: it stays
		}
		t.slots[i] = t.slots[j]
		i = j
	}
	t.slots[i] = flowSlot{}
	last := len(t.list) - 1
	t.list[c.idx] = t.list[last]
	t.list[c.idx].idx = c.idx
	t.list[last] = nil
	t.list = t.list[:last]
}

// victim picks the connection to evict: the least recently active of the
// next evictSample connections under the clock hand (an approximate LRU
// that costs nothing per packet and does not depend on map order).
func (t *flowTable) victim() *conn {
	var v *conn
	for k := 0; k < evictSample && k < len(t.list); k++ {
		if t.hand >= len(t.list) {
			t.hand = 0
		}
		c := t.list[t.hand]
		t.hand++
		if v == nil || c.last < v.last || c.last == v.last && c.app.Info.ID < v.app.Info.ID {
			v = c
		}
	}
	return v
}
