package live

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"mqttids/bpf"
	"mqttids/bpf/netnstest"
)

// connectMsg is an MQTT 3.1.1 CONNECT with client id "" (14 bytes).
var connectMsg = []byte{
	0x10, 0x0c, // CONNECT, remaining length 12
	0, 4, 'M', 'Q', 'T', 'T', // protocol name
	4,     // protocol level 3.1.1
	2,     // flags: clean session
	0, 60, // keep alive
	0, 0, // client id ""
}

func refused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, ebpf.ErrNotSupported)
}

// newFilter loads the socket filter or skips when the kernel refuses.
func newFilter(t *testing.T, o bpf.FilterOptions) *bpf.Filter {
	t.Helper()
	f, err := bpf.NewFilter(o)
	if err != nil {
		if refused(err) {
			t.Skipf("kernel refused the socket filter: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// openIn opens a capture group inside namespace ns.
func openIn(t *testing.T, ns, iface string, o Options) *Group {
	t.Helper()
	var g *Group
	err := netnstest.Do(ns, func() (err error) {
		g, err = Open(iface, o)
		return err
	})
	if err != nil {
		if refused(err) {
			t.Skipf("kernel refused AF_PACKET: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// tcpPorts decodes a frame's TCP ports and its flow (both directions give
// the same flow key).
type decoder struct {
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	parser *gopacket.DecodingLayerParser
	types  []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.tcp)
	d.parser.IgnoreUnsupported = true
	return d
}

type flowKey struct{ a, b netip.AddrPort }

// tcp returns the ports and the direction-free flow of a TCP frame.
func (d *decoder) decode(data []byte) (sport, dport uint16, fk flowKey, ok bool) {
	d.types = d.types[:0]
	d.parser.DecodeLayers(data, &d.types)
	var src, dst netip.Addr
	for _, lt := range d.types {
		switch lt {
		case layers.LayerTypeIPv4:
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		case layers.LayerTypeTCP:
			sport, dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			a, b := netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
			if b.Compare(a) < 0 {
				a, b = b, a
			}
			return sport, dport, flowKey{a, b}, true
		}
	}
	return 0, 0, flowKey{}, false
}

// portCounter reads a source to EOF, counting TCP frames by port.
type portCounter struct {
	total, other atomic.Int64
	byPort       [65536]atomic.Int64
	done         chan error
}

func countPorts(src *Source) *portCounter {
	c := &portCounter{done: make(chan error, 1)}
	go func() {
		d := newDecoder()
		for {
			data, _, err := src.ZeroCopyReadPacketData()
			if err != nil {
				c.done <- err
				return
			}
			c.total.Add(1)
			sp, dp, _, ok := d.decode(data)
			if !ok {
				c.other.Add(1)
				continue
			}
			c.byPort[sp].Add(1)
			c.byPort[dp].Add(1)
		}
	}()
	return c
}

// settle waits until f's value stops changing for 200 ms (at most 5 s).
func settle(f func() int64) int64 {
	last, since := f(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v := f(); v != last {
			last, since = v, time.Now()
		} else if time.Since(since) > 200*time.Millisecond {
			break
		}
	}
	return last
}

// TestSocketFilter: a broker namespace captured with the MQTT socket
// filter. Connections to 1883 reach userspace and are counted per source
// (SYN, RST); a bulk transfer to port 5000 never does; a flow added by hand
// (MQTT on 5001) passes.
func TestSocketFilter(t *testing.T) {
	p := netnstest.New(t)
	broker, clients := p.B, p.A
	for _, port := range []uint16{1883, 5000, 5001} {
		netnstest.Serve(t, broker.NS, port)
	}
	f := newFilter(t, bpf.FilterOptions{})
	g := openIn(t, broker.NS, broker.Iface, Options{Workers: 1, Filter: f, RingSize: 4 << 20})
	pc := countPorts(g.Sources()[0])

	dial := func(from, to netip.AddrPort) *net.TCPConn {
		t.Helper()
		c, err := netnstest.Dial(clients.NS, from, to, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %s → %s: %v", from, to, err)
		}
		return c
	}

	// 5 IPv4 connections ended by RST (SO_LINGER 0), 1 IPv6 closed normally.
	const n = 5
	for i := 0; i < n; i++ {
		c := dial(netip.AddrPortFrom(clients.Addr, 0), netip.AddrPortFrom(broker.Addr, 1883))
		if _, err := c.Write(connectMsg); err != nil {
			t.Fatal(err)
		}
		c.SetLinger(0)
		c.Close()
	}
	c6 := dial(netip.AddrPortFrom(clients.Addr6, 0), netip.AddrPortFrom(broker.Addr6, 1883))
	c6.Write(connectMsg)
	c6.Close()
	mqtt := settle(pc.byPort[1883].Load)
	// Per IPv4 connection at least SYN, SYN-ACK, ACK, CONNECT, RST.
	if mqtt < 5*n+4 {
		t.Fatalf("frames on 1883 = %d, want ≥ %d", mqtt, 5*n+4)
	}

	all, err := f.SourceCounts(nil)
	if err != nil || len(all) < 2 {
		t.Errorf("SourceCounts = %v, %v", all, err)
	}
	sc, ok := sourceCount(all, clients.Addr)
	// Each abort sends one RST; a segment of the server arriving after it
	// can draw one more from the client's kernel.
	if !ok || sc.SYN != n || sc.RST < n || sc.RST > 2*n {
		t.Errorf("source count of %s = %+v, %v; want %d SYN, %d..%d RST", clients.Addr, sc, ok, n, n, 2*n)
	}
	sc6, ok := sourceCount(all, clients.Addr6)
	if !ok || sc6.SYN != 1 || sc6.RST != 0 {
		t.Errorf("source count of %s = %+v, %v; want 1 SYN, 0 RST", clients.Addr6, sc6, ok)
	}
	if sb, _ := sourceCount(all, broker.Addr); sb.SYN != 0 {
		t.Errorf("broker counted %d SYNs; SYN-ACKs must not count", sb.SYN)
	}

	// A 4 MB transfer on port 5000: the filter sees it, userspace does not.
	before, err := f.Stats()
	if err != nil {
		t.Fatal(err)
	}
	totalBefore := pc.total.Load()
	bulk := dial(netip.AddrPortFrom(clients.Addr, 0), netip.AddrPortFrom(broker.Addr, 5000))
	buf := make([]byte, 64<<10)
	for i := 0; i < 64; i++ {
		if _, err := bulk.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	bulk.Close()
	after := settle(func() int64 {
		s, _ := f.Stats()
		return int64(s.Seen)
	})
	if got := pc.total.Load() - totalBefore; got != 0 || pc.byPort[5000].Load() != 0 {
		t.Errorf("port 5000 transfer: %d frames reached userspace (%d on 5000), want 0", got, pc.byPort[5000].Load())
	}
	st, _ := f.Stats()
	if seen := uint64(after) - before.Seen; seen < 30 || st.Passed != before.Passed {
		t.Errorf("filter saw %d frames of the transfer, passed %d; want many seen, none passed", seen, st.Passed-before.Passed)
	}

	gs := g.Stats()
	if gs.Packets != uint64(pc.total.Load()) || gs.Drops != 0 {
		t.Errorf("group stats %+v, userspace read %d", gs, pc.total.Load())
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-pc.done:
		if err != io.EOF {
			t.Errorf("reader ended with %v, want io.EOF", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reader still blocked 2 s after Close")
	}
	if after := g.Stats(); after != gs {
		t.Errorf("stats after close %+v, before %+v", after, gs)
	}
}

// TestFanout: two sockets in one fanout group share the frames of 16
// connections; together they get exactly what an independent socket sees,
// and every flow stays on one socket.
func TestFanout(t *testing.T) {
	p := netnstest.New(t)
	broker, clients := p.B, p.A
	netnstest.Serve(t, broker.NS, 1883)
	f := newFilter(t, bpf.FilterOptions{})
	g := openIn(t, broker.NS, broker.Iface, Options{Workers: 2, Filter: f, RingSize: 4 << 20})
	ref := openIn(t, broker.NS, broker.Iface, Options{Workers: 1, Filter: f, RingSize: 4 << 20})

	type result struct {
		flows map[flowKey]int
		n     int
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	var live [2]atomic.Int64
	for i, src := range g.Sources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder()
			r := result{flows: map[flowKey]int{}}
			for {
				data, _, err := src.ZeroCopyReadPacketData()
				if err != nil {
					break
				}
				r.n++
				live[i].Add(1)
				if _, _, fk, ok := d.decode(data); ok {
					r.flows[fk]++
				}
			}
			results[i] = r
		}()
	}
	refCount := countPorts(ref.Sources()[0])

	const conns = 16
	for i := 0; i < conns; i++ {
		c, err := netnstest.Dial(clients.NS, netip.AddrPortFrom(clients.Addr, 0), netip.AddrPortFrom(broker.Addr, 1883), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			c.Write(connectMsg)
		}
		c.Close()
	}
	want := settle(refCount.total.Load)
	settle(func() int64 { return live[0].Load() + live[1].Load() })
	g.Close()
	ref.Close()
	wg.Wait()

	total := results[0].n + results[1].n
	if int64(total) != want {
		t.Errorf("fanout sockets got %d + %d = %d frames, independent socket %d", results[0].n, results[1].n, total, want)
	}
	if results[0].n == 0 || results[1].n == 0 {
		t.Errorf("one socket got nothing: %d, %d (16 flows should spread)", results[0].n, results[1].n)
	}
	if len(results[0].flows)+len(results[1].flows) != conns {
		t.Errorf("flows seen: %d + %d, want %d in all", len(results[0].flows), len(results[1].flows), conns)
	}
	for fk, n := range results[0].flows {
		if m, ok := results[1].flows[fk]; ok {
			t.Errorf("flow %v split across sockets: %d and %d frames", fk, n, m)
		}
	}
	gs := g.Stats()
	if gs.Packets != uint64(total) || gs.Drops != 0 {
		t.Errorf("group stats %+v, frames read %d", gs, total)
	}
	t.Logf("16 flows: socket 0 %d frames / %d flows, socket 1 %d frames / %d flows", results[0].n, len(results[0].flows), results[1].n, len(results[1].flows))
}

// TestCloseUnblocksReader: a reader blocked on an idle interface returns
// io.EOF promptly when a context cancel closes the group.
func TestCloseUnblocksReader(t *testing.T) {
	p := netnstest.New(t)
	g := openIn(t, p.B.NS, p.B.Iface, Options{Workers: 2, PollTimeout: 50 * time.Millisecond, RingSize: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	context.AfterFunc(ctx, func() { g.Close() })
	errs := make(chan error, 2)
	for _, s := range g.Sources() {
		go func() {
			for {
				if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	for range 2 {
		select {
		case err := <-errs:
			if err != io.EOF {
				t.Errorf("reader: %v, want io.EOF", err)
			}
		case <-time.After(time.Second):
			t.Fatal("reader still blocked 1 s after cancel")
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("readers took %v to stop", d)
	}
	if _, _, err := g.Sources()[0].ZeroCopyReadPacketData(); err != io.EOF {
		t.Errorf("read after close: %v, want io.EOF", err)
	}
}

// TestReadAllocs locks the zero-allocation read path. Frames arrive while
// it reads: a TPACKET_V3 ring left unread under trickling traffic fills
// with blocks retired by the block timeout and drops.
func TestReadAllocs(t *testing.T) {
	p := netnstest.New(t)
	netnstest.Serve(t, p.B.NS, 1883)
	f := newFilter(t, bpf.FilterOptions{})
	g := openIn(t, p.B.NS, p.B.Iface, Options{Workers: 1, Filter: f, RingSize: 8 << 20})
	c, err := netnstest.Dial(p.A.NS, netip.AddrPortFrom(p.A.Addr, 0), netip.AddrPortFrom(p.B.Addr, 1883), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetNoDelay(true)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer c.Close()
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(connectMsg); err != nil {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	// A stuck read must not hang the test: Close makes it return io.EOF.
	guard := time.AfterFunc(15*time.Second, func() { g.Close() })
	defer guard.Stop()
	src := g.Sources()[0]
	var readErr error
	allocs := testing.AllocsPerRun(500, func() {
		if readErr != nil {
			return
		}
		_, _, readErr = src.ZeroCopyReadPacketData()
	})
	close(stop)
	<-writerDone
	if readErr != nil {
		t.Fatalf("read: %v", readErr)
	}
	if allocs != 0 {
		t.Errorf("ZeroCopyReadPacketData allocates %.1f per frame", allocs)
	}
}

// TestKernelDropsCounted: a two-block ring nobody reads overflows; Stats
// reports the kernel's drops, and what is read afterwards is exactly what
// was queued minus what was dropped (the kernel counts drops in Packets).
func TestKernelDropsCounted(t *testing.T) {
	p := netnstest.New(t)
	netnstest.Serve(t, p.B.NS, 1883)
	f := newFilter(t, bpf.FilterOptions{})
	g := openIn(t, p.B.NS, p.B.Iface, Options{Workers: 1, Filter: f, BlockSize: 64 << 10, RingSize: 128 << 10, PollTimeout: 20 * time.Millisecond})
	c, err := netnstest.Dial(p.A.NS, netip.AddrPortFrom(p.A.Addr, 0), netip.AddrPortFrom(p.B.Addr, 1883), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetNoDelay(true)
	for i := 0; i < 200; i++ {
		c.Write(connectMsg)
		time.Sleep(200 * time.Microsecond)
	}
	c.Close()
	src := g.Sources()[0]
	st := Stats{}
	settle(func() int64 { st = src.Stats(); return int64(st.Packets) })
	if st.Drops == 0 {
		t.Fatalf("no drops counted with an unread two-block ring: %+v", st)
	}
	var read uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := src.ZeroCopyReadPacketData(); err != nil {
				return
			}
			read++
		}
	}()
	time.Sleep(300 * time.Millisecond)
	g.Close()
	<-done
	final := src.Stats()
	if read+final.Drops != final.Packets {
		t.Errorf("read %d + dropped %d != queued %d (%+v)", read, final.Drops, final.Packets, final)
	}
	t.Logf("stats %+v, read %d", final, read)
}

// sourceCount finds a's entry in the filter's source counts.
func sourceCount(all []bpf.SourceCount, a netip.Addr) (bpf.SourceCount, bool) {
	for _, sc := range all {
		if sc.Addr == a.Unmap() {
			return sc, true
		}
	}
	return bpf.SourceCount{}, false
}
