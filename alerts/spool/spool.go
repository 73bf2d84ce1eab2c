package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrFull is returned by Append when a record would take the spool beyond
// Options.MaxBytes.
var ErrFull = errors.New("spool full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("spool closed")

// SyncPolicy says when appended records are fsynced.
type SyncPolicy int

const (
	// SyncEveryAppend fsyncs at the end of every Append call (one call is
	// one batch). The default.
	SyncEveryAppend SyncPolicy = iota
	// SyncInterval fsyncs when the last fsync is older than
	// Options.SyncInterval, and on Close.
	SyncInterval
	// SyncNever leaves it to the kernel (records survive a crash of the
	// process, not of the machine).
	SyncNever
)

// ParseSyncPolicy accepts "append" (or "always"), "interval" and "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "", "append", "always":
		return SyncEveryAppend, nil
	case "interval":
		return SyncInterval, nil
	case "never", "none":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("unknown spool sync policy %q (want append, interval or never)", s)
}

// Options configure a spool; the zero value means defaults.
type Options struct {
	MaxBytes     int64         // bound on the segment files; default 256 MiB
	SegmentBytes int64         // roll to a new segment beyond this; default 8 MiB
	Sync         SyncPolicy    // default SyncEveryAppend
	SyncInterval time.Duration // for SyncInterval; default 1 s
}

func (o *Options) defaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 8 << 20
	}
	if o.SegmentBytes > o.MaxBytes {
		o.SegmentBytes = o.MaxBytes
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
}

// Record is one spooled message. A nil Value (as opposed to an empty one)
// is kept as nil: it is a Kafka tombstone.
type Record struct {
	Key   []byte
	Value []byte
}

// Pos is a position in the spool: a segment and a byte offset in it.
type Pos struct {
	Seg uint64
	Off int64
}

// Stats are the spool's counters.
type Stats struct {
	Pending  int64 // records appended and not committed
	Bytes    int64 // size of the segment files
	Appended uint64
	Full     uint64 // records refused with ErrFull
	Corrupt  uint64 // frames skipped for a bad length or checksum
}

const (
	headerLen    = 8
	maxRecordLen = 16 << 20
	flagNilValue = 1
	segSuffix    = ".seg"
	cursorName   = "cursor"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	id   uint64
	size int64
}

// Spool is safe for one appender and one reader at a time (they may be
// different goroutines).
type Spool struct {
	dir  string
	opts Options

	mu       sync.Mutex
	closed   bool
	segs     []segment // oldest first; the last one is the write segment
	w        *os.File  // write segment, nil until the first append
	lastSync time.Time
	dirty    bool
	read     Pos // committed cursor
	rf       *os.File
	rfSeg    uint64
	rbuf     *bufio.Reader
	rpos     Pos // where rbuf is
	st       Stats
	frame    []byte
}

// Open opens or creates the spool in dir. Records left by an earlier run
// are pending and are returned first by Peek. A torn frame at the end of the
// last segment (a crash mid-write) is cut off and counted as corrupt.
func Open(dir string, opts Options) (*Spool, error) {
	opts.defaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		ours := strings.HasSuffix(name, segSuffix) || name == cursorName || name == cursorName+".tmp"
		if ours && !e.Type().IsRegular() {
			return nil, fmt.Errorf("spool %s: %w: %s is not a regular file (%v)", dir, ErrInsecureDir, name, e.Type())
		}
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: stat %s: %w", name, err)
		}
		s.segs = append(s.segs, segment{id: id, size: info.Size()})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].id < s.segs[j].id })
	s.read = s.loadCursor()
	// Segments wholly before the cursor were delivered; a crash may have
	// left them behind.
	for len(s.segs) > 0 && s.segs[0].id < s.read.Seg {
		_ = os.Remove(s.segPath(s.segs[0].id))
		s.segs = s.segs[1:]
	}
	if len(s.segs) > 0 && s.segs[0].id > s.read.Seg {
		s.read = Pos{Seg: s.segs[0].id}
	}
	if err := s.scan(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, segSuffix))
}

func (s *Spool) loadCursor() Pos {
	f, err := os.OpenFile(filepath.Join(s.dir, cursorName), os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return Pos{}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 21))
	if err != nil || len(b) != 20 {
		return Pos{}
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:]) {
		return Pos{}
	}
	return Pos{Seg: binary.BigEndian.Uint64(b), Off: int64(binary.BigEndian.Uint64(b[8:]))}
}

// scan counts the pending records and truncates a torn tail.
func (s *Spool) scan() error {
	for i, sg := range s.segs {
		off := int64(0)
		if sg.id == s.read.Seg {
			off = s.read.Off
		}
		n, end, err := countFrames(s.segPath(sg.id), off)
		if err != nil {
			return err
		}
		s.st.Pending += n
		if end < sg.size {
			s.st.Corrupt++
			if i == len(s.segs)-1 {
				if err := truncateNoFollow(s.segPath(sg.id), end); err != nil {
					return fmt.Errorf("spool: truncate torn segment: %w", err)
				}
				s.segs[i].size = end
			}
		}
	}
	for _, sg := range s.segs {
		s.st.Bytes += sg.size
	}
	return nil
}

// truncateNoFollow is os.Truncate without following a symbolic link.
func truncateNoFollow(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|oNoFollow, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	return errors.Join(err, f.Close())
}

func countFrames(path string, off int64) (n, end int64, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: open segment: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("spool: seek segment: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	end = off
	for {
		var rec Record
		var size int
		rec, size, buf, err = readFrame(r, buf)
		if err != nil {
			return n, end, nil
		}
		_ = rec
		n++
		end += int64(size)
	}
}

var errBadFrame = errors.New("bad frame")

// readFrame reads one frame; io.EOF at a clean end, errBadFrame on a torn
// or corrupt one. The record's slices point into buf.
func readFrame(r *bufio.Reader, buf []byte) (Record, int, []byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF {
			return Record{}, 0, buf, io.EOF
		}
		return Record{}, 0, buf, errBadFrame
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 2 || n > maxRecordLen {
		return Record{}, 0, buf, errBadFrame
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return Record{}, 0, buf, errBadFrame
	}
	if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
		return Record{}, 0, buf, errBadFrame
	}
	flags := buf[0]
	kl, k := binary.Uvarint(buf[1:])
	if k <= 0 || kl > uint64(len(buf)-1-k) {
		return Record{}, 0, buf, errBadFrame
	}
	p := 1 + k
	rec := Record{Key: buf[p : p+int(kl)]}
	if flags&flagNilValue == 0 {
		rec.Value = buf[p+int(kl):]
	}
	return rec, headerLen + int(n), buf, nil
}

func appendFrame(dst []byte, rec Record) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var flags byte
	if rec.Value == nil {
		flags |= flagNilValue
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Key)))
	dst = append(dst, rec.Key...)
	dst = append(dst, rec.Value...)
	payload := dst[start+headerLen:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// Append writes recs at the end of the spool in one write per segment and
// syncs per the policy. It returns how many records were written; when the
// spool is full the rest are refused with ErrFull (and counted in Stats.Full).
func (s *Spool) Append(recs []Record) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	written := 0
	for written < len(recs) {
		if err := s.ensureWriter(); err != nil {
			return written, err
		}
		cur := &s.segs[len(s.segs)-1]
		s.frame = s.frame[:0]
		n := 0
		for _, rec := range recs[written:] {
			before := len(s.frame)
			s.frame = appendFrame(s.frame, rec)
			fl := int64(len(s.frame) - before)
			if fl-headerLen > maxRecordLen {
				s.frame = s.frame[:before]
				return written + n, fmt.Errorf("spool: record of %d bytes exceeds the %d byte limit", fl, maxRecordLen)
			}
			if s.st.Bytes+int64(len(s.frame)) > s.opts.MaxBytes {
				s.frame = s.frame[:before]
				s.st.Full += uint64(len(recs) - written - n)
				if err := s.write(cur, n); err != nil {
					return written, err
				}
				return written + n, ErrFull
			}
			if (cur.size > 0 || before > 0) && cur.size+int64(len(s.frame)) > s.opts.SegmentBytes {
				s.frame = s.frame[:before]
				break
			}
			n++
		}
		if err := s.write(cur, n); err != nil {
			return written, err
		}
		written += n
		if written < len(recs) {
			if err := s.roll(); err != nil {
				return written, err
			}
		}
	}
	return written, s.maybeSync()
}

func (s *Spool) write(cur *segment, n int) error {
	if len(s.frame) == 0 {
		return nil
	}
	if _, err := s.w.Write(s.frame); err != nil {
		// A partial write leaves a torn frame; cut it so later appends
		// stay readable.
		_ = s.w.Truncate(cur.size)
		_, _ = s.w.Seek(cur.size, io.SeekStart)
		return fmt.Errorf("spool: append: %w", err)
	}
	cur.size += int64(len(s.frame))
	s.st.Bytes += int64(len(s.frame))
	s.st.Pending += int64(n)
	s.st.Appended += uint64(n)
	s.dirty = true
	return nil
}

func (s *Spool) ensureWriter() error {
	if s.w != nil {
		return nil
	}
	if len(s.segs) == 0 {
		id := s.read.Seg
		if id == 0 {
			id = 1
		}
		s.segs = append(s.segs, segment{id: id})
		s.read = Pos{Seg: id}
	}
	last := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(s.segPath(last.id), os.O_CREATE|os.O_WRONLY|os.O_APPEND|oNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open segment: %w", err)
	}
	s.w = f
	// The segment's directory entry must survive a crash as its
	// records do.
	if s.opts.Sync != SyncNever {
		return syncDir(s.dir)
	}
	return nil
}

func (s *Spool) roll() error {
	if err := s.syncWriter(); err != nil {
		return err
	}
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("spool: close segment: %w", err)
	}
	s.w = nil
	s.segs = append(s.segs, segment{id: s.segs[len(s.segs)-1].id + 1})
	return s.ensureWriter()
}

func (s *Spool) maybeSync() error {
	switch s.opts.Sync {
	case SyncEveryAppend:
		return s.syncWriter()
	case SyncInterval:
		if time.Since(s.lastSync) >= s.opts.SyncInterval {
			return s.syncWriter()
		}
	}
	return nil
}

func (s *Spool) syncWriter() error {
	if s.w == nil || !s.dirty {
		return nil
	}
	s.lastSync = time.Now()
	s.dirty = false
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	return nil
}

// Peek returns up to max pending records from the cursor on, without
// consuming them, and the position after the last one for Commit. Calling
// Peek again without Commit returns the same records. The records are
// copies owned by the caller.
func (s *Spool) Peek(max int) ([]Record, Pos, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, s.read, ErrClosed
	}
	if s.st.Pending == 0 {
		return nil, s.read, nil
	}
	// Always re-seek: a failed read may have consumed part of a frame.
	if err := s.seekReader(s.read); err != nil {
		return nil, s.read, err
	}
	var out []Record
	var buf []byte
	for len(out) < max {
		rec, size, nb, err := readFrame(s.rbuf, buf)
		buf = nb
		if err == nil {
			k := append([]byte(nil), rec.Key...)
			var v []byte
			if rec.Value != nil {
				v = append(make([]byte, 0, len(rec.Value)), rec.Value...)
			}
			out = append(out, Record{Key: k, Value: v})
			s.rpos.Off += int64(size)
			continue
		}
		// End of this segment (cleanly, or at a corrupt frame whose rest
		// is skipped): go on with the next one if there is one.
		next := s.nextSeg(s.rpos.Seg)
		bad := err != io.EOF || s.rpos.Off < s.segSize(s.rpos.Seg)
		if bad {
			s.st.Corrupt++
		}
		if next == 0 {
			if bad && len(out) == 0 {
				// A corrupt frame in the write segment: what follows it
				// cannot be framed. Start a new segment for later appends
				// and give up on the rest of this one.
				if err := s.skipCorruptWriteSegment(); err != nil {
					return nil, s.read, err
				}
			}
			break
		}
		if err := s.seekReader(Pos{Seg: next}); err != nil {
			return out, s.rpos, err
		}
	}
	if len(out) == 0 && s.st.Pending > 0 {
		// Everything from the cursor on was read and nothing was valid:
		// the count is stale (corruption); do not let a consumer wait
		// for records that cannot come.
		s.st.Pending = 0
	}
	return out, s.rpos, nil
}

func (s *Spool) skipCorruptWriteSegment() error {
	if s.w != nil {
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("spool: close segment: %w", err)
		}
		s.w = nil
	}
	id := s.segs[len(s.segs)-1].id + 1
	for _, sg := range s.segs {
		if err := os.Remove(s.segPath(sg.id)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: remove corrupt segment: %w", err)
		}
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf, s.rbuf = nil, nil
	}
	s.segs = append(s.segs[:0], segment{id: id})
	s.st.Bytes = 0
	s.read = Pos{Seg: id}
	s.rpos = s.read
	if err := s.saveCursor(); err != nil {
		return err
	}
	return s.ensureWriter()
}

func (s *Spool) segSize(id uint64) int64 {
	for _, sg := range s.segs {
		if sg.id == id {
			return sg.size
		}
	}
	return 0
}

func (s *Spool) nextSeg(id uint64) uint64 {
	for _, sg := range s.segs {
		if sg.id > id {
			return sg.id
		}
	}
	return 0
}

func (s *Spool) seekReader(p Pos) error {
	if s.rf == nil || s.rfSeg != p.Seg {
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		f, err := os.OpenFile(s.segPath(p.Seg), os.O_RDONLY|oNoFollow, 0)
		if err != nil {
			return fmt.Errorf("spool: open segment for reading: %w", err)
		}
		s.rf, s.rfSeg = f, p.Seg
	}
	if _, err := s.rf.Seek(p.Off, io.SeekStart); err != nil {
		return fmt.Errorf("spool: seek: %w", err)
	}
	if s.rbuf == nil {
		s.rbuf = bufio.NewReaderSize(s.rf, 64<<10)
	} else {
		s.rbuf.Reset(s.rf)
	}
	s.rpos = p
	return nil
}

// Commit marks every record before p (from Peek) delivered: it advances
// and persists the cursor and deletes segments no longer needed. n is the
// number of records being committed.
func (s *Spool) Commit(p Pos, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.read = p
	s.st.Pending -= int64(n)
	if s.st.Pending < 0 {
		s.st.Pending = 0
	}
	for len(s.segs) > 1 && s.segs[0].id < p.Seg {
		if err := os.Remove(s.segPath(s.segs[0].id)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: remove delivered segment: %w", err)
		}
		s.st.Bytes -= s.segs[0].size
		s.segs = s.segs[1:]
	}
	if s.st.Pending == 0 && len(s.segs) == 1 && s.segs[0].id == p.Seg && p.Off == s.segs[0].size {
		// Everything delivered: start over with an empty segment so the
		// space is given back.
		if s.w != nil {
			s.w.Close()
			s.w = nil
		}
		if s.rf != nil {
			s.rf.Close()
			s.rf, s.rbuf = nil, nil
		}
		if err := os.Remove(s.segPath(p.Seg)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: remove delivered segment: %w", err)
		}
		s.st.Bytes = 0
		s.segs = s.segs[:0]
		s.read = Pos{Seg: p.Seg + 1}
	}
	return s.saveCursor()
}

func (s *Spool) saveCursor() error {
	var b [20]byte
	binary.BigEndian.PutUint64(b[:], s.read.Seg)
	binary.BigEndian.PutUint64(b[8:], uint64(s.read.Off))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(s.dir, cursorName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil && s.opts.Sync != SyncNever {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, cursorName)); err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	if s.opts.Sync != SyncNever {
		return syncDir(s.dir)
	}
	return nil
}

// Pending is the number of records not yet committed.
func (s *Spool) Pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Pending
}

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Sync forces an fsync of appended records.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncWriter()
}

// Close syncs and closes the files; pending records stay for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.w != nil {
		errs = append(errs, s.syncWriter(), s.w.Close())
	}
	if s.rf != nil {
		errs = append(errs, s.rf.Close())
	}
	return errors.Join(errs...)
}
