package detect

// lru is a capped map from key to a dense index with segmented
// least-recently-used eviction; it knows nothing of what is kept per
// index. Indices are stable until the key is removed; holders keep a ref
// (index, generation) and re-check it with valid, since an index is reused
// for another key.
//
// Two segments, each its own recency list: probation, where every key
// starts, and protected, where a key moves once it shows evidence (a
// refusal, a protocol violation, a CONNECT on a connection: see
// evidence in table.go). Eviction takes the least recently used key of
// probation first and touches protected only when probation is empty; the
// protected segment holds at most 3/4 of the cap (a key promoted beyond
// that pushes protected's oldest back to probation). So a flood of
// spoofed SYNs — keys with nothing against them — evicts its own kind and
// cannot push out the state that tracks a brute-forcer.
type lru[K comparable] struct {
	max       int
	idx       map[K]int32
	keys      []K
	links     []link
	seg       [2]segment // probation, protected
	free      []int32
	evictions uint64
}

type segment struct {
	head, tail int32
	n          int
}

const (
	probation = 0
	protected = 1
)

// link is an index's place in its segment's recency list and its
// generation.
type link struct {
	prev, next int32 // -1: list end; -2: removed
	gen        uint32
	seg        uint8
}

// ref is a (index, generation) reference to an entry that may be evicted.
type ref struct {
	i   int32
	gen uint32
}

func newLRU[K comparable](max int) lru[K] {
	return lru[K]{max: max, idx: make(map[K]int32), seg: [2]segment{{-1, -1, 0}, {-1, -1, 0}}}
}

// victim is the index to evict: probation's least recently used, else
// protected's.
func (l *lru[K]) victim() int32 {
	if l.seg[probation].tail >= 0 {
		return l.seg[probation].tail
	}
	return l.seg[protected].tail
}

// promote moves i to the protected segment (at its front).
func (l *lru[K]) promote(i int32) {
	if l.links[i].seg == protected {
		return
	}
	l.unlink(i)
	l.links[i].seg = protected
	l.pushFront(i)
	if p := &l.seg[protected]; p.n > l.max*3/4 && p.tail >= 0 {
		old := p.tail
		l.unlink(old)
		l.links[old].seg = probation
		l.pushFront(old)
	}
}

func (l *lru[K]) len() int { return len(l.idx) }

// lookup returns the index of k, or -1.
func (l *lru[K]) lookup(k K) int32 {
	if i, ok := l.idx[k]; ok {
		return i
	}
	return -1
}

// full reports whether adding a key needs an eviction first.
func (l *lru[K]) full() bool { return len(l.idx) >= l.max }

// insert adds k, which is not present and for which there is room, at the
// front; grown reports whether the index is new (the caller's parallel
// slices must grow) rather than reused.
func (l *lru[K]) insert(k K) (i int32, grown bool) {
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
		l.keys[i] = k
	} else {
		i = int32(len(l.links))
		l.links = append(l.links, link{})
		l.keys = append(l.keys, k)
		grown = true
	}
	l.links[i].gen++
	l.links[i].seg = probation
	l.idx[k] = i
	l.pushFront(i)
	return i, grown
}

func (l *lru[K]) ref(i int32) ref { return ref{i, l.links[i].gen} }

// valid reports whether r still names a live index.
func (l *lru[K]) valid(r ref) bool {
	return r.gen != 0 && r.i >= 0 && int(r.i) < len(l.links) && l.links[r.i].gen == r.gen && l.links[r.i].prev != -2
}

// remove drops index i; its refs become invalid.
func (l *lru[K]) remove(i int32) {
	l.unlink(i)
	delete(l.idx, l.keys[i])
	var zero K
	l.keys[i] = zero
	ln := &l.links[i]
	ln.gen++
	ln.prev, ln.next = -2, -2
	l.free = append(l.free, i)
}

// use moves i to the front of its segment (most recently used).
func (l *lru[K]) use(i int32) {
	if l.seg[l.links[i].seg].head != i {
		l.unlink(i)
		l.pushFront(i)
	}
}

func (l *lru[K]) unlink(i int32) {
	ln := &l.links[i]
	sg := &l.seg[ln.seg]
	if ln.prev >= 0 {
		l.links[ln.prev].next = ln.next
	} else {
		sg.head = ln.next
	}
	if ln.next >= 0 {
		l.links[ln.next].prev = ln.prev
	} else {
		sg.tail = ln.prev
	}
	ln.prev, ln.next = -1, -1
	sg.n--
}

func (l *lru[K]) pushFront(i int32) {
	ln := &l.links[i]
	sg := &l.seg[ln.seg]
	ln.prev, ln.next = -1, sg.head
	if sg.head >= 0 {
		l.links[sg.head].prev = i
	}
	sg.head = i
	if sg.tail < 0 {
		sg.tail = i
	}
	sg.n++
}
