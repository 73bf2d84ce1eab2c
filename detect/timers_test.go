package detect

import "testing"

func TestFIFO(t *testing.T) {
	q := fifo[int]{max: 100}
	var seqs []uint64
	for i := range 150 {
		seqs = append(seqs, q.push(i))
	}
	if q.n != 100 || q.dropped != 50 {
		t.Fatalf("n %d dropped %d", q.n, q.dropped)
	}
	if q.at(seqs[10]) != nil {
		t.Error("dropped element still addressable")
	}
	for i := 50; i < 150; i++ {
		if p := q.at(seqs[i]); p == nil || *p != i {
			t.Fatalf("at(%d) = %v", seqs[i], p)
		}
	}
	for want := 50; want < 150; want++ {
		p := q.peek()
		if p == nil || *p != want {
			t.Fatalf("peek %v want %d", p, want)
		}
		q.pop()
	}
	if q.peek() != nil || q.at(seqs[149]) != nil {
		t.Error("queue not empty")
	}
	// grows again from empty and keeps numbering
	if s := q.push(7); s != 150 || *q.at(s) != 7 {
		t.Errorf("seq %d", s)
	}
}
