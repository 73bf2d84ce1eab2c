package bpf

import (
	"fmt"
	"net/netip"
	"sync"

	"mqttids/internal/defaults"
)

// Filter is the loaded MQTT socket filter and its maps. Attach it to
// capture sockets by file descriptor (FD); one Filter can serve every socket
// of a fanout group, which then share ports, flows and counters (the
// kernel runs the filter of the one socket a frame is fanned out to). Two
// groups capturing the same traffic with one Filter count each SYN and RST
// twice. Methods are safe for concurrent use.
type Filter struct {
	mu   sync.RWMutex // guards objs against Close
	objs *filterObjects
}

// NewFilter loads the socket filter with its maps sized by o and fills the
// port map.
func NewFilter(o FilterOptions) (*Filter, error) {
	spec, err := loadFilter()
	if err != nil {
		return nil, fmt.Errorf("load socket filter spec: %w", err)
	}
	spec.Maps[filterMapMqttFlows].MaxEntries = maxEntries(o.MaxFlows)
	spec.Maps[filterMapSrcCounts].MaxEntries = maxEntries(o.MaxSources)
	objs := new(filterObjects)
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		return nil, fmt.Errorf("load socket filter: %w", err)
	}
	f := &Filter{objs: objs}
	ports := o.Ports
	if len(ports) == 0 {
		ports = defaults.FilterPorts()
	}
	for _, p := range ports {
		if err := f.AddPort(p); err != nil {
			objs.Close()
			return nil, err
		}
	}
	return f, nil
}

// FD is the program's file descriptor, for SO_ATTACH_BPF
// (afpacket.TPacket.SetEBPF). It is valid until Close.
func (f *Filter) FD() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.objs == nil {
		return -1
	}
	return f.objs.MqttFilter.FD()
}

// AddPort makes TCP traffic to or from port pass the filter.
func (f *Filter) AddPort(port uint16) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.objs == nil {
		return ErrClosed
	}
	if err := f.objs.MqttPorts.Put(port, uint8(1)); err != nil {
		return fmt.Errorf("add mqtt port %d: %w", port, err)
	}
	return nil
}

// SourceCounts appends the SYN/RST counts of every address in the table to
// dst. IPv4 addresses are returned unmapped.
func (f *Filter) SourceCounts(dst []SourceCount) ([]SourceCount, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.objs == nil {
		return dst, ErrClosed
	}
	var k filterAddr
	var v filterSrcCount
	it := f.objs.SrcCounts.Iterate()
	for it.Next(&k, &v) {
		dst = append(dst, SourceCount{Addr: netip.AddrFrom16(k.B).Unmap(), SYN: v.Syn, RST: v.Rst})
	}
	if err := it.Err(); err != nil {
		return dst, fmt.Errorf("read source counts: %w", err)
	}
	return dst, nil
}

// Stats sums the filter's per-CPU counters.
func (f *Filter) Stats() (FilterStats, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.objs == nil {
		return FilterStats{}, ErrClosed
	}
	var s FilterStats
	for i, dst := range []*uint64{&s.Seen, &s.Passed, &s.FlowHits} {
		var per []uint64
		if err := f.objs.FilterStats.Lookup(uint32(i), &per); err != nil {
			return FilterStats{}, fmt.Errorf("read filter stats: %w", err)
		}
		for _, v := range per {
			*dst += v
		}
	}
	return s, nil
}

// Close unloads the program and its maps. Sockets the program is attached
// to keep a reference and go on filtering until they close.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objs == nil {
		return nil
	}
	err := f.objs.Close()
	f.objs = nil
	if err != nil {
		return fmt.Errorf("close socket filter: %w", err)
	}
	return nil
}
