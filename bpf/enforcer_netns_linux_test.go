package bpf

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mqttids/block"
	"mqttids/bpf/netnstest"
)

// connect dials from → to:port inside ns, sends a CONNECT-sized write and
// closes; the error says whether the handshake completed within timeout.
func connect(ns string, from, to netip.Addr, port uint16, timeout time.Duration) error {
	c, err := netnstest.Dial(ns, netip.AddrPortFrom(from, 0), netip.AddrPortFrom(to, port), timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0})
	return err
}

// TestXDPEnforcerBlocksAttacker: a broker namespace with the enforcer on its
// veth, a client namespace with an attacker and a benign address. Blocking
// the attacker (IPv4, IPv6, then a CIDR) stops its new connections while the
// benign client goes on connecting; removing the entry lets it back in.
func TestXDPEnforcerBlocksAttacker(t *testing.T) {
	p := netnstest.New(t)
	broker, clients := p.B, p.A
	attacker, attacker6 := clients.Addr, clients.Addr6
	benign := p.V4(3)
	benign6 := netip.MustParseAddr(strings.TrimSuffix(clients.Addr6.String(), "1") + "3")
	p.AddAddr(t, clients, benign)
	p.AddAddr(t, clients, benign6)
	netnstest.Serve(t, broker.NS, 1883)

	const okTimeout, blockedTimeout = 2 * time.Second, time.Second
	mustConnect := func(step string, from, to netip.Addr) {
		t.Helper()
		if err := connect(clients.NS, from, to, 1883, okTimeout); err != nil {
			t.Fatalf("%s: %s → %s: %v", step, from, to, err)
		}
	}
	mustFail := func(step string, from, to netip.Addr) {
		t.Helper()
		err := connect(clients.NS, from, to, 1883, blockedTimeout)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s: %s → %s: got %v, want a timeout", step, from, to, err)
		}
	}
	apply := func(e *XDPEnforcer, op, value string) {
		t.Helper()
		if err := e.Apply(&block.Event{Op: op, Target: "src_ip", Value: value}); err != nil {
			t.Fatal(err)
		}
	}

	for _, mode := range []AttachMode{AttachXDPGeneric, AttachXDPDriver, AttachTC, AttachAuto} {
		t.Run(mode.String(), func(t *testing.T) {
			var e *XDPEnforcer
			err := netnstest.Do(broker.NS, func() (err error) {
				e, err = NewXDPEnforcer(broker.Iface, EnforcerOptions{Mode: mode})
				return err
			})
			if err != nil {
				if refused(err) {
					t.Skipf("kernel refused %s attach: %v", mode, err)
				}
				t.Fatal(err)
			}
			defer e.Close()
			t.Logf("attached as %s", e.Mode())

			mustConnect("before block", attacker, broker.Addr)
			apply(e, "add", attacker.String())
			mustFail("v4 blocked", attacker, broker.Addr)
			mustConnect("benign while attacker blocked", benign, broker.Addr)
			mustConnect("attacker v6 not blocked", attacker6, broker.Addr6)
			d, err := e.Drops()
			if err != nil {
				t.Fatal(err)
			}
			if d.Packets == 0 {
				t.Errorf("Drops = %+v after a blocked connect", d)
			}
			apply(e, "remove", attacker.String())
			mustConnect("after remove", attacker, broker.Addr)

			if mode != AttachXDPGeneric {
				return
			}
			apply(e, "add", attacker6.String())
			mustFail("v6 blocked", attacker6, broker.Addr6)
			mustConnect("benign v6", benign6, broker.Addr6)
			apply(e, "remove", attacker6.String())

			apply(e, "add", p.V4(0).String()+"/30") // .0-.3: attacker and benign
			mustFail("cidr blocks attacker", attacker, broker.Addr)
			mustFail("cidr blocks benign", benign, broker.Addr)
			apply(e, "remove", p.V4(0).String()+"/30")
			mustConnect("cidr removed", benign, broker.Addr)
		})
	}

	// Close detaches: nothing is left on the interface.
	out, err := netnstest.Exec(broker.NS, "ip", "link", "show", broker.Iface).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "xdp") {
		t.Errorf("xdp still attached after Close: %s", out)
	}
}
