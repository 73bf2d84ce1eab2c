package detect

// fifo is a bounded ring queue. Each timer class (idle connect, ping only,
// undeliverable check) has one constant delay, so timers are pushed in
// deadline order (packet time is non-decreasing up to small reordering
// across flows) and a FIFO per class is an exact timer wheel with O(1)
// insert and expiry and no per-timer allocation. Cancellation is lazy: a
// timer names its connection by (index, generation) and is ignored when the
// connection is gone. A full queue drops its oldest timer and counts it.
type fifo[T any] struct {
	buf     []T
	head, n int
	max     int
	dropped uint64
	popped  uint64 // elements ever removed; element number k is at head+(k-popped)
}

// push appends x and returns its element number (for at).
func (q *fifo[T]) push(x T) uint64 {
	if q.n == len(q.buf) {
		if len(q.buf) >= q.max {
			q.pop()
			q.dropped++
		} else {
			q.grow()
		}
	}
	q.buf[(q.head+q.n)%len(q.buf)] = x
	q.n++
	return q.popped + uint64(q.n) - 1
}

// at returns element number k while it is still queued, else nil.
func (q *fifo[T]) at(k uint64) *T {
	if k < q.popped || k >= q.popped+uint64(q.n) {
		return nil
	}
	return &q.buf[(q.head+int(k-q.popped))%len(q.buf)]
}

func (q *fifo[T]) grow() {
	n := max(2*len(q.buf), 64)
	n = min(n, max(q.max, 1))
	nb := make([]T, n)
	for i := range q.n {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

// peek returns the oldest element or nil.
func (q *fifo[T]) peek() *T {
	if q.n == 0 {
		return nil
	}
	return &q.buf[q.head]
}

func (q *fifo[T]) pop() {
	var z T
	q.buf[q.head] = z
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.popped++
}
