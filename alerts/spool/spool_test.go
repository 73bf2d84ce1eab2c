package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func recs(from, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Key: []byte(fmt.Sprintf("k%d", from+i)), Value: []byte(fmt.Sprintf(`{"seq":%d}`, from+i))}
	}
	return out
}

// drain peeks and commits everything, checking order from want.
func drain(t *testing.T, s *Spool, want []Record, batch int) {
	t.Helper()
	var got []Record
	for {
		r, p, err := s.Peek(batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) == 0 {
			break
		}
		got = append(got, r...)
		if err := s.Commit(p, len(r)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) || (got[i].Value == nil) != (want[i].Value == nil) {
			t.Fatalf("record %d: got %q=%q want %q=%q", i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
		}
	}
	if p := s.Pending(); p != 0 {
		t.Fatalf("pending %d after drain", p)
	}
}

func TestOrderAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1000, MaxBytes: 1 << 20}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	all := recs(0, 300)
	all[7].Value = nil      // tombstone
	all[8].Value = []byte{} // empty, not nil
	for i := 0; i < 300; i += 50 {
		if n, err := s.Append(all[i : i+50]); err != nil || n != 50 {
			t.Fatalf("append: %d %v", n, err)
		}
	}
	// consume the first 120, then "crash" (close) and reopen.
	r, p, err := s.Peek(120)
	if err != nil || len(r) != 120 {
		t.Fatalf("peek: %d %v", len(r), err)
	}
	if err := s.Commit(p, len(r)); err != nil {
		t.Fatal(err)
	}
	// peeked but not committed: must come back after the restart.
	if _, _, err := s.Peek(30); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Pending(); got != 180 {
		t.Fatalf("pending after reopen %d, want 180", got)
	}
	more := recs(300, 10)
	if _, err := s.Append(more); err != nil {
		t.Fatal(err)
	}
	drain(t, s, append(all[120:], more...), 64)
	left, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(left) != 0 {
		t.Errorf("segments: %d while full, %d left after drain", len(segs), len(left))
	}
	if st := s.Stats(); st.Bytes != 0 {
		t.Errorf("bytes %d after drain", st.Bytes)
	}
	// still usable after the reset
	if _, err := s.Append(recs(1000, 3)); err != nil {
		t.Fatal(err)
	}
	drain(t, s, recs(1000, 3), 2)
}

func TestFull(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxBytes: 500, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := recs(0, 100)
	n, err := s.Append(in)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err %v, want ErrFull", err)
	}
	st := s.Stats()
	if n == 0 || n >= 100 || st.Full != uint64(100-n) || st.Bytes > 500 {
		t.Fatalf("n=%d stats=%+v", n, st)
	}
	drain(t, s, in[:n], 7)
	// room again after delivery
	if _, err := s.Append(in[:5]); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	in := recs(0, 40)
	if _, err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	// flip a payload byte in the first segment's second frame and append
	// half a frame to the last one (a crash mid-write).
	first, _ := os.ReadFile(segs[0])
	frame := appendFrame(nil, in[0])
	first[len(frame)+headerLen+3] ^= 0xff
	os.WriteFile(segs[0], first, 0o640)
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write(frame[:len(frame)/2])
	f.Close()

	s, err = Open(dir, Options{SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	perSeg := len(first) / len(frame)
	var got []Record
	for {
		r, p, err := s.Peek(1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) == 0 {
			break
		}
		got = append(got, r...)
		s.Commit(p, len(r))
	}
	// the first record of segment one, then segment two onwards: the
	// corrupt frame and the rest of its segment are skipped.
	want := append([]Record{in[0]}, in[perSeg:]...)
	if len(got) != len(want) || string(got[1].Key) != string(want[1].Key) || string(got[len(got)-1].Key) != "k39" {
		t.Fatalf("got %d records (%s...%s), want %d", len(got), got[0].Key, got[len(got)-1].Key, len(want))
	}
	if st := s.Stats(); st.Corrupt < 2 {
		t.Errorf("corrupt %d, want the torn tail and the bad frame", st.Corrupt)
	}
	// the torn tail was cut: new appends are readable.
	s.Append(recs(100, 2))
	drain(t, s, recs(100, 2), 10)
}

func BenchmarkAppendPeekCommit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := recs(0, 1000)
	b.SetBytes(int64(len(appendFrame(nil, batch[0])) * len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(batch); err != nil {
			b.Fatal(err)
		}
		r, p, err := s.Peek(len(batch))
		if err != nil || len(r) != len(batch) {
			b.Fatal(len(r), err)
		}
		s.Commit(p, len(r))
	}
}

// FuzzOpenSegment: whatever a segment file holds (a crash, a disk error,
// someone's editor), Open and Peek neither panic nor loop, and the spool
// stays usable for new records.
func FuzzOpenSegment(f *testing.F) {
	var good []byte
	for _, r := range recs(0, 3) {
		good = appendFrame(good, r)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte{}, good...), 0, 0, 0, 9, 1, 2, 3, 4))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := 0; i < 1000; i++ {
			r, p, err := s.Peek(100)
			if err != nil {
				t.Fatal(err)
			}
			if len(r) == 0 {
				break
			}
			if err := s.Commit(p, len(r)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Append(recs(7, 2)); err != nil {
			t.Fatal(err)
		}
		drain(t, s, recs(7, 2), 10)
	})
}
