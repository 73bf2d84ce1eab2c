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

// deadlines is a bounded min-heap of connection timers, for the one timer
// class whose delay differs per connection (the silent-session deadline
// follows each connection's keep-alive). A full heap refuses the new timer
// and counts it.
type deadlines struct {
	h       []connTimer
	max     int
	dropped uint64
}

func (q *deadlines) push(t connTimer) {
	if len(q.h) >= q.max {
		q.dropped++
		return
	}
	q.h = append(q.h, t)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q.h[p].at <= q.h[i].at {
			break
		}
		q.h[p], q.h[i] = q.h[i], q.h[p]
		i = p
	}
}

// peek returns the earliest timer or nil.
func (q *deadlines) peek() *connTimer {
	if len(q.h) == 0 {
		return nil
	}
	return &q.h[0]
}

func (q *deadlines) pop() {
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.h[l].at < q.h[m].at {
			m = l
		}
		if r < n && q.h[r].at < q.h[m].at {
			m = r
		}
		if m == i {
			return
		}
		q.h[m], q.h[i] = q.h[i], q.h[m]
		i = m
	}
}
