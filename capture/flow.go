package capture

import (
	"encoding/binary"
	"net/netip"
)

// flowKey is the canonical 5-tuple of a TCP connection (the protocol is
// always TCP): endpoint a is the smaller (address, port), so both
// directions map to one key.
type flowKey struct {
	a, b   [16]byte
	ap, bp uint16
}

// canonical returns the key of pi's connection and whether pi travels from
// endpoint a to endpoint b.
func canonical(pi *pktInfo) (k flowKey, fromA bool) {
	if lessEndpoint(&pi.src, pi.sport, &pi.dst, pi.dport) {
		return flowKey{a: pi.src, b: pi.dst, ap: pi.sport, bp: pi.dport}, true
	}
	return flowKey{a: pi.dst, b: pi.src, ap: pi.dport, bp: pi.sport}, false
}

func lessEndpoint(x *[16]byte, xp uint16, y *[16]byte, yp uint16) bool {
	x0, y0 := binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8])
	if x0 != y0 {
		return x0 < y0
	}
	x1, y1 := binary.BigEndian.Uint64(x[8:]), binary.BigEndian.Uint64(y[8:])
	if x1 != y1 {
		return x1 < y1
	}
	return xp < yp
}

// hash is symmetric because the key is canonical; it picks the worker.
func (k *flowKey) hash() uint64 {
	h := binary.LittleEndian.Uint64(k.a[:8])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(k.a[8:])*0xc2b2ae3d27d4eb4f ^
		binary.LittleEndian.Uint64(k.b[:8])*0x165667b19e3779f9 ^
		binary.LittleEndian.Uint64(k.b[8:])*0x27d4eb2f165667c5 ^
		(uint64(k.ap)<<16|uint64(k.bp))*0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 29
	return h
}

func addrPort(a *[16]byte, v4 bool, port uint16) netip.AddrPort {
	ip := netip.AddrFrom16(*a)
	if v4 {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, port)
}
