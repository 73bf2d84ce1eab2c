package bpf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"mqttids/block"
)

// XDPEnforcer drops, at an interface's ingress, every frame from a source
// in the block list's src_ip entries (addresses or CIDR prefixes, IPv4 and
// IPv6). It implements block.Enforcer. The program is attached through a
// bpf_link owned by this process: if the process dies the kernel detaches
// it, so a crash never leaves a stale drop rule behind.
type XDPEnforcer struct {
	iface string
	mode  AttachMode

	mu   sync.Mutex // guards objs and lnk against Close
	objs *blockObjects
	lnk  link.Link
}

var _ block.Enforcer = (*XDPEnforcer)(nil)

// NewXDPEnforcer loads the drop program and attaches it to iface's ingress
// as o.Mode says. With AttachAuto it tries native XDP, generic XDP, then TC
// (tcx) and keeps the first that attaches; Mode reports which.
func NewXDPEnforcer(iface string, o EnforcerOptions) (*XDPEnforcer, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("xdp enforcer: interface %s: %w", iface, err)
	}
	objs, err := loadBlockObjs(o)
	if err != nil {
		return nil, err
	}
	modes := []AttachMode{o.Mode}
	if o.Mode == AttachAuto {
		modes = []AttachMode{AttachXDPDriver, AttachXDPGeneric, AttachTC}
	}
	var errs []error
	for _, m := range modes {
		var l link.Link
		switch m {
		case AttachXDPDriver:
			l, err = link.AttachXDP(link.XDPOptions{Program: objs.XdpBlock, Interface: ifi.Index, Flags: link.XDPDriverMode})
		case AttachXDPGeneric:
			l, err = link.AttachXDP(link.XDPOptions{Program: objs.XdpBlock, Interface: ifi.Index, Flags: link.XDPGenericMode})
		case AttachTC:
			l, err = link.AttachTCX(link.TCXOptions{Program: objs.TcBlock, Interface: ifi.Index, Attach: ebpf.AttachTCXIngress})
		default:
			err = fmt.Errorf("unknown attach mode %d", int(m))
		}
		if err == nil {
			return &XDPEnforcer{iface: iface, mode: m, objs: objs, lnk: l}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m, err))
	}
	objs.Close()
	return nil, fmt.Errorf("xdp enforcer: attach to %s: %w", iface, errors.Join(errs...))
}

func loadBlockObjs(o EnforcerOptions) (*blockObjects, error) {
	spec, err := loadBlock()
	if err != nil {
		return nil, fmt.Errorf("xdp enforcer: load spec: %w", err)
	}
	spec.Maps[blockMapBlockSrc].MaxEntries = maxEntries(o.MaxEntries)
	objs := new(blockObjects)
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		return nil, fmt.Errorf("xdp enforcer: load programs: %w", err)
	}
	return objs, nil
}

// Name is "xdp".
func (e *XDPEnforcer) Name() string { return "xdp" }

// Mode is how the program was attached.
func (e *XDPEnforcer) Mode() AttachMode { return e.mode }

// Apply adds (op "add") or removes (op "remove") a src_ip entry. Other
// targets (client_id, username) cannot be enforced on packets and are
// ignored. Adding an entry already present or removing one that is absent
// is not an error.
func (e *XDPEnforcer) Apply(ev *block.Event) error {
	if ev.Target != "src_ip" {
		return nil
	}
	p, err := ParseBlockValue(ev.Value)
	if err != nil {
		return fmt.Errorf("xdp enforcer: %w", err)
	}
	switch ev.Op {
	case "add":
		return e.Add(p)
	case "remove":
		return e.Remove(p)
	}
	return fmt.Errorf("xdp enforcer: unknown op %q", ev.Op)
}

// Add blocks p.
func (e *XDPEnforcer) Add(p netip.Prefix) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objs == nil {
		return ErrClosed
	}
	var k blockLpmKey
	k.Prefixlen, k.A.B = lpmKey(p)
	err := e.objs.BlockSrc.Update(&k, uint64(0), ebpf.UpdateNoExist)
	if err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("xdp enforcer: add %s: %w", p, err)
	}
	return nil
}

// Remove unblocks p (the exact prefix that was added).
func (e *XDPEnforcer) Remove(p netip.Prefix) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objs == nil {
		return ErrClosed
	}
	var k blockLpmKey
	k.Prefixlen, k.A.B = lpmKey(p)
	if err := e.objs.BlockSrc.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdp enforcer: remove %s: %w", p, err)
	}
	return nil
}

// Entries appends the blocked prefixes and the frames each dropped to dst.
func (e *XDPEnforcer) Entries(dst []BlockEntry) ([]BlockEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objs == nil {
		return dst, ErrClosed
	}
	var k blockLpmKey
	var v uint64
	it := e.objs.BlockSrc.Iterate()
	for it.Next(&k, &v) {
		dst = append(dst, BlockEntry{Prefix: keyPrefix(k.Prefixlen, k.A.B), Dropped: v})
	}
	if err := it.Err(); err != nil {
		return dst, fmt.Errorf("xdp enforcer: read entries: %w", err)
	}
	return dst, nil
}

// Drops sums the per-CPU drop counters.
func (e *XDPEnforcer) Drops() (Drops, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objs == nil {
		return Drops{}, ErrClosed
	}
	var per []blockDropCount
	if err := e.objs.DropStats.Lookup(uint32(0), &per); err != nil {
		return Drops{}, fmt.Errorf("xdp enforcer: read drops: %w", err)
	}
	var d Drops
	for _, c := range per {
		d.Packets += c.Packets
		d.Bytes += c.Bytes
	}
	return d, nil
}

// Close detaches the program and frees its maps.
func (e *XDPEnforcer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objs == nil {
		return nil
	}
	var err error
	if e.lnk != nil {
		err = e.lnk.Close()
	}
	err = errors.Join(err, e.objs.Close())
	e.objs, e.lnk = nil, nil
	if err != nil {
		return fmt.Errorf("xdp enforcer: close %s: %w", e.iface, err)
	}
	return nil
}
