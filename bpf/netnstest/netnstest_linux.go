package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Side is one end of the pair: a namespace and the veth end inside it.
type Side struct {
	NS    string // namespace name (ip netns)
	Iface string // veth end inside NS
	Addr  netip.Addr
	Addr6 netip.Addr
}

// Pair is two namespaces joined by a veth pair: A (10.200.N.1) and B
// (10.200.N.2).
type Pair struct {
	A, B Side
	Net  uint8 // N in 10.200.N.0/24
}

// New makes the namespaces and the veth pair, brings them up and registers
// their deletion with t.Cleanup.
func New(t testing.TB) *Pair {
	t.Helper()
	if testing.Short() {
		t.Skip("netnstest: network namespace test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("netnstest: needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netnstest: the ip command (iproute2) is missing")
	}
	var rb [4]byte
	if _, err := rand.Read(rb[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(rb[:3])
	p := &Pair{Net: rb[3]}
	p.A = Side{NS: "mqttids-t-" + id + "-a", Iface: "mqa" + id,
		Addr: netip.AddrFrom4([4]byte{10, 200, p.Net, 1}), Addr6: p.addr6(1)}
	p.B = Side{NS: "mqttids-t-" + id + "-b", Iface: "mqb" + id,
		Addr: netip.AddrFrom4([4]byte{10, 200, p.Net, 2}), Addr6: p.addr6(2)}
	run(t, "netns", "add", p.A.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", p.A.NS).Run() })
	run(t, "netns", "add", p.B.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", p.B.NS).Run() })
	for _, ns := range []string{p.A.NS, p.B.NS} {
		// No duplicate address detection: a tentative link-local address
		// makes the first IPv6 neighbour discovery slow or lost.
		if err := Do(ns, func() error {
			for _, f := range []string{"all", "default"} {
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/accept_dad", []byte("0"), 0o644); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Logf("netnstest: disable DAD in %s: %v", ns, err)
		}
	}
	run(t, "-n", p.A.NS, "link", "add", p.A.Iface, "type", "veth", "peer", "name", p.B.Iface, "netns", p.B.NS)
	for _, s := range []Side{p.A, p.B} {
		run(t, "-n", s.NS, "link", "set", "lo", "up")
		run(t, "-n", s.NS, "addr", "add", s.Addr.String()+"/24", "dev", s.Iface)
		run(t, "-n", s.NS, "-6", "addr", "add", s.Addr6.String()+"/64", "dev", s.Iface, "nodad")
		run(t, "-n", s.NS, "link", "set", s.Iface, "up")
	}
	return p
}

func (p *Pair) addr6(host byte) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfd, 2: 0x02, 3: 0x00, 4: 0, 5: p.Net, 15: host})
}

// V4 is 10.200.N.host, for extra addresses added with AddAddr.
func (p *Pair) V4(host byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 200, p.Net, host}) }

// AddAddr adds another address (IPv4 /24 or IPv6 /64) to a side's veth.
func (p *Pair) AddAddr(t testing.TB, s Side, a netip.Addr) {
	t.Helper()
	if a.Is4() {
		run(t, "-n", s.NS, "addr", "add", a.String()+"/24", "dev", s.Iface)
		return
	}
	run(t, "-n", s.NS, "-6", "addr", "add", a.String()+"/64", "dev", s.Iface, "nodad")
}

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Do runs fn inside namespace ns and returns its error. fn runs on its own
// goroutine locked to a thread that is discarded when fn returns.
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with the goroutine instead of
		// going back to the scheduler in the wrong namespace.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Exec runs a command inside namespace ns (ip netns exec).
func Exec(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Serve listens on [::]:port inside ns (IPv4 and IPv6), reads every
// accepted connection to EOF (at most 10 s) and stops in t.Cleanup.
func Serve(t testing.TB, ns string, port uint16) {
	t.Helper()
	var ln net.Listener
	err := Do(ns, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf("[::]:%d", port))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
}

// Dial connects from → to inside ns (from's port 0 means any). The
// connection can be used from any goroutine.
func Dial(ns string, from, to netip.AddrPort, timeout time.Duration) (*net.TCPConn, error) {
	var c *net.TCPConn
	err := Do(ns, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(from)}
		nc, err := d.Dial("tcp", to.String())
		if err != nil {
			return err
		}
		c = nc.(*net.TCPConn)
		return nil
	})
	return c, err
}
