package detect

import (
	"unsafe"
)

var entrySize = unsafe.Sizeof(entry{})

// entry is the per-key state common to every table. Counter values live in
// lazily allocated group slabs so that an entry's cost grows with what the
// key actually did.
type entry struct {
	open     int32                // open connections (src_ip)
	grp      [numGroups]int32     // slab slot + 1; 0 = not allocated
	start    [NumWindows]int64    // packet time the current bucket began (a multiple of the window)
	first    [NumWindows][2]int64 // first activity in the current / previous bucket
	created  int64                // packet time the key was first seen
	last     int64                // packet time of the last activity
	pub      int32                // pubState slot + 1; 0 = never published
	sessions int32                // open MQTT sessions (src_ip, client_id)
	silent   int32                // of which silent since CONNECT
	pre      bool                 // first seen on a connection established before the capture
	_        [3]byte
}

// table is the counters of one key kind: an lru (key → index, eviction)
// and, per index, the entry, the owner's aux data and, allocated on first
// use, counter slabs and publish state (store.go).
type table[K comparable, A any] struct {
	lru[K]
	aux     []A // per-entry data of the owner, zeroed on reuse
	kind    KeyKind
	ents    []entry
	slabs   [numGroups]slab
	pubs    []pubState
	pubFree []int32
	onEvict func(i int32) // called before an entry is reused
}

func newTable[K comparable, A any](kind KeyKind, max int) *table[K, A] {
	t := &table[K, A]{lru: newLRU[K](max), kind: kind}
	for g := range t.slabs {
		t.slabs[g].stride = groupWords[g]
	}
	return t
}

// get returns the entry of k, creating it (and evicting the least recently
// used entry when full), touched at now.
func (t *table[K, A]) get(k K, now int64) int32 {
	if i, ok := t.idx[k]; ok {
		t.touch(i, now)
		return i
	}
	if t.full() {
		t.evict(t.victim())
	}
	i, grown := t.insert(k)
	var z A
	if grown {
		t.ents = append(t.ents, entry{})
		t.aux = append(t.aux, z)
	} else {
		t.aux[i] = z
	}
	e := &t.ents[i]
	*e = entry{created: now, last: now}
	for w := range e.start {
		wd := int64(windowDur[w])
		e.start[w] = now / wd * wd
	}
	e.mark(now)
	return i
}

func (t *table[K, A]) evict(i int32) {
	if t.onEvict != nil {
		t.onEvict(i)
	}
	t.remove(i)
	t.evictions++
}

// remove drops entry i (not counted as an eviction) and frees its storage.
func (t *table[K, A]) remove(i int32) {
	e := &t.ents[i]
	var za A
	t.aux[i] = za
	for g := range e.grp {
		if e.grp[g] != 0 {
			t.slabs[g].free = append(t.slabs[g].free, e.grp[g]-1)
			e.grp[g] = 0
		}
	}
	if e.pub != 0 {
		t.pubFree = append(t.pubFree, e.pub-1)
		e.pub = 0
	}
	t.lru.remove(i)
}

// touch marks i as used at now: LRU front, buckets rolled.
func (t *table[K, A]) touch(i int32, now int64) {
	t.use(i)
	e := &t.ents[i]
	if now > e.last {
		e.last = now
	}
	// A comparison per window, a division only when a bucket ends (the
	// common path of a PUBLISH touches two or three tables).
	for w := Window(0); w < NumWindows; w++ {
		if wd := int64(windowDur[w]); now >= e.start[w]+wd {
			t.roll(e, w, now/wd)
		}
	}
	if e.first[0][0] == 0 {
		e.mark(now)
	}
}

// memBytes estimates the memory the table holds (for Stats and tests).
func (t *table[K, A]) memBytes(keySize int) int {
	const mapEntryOverhead = 16
	var a A
	n := cap(t.ents)*int(entrySize) + cap(t.keys)*keySize + cap(t.aux)*int(unsafe.Sizeof(a)) + len(t.idx)*(keySize+4+mapEntryOverhead)
	for g := range t.slabs {
		n += cap(t.slabs[g].data)*4 + cap(t.slabs[g].free)*4
	}
	n += cap(t.pubs)*int(unsafe.Sizeof(pubState{})) + cap(t.pubFree)*4
	return n + cap(t.links)*int(unsafe.Sizeof(link{})) + cap(t.free)*4
}
