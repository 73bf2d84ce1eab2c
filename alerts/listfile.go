package alerts

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mqttids/block"
)

// ListFileOptions configure a ListFileEnforcer; at least one path is
// needed.
type ListFileOptions struct {
	// Path receives the current list as lines "target value expires"
	// (expires in RFC 3339, packet time), sorted.
	Path string
	// NftPath receives an nftables script defining sets blocked_v4 and
	// blocked_v6 (flags interval, timeout) with the blocked source
	// addresses and networks; load it with `nft -f NftPath`.
	NftPath string
	// NftTable is the inet table name; default "mqttids".
	NftTable string
	// Interval is the least time between two rewrites (changes in between
	// are coalesced); default 1 s. Close always writes the final list.
	Interval time.Duration
}

type listEntry struct {
	target, value string
	expires       time.Time
}

// ListFileEnforcer keeps files that hold the current block list, each
// rewritten atomically (temporary file + rename) so readers never see a
// half-written list.
type ListFileEnforcer struct {
	opts ListFileOptions

	mu      sync.Mutex
	entries map[string]listEntry
	clock   time.Time // latest event time: "now" for nft timeouts
	dirty   bool
	lastErr error

	kick   chan struct{}
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

var _ block.Enforcer = (*ListFileEnforcer)(nil)

// NewListFileEnforcer validates opts, writes the (empty) files once so
// their paths are usable at once, and starts the writer.
func NewListFileEnforcer(opts ListFileOptions) (*ListFileEnforcer, error) {
	if opts.Path == "" && opts.NftPath == "" {
		return nil, errors.New("list file enforcer: no path")
	}
	if opts.NftTable == "" {
		opts.NftTable = "mqttids"
	}
	if !validNftName(opts.NftTable) {
		return nil, fmt.Errorf("list file enforcer: nft table name %q: want letters, digits, _ or -", opts.NftTable)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	e := &ListFileEnforcer{opts: opts, entries: map[string]listEntry{},
		kick: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	if err := e.write(); err != nil {
		return nil, err
	}
	go e.run()
	return e, nil
}

func validNftName(s string) bool {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func (e *ListFileEnforcer) Name() string {
	return "file:" + strings.Trim(e.opts.Path+","+e.opts.NftPath, ",")
}

// Apply records the change; the files are rewritten by a goroutine.
func (e *ListFileEnforcer) Apply(ev *block.Event) error {
	key := ev.Target + "\x00" + ev.Value
	e.mu.Lock()
	if ev.Timestamp.After(e.clock) {
		e.clock = ev.Timestamp
	}
	switch ev.Op {
	case "add":
		e.entries[key] = listEntry{ev.Target, ev.Value, ev.Timestamp.Add(time.Duration(ev.TTLS * float64(time.Second)))}
	case "remove":
		delete(e.entries, key)
	default:
		e.mu.Unlock()
		return fmt.Errorf("block event op %q", ev.Op)
	}
	e.dirty = true
	err := e.lastErr
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
	return err // the previous write's failure, so it is counted
}

func (e *ListFileEnforcer) run() {
	defer close(e.exited)
	var last time.Time
	for {
		select {
		case <-e.kick:
		case <-e.done:
			return
		}
		if wait := e.opts.Interval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-e.done:
				t.Stop()
				return
			}
		}
		last = time.Now()
		e.write()
	}
}

// write renders and replaces the files if anything changed since the
// last write.
func (e *ListFileEnforcer) write() error {
	e.mu.Lock()
	ents := make([]listEntry, 0, len(e.entries))
	for _, le := range e.entries {
		ents = append(ents, le)
	}
	clock := e.clock
	e.dirty = false
	e.mu.Unlock()
	slices.SortFunc(ents, func(a, b listEntry) int {
		if c := strings.Compare(a.target, b.target); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var errs []error
	if e.opts.Path != "" {
		errs = append(errs, writeAtomic(e.opts.Path, appendPlainList(nil, ents)))
	}
	if e.opts.NftPath != "" {
		errs = append(errs, writeAtomic(e.opts.NftPath, appendNft(nil, e.opts.NftTable, ents, clock)))
	}
	err := errors.Join(errs...)
	e.mu.Lock()
	e.lastErr = err
	e.mu.Unlock()
	return err
}

func appendPlainList(dst []byte, ents []listEntry) []byte {
	for _, le := range ents {
		dst = append(dst, le.target...)
		dst = append(dst, ' ')
		dst = appendListValue(dst, le.value)
		dst = append(dst, ' ')
		dst = le.expires.UTC().AppendFormat(dst, time.RFC3339)
		dst = append(dst, '\n')
	}
	return dst
}

// appendListValue keeps one entry per line whatever a client id holds:
// whitespace and control bytes are percent-encoded.
func appendListValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == '%' || c == 0x7f {
			const upper = "0123456789ABCDEF"
			dst = append(dst, '%', upper[c>>4], upper[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendNft renders the sets. Element timeouts are what is left of each
// entry at clock (the time of the latest block event), rounded up to a
// second: nftables expires them itself, in wall time.
func appendNft(dst []byte, table string, ents []listEntry, clock time.Time) []byte {
	var v4, v6 []string
	for _, le := range ents {
		if le.target != block.TargetSrcIP {
			continue
		}
		p, err := netip.ParsePrefix(le.value)
		if err != nil {
			a, err := netip.ParseAddr(le.value)
			if err != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		secs := int64(math.Ceil(le.expires.Sub(clock).Seconds()))
		if secs < 1 {
			secs = 1
		}
		el := le.value + " timeout " + strconv.FormatInt(secs, 10) + "s"
		if p.Addr().Is4() {
			v4 = append(v4, el)
		} else {
			v6 = append(v6, el)
		}
	}
	dst = append(dst, "#!/usr/sbin/nft -f\n# mqttids block list; generated, rewritten on every change.\n"...)
	dst = append(dst, "# Reference the sets from your own chain, e.g.\n#   ip saddr @blocked_v4 drop\n#   ip6 saddr @blocked_v6 drop\n"...)
	dst = append(dst, "table inet "+table+" {\n"...)
	dst = append(dst, "\tset blocked_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval, timeout\n\t}\n"...)
	dst = append(dst, "\tset blocked_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval, timeout\n\t}\n}\n"...)
	// Replace the contents in the same transaction: entries removed early
	// disappear, the rest get fresh timeouts.
	dst = append(dst, "flush set inet "+table+" blocked_v4\nflush set inet "+table+" blocked_v6\n"...)
	for _, set := range []struct {
		name string
		els  []string
	}{{"blocked_v4", v4}, {"blocked_v6", v6}} {
		if len(set.els) == 0 {
			continue
		}
		dst = append(dst, "add element inet "+table+" "+set.name+" {\n"...)
		for i, el := range set.els {
			dst = append(dst, '\t')
			dst = append(dst, el...)
			if i < len(set.els)-1 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
		}
		dst = append(dst, "}\n"...)
	}
	return dst
}

// writeAtomic replaces path with b: write a temporary file in the same
// directory, fsync, rename.
func writeAtomic(path string, b []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Close stops the writer and writes the final list.
func (e *ListFileEnforcer) Close() error {
	var err error
	e.once.Do(func() {
		close(e.done)
		<-e.exited
		err = e.write()
	})
	return err
}
