package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Stats is the contract's run statistics (--stats FILE), plus detail the
// summary table prints.
type Stats struct {
	Packets          uint64            `json:"packets"`
	Bytes            uint64            `json:"bytes"`
	TCPFlows         uint64            `json:"tcp_flows"`
	MQTTConnections  uint64            `json:"mqtt_connections"`
	MQTTPackets      uint64            `json:"mqtt_packets"`
	Malformed        uint64            `json:"malformed"`
	ReassemblyGaps   uint64            `json:"reassembly_gaps"`
	Dropped          uint64            `json:"dropped"`
	Evicted          uint64            `json:"evicted"`
	Alerts           uint64            `json:"alerts"`
	AlertsByCategory map[string]uint64 `json:"alerts_by_category"`
	ElapsedS         float64           `json:"elapsed_s"`
	PacketsPerS      float64           `json:"packets_per_s"`

	TLSConnections  uint64            `json:"tls_connections"`
	MQTTByType      map[string]uint64 `json:"mqtt_packets_by_type,omitempty"`
	MalformedByRule map[string]uint64 `json:"malformed_by_rule,omitempty"`
	DroppedBy       map[string]uint64 `json:"dropped_by,omitempty"`
	EvictedBy       map[string]uint64 `json:"evicted_by,omitempty"`
	BlockEntries    uint64            `json:"block_list_changes"`
	// OverlapConflicts: TCP segments whose bytes differed from those
	// already buffered for the same range (first seen wins).
	OverlapConflicts uint64 `json:"overlap_conflicts,omitempty"`
	// FragmentsReassembled: IPv4 datagrams rebuilt from fragments;
	// FragmentOverlaps: those discarded for overlapping fragments.
	FragmentsReassembled uint64  `json:"fragments_reassembled,omitempty"`
	FragmentOverlaps     uint64  `json:"fragment_overlaps,omitempty"`
	CaptureSpan          float64 `json:"capture_span_s"`

	// Kernel is set for live capture: the AF_PACKET rings and the eBPF
	// socket filter's own counters (SYN/RST per source are counted in the
	// kernel before userspace could drop anything).
	Kernel *KernelStats `json:"kernel,omitempty"`

	// Rules are the rules engine's own totals: a condition that fails at
	// run time, or a suppression table that is full, shows here.
	Rules *RuleStats `json:"rules,omitempty"`
	// CleartextByBroker counts, per broker address, the logins accepted
	// with a password on a non-TLS port: the posture, however many
	// cleartext-credentials alerts the rules raise for it.
	CleartextByBroker map[string]uint64 `json:"cleartext_credentials_by_broker,omitempty"`

	TopSources   []Count `json:"top_sources,omitempty"`
	TopClientIDs []Count `json:"top_client_ids,omitempty"`
}

// RuleStats are the rules engine's totals.
type RuleStats struct {
	Evaluations uint64 `json:"evaluations"` // conditions run
	EvalErrors  uint64 `json:"eval_errors"` // conditions that failed at run time (counted false)
	// EvalErrorsByRule: the same per rule id.
	EvalErrorsByRule map[string]uint64 `json:"eval_errors_by_rule,omitempty"`
	Suppressed       uint64            `json:"suppressed"`    // firings not emitted: the key was suppressed
	SuppressFull     uint64            `json:"suppress_full"` // suppressions not recorded: table full
	Blocked          uint64            `json:"blocked"`       // alerts whose block entry was accepted
}

// KernelStats are the live capture's in-kernel counters.
type KernelStats struct {
	RingPackets  uint64  `json:"ring_packets"`
	RingDrops    uint64  `json:"ring_drops"`
	RingFreezes  uint64  `json:"ring_freezes"`
	FilterSeen   uint64  `json:"filter_seen"`
	FilterPassed uint64  `json:"filter_passed"`
	SYN          uint64  `json:"syn"`
	RST          uint64  `json:"rst"`
	TopSYN       []Count `json:"top_syn_sources,omitempty"`
}

// Count is one row of a top-N list.
type Count struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// WriteStats writes s as JSON to path atomically.
func WriteStats(path string, s Stats) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stats-*")
	if err != nil {
		return fmt.Errorf("write stats %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write stats %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write stats %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write stats %s: %w", path, err)
	}
	return nil
}

// WriteSummary prints the human summary table of a run.
func WriteSummary(w io.Writer, s Stats) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "── mqttids summary ──")
	fmt.Fprintf(tw, "packets\t%d\t(%s)\n", s.Packets, human(float64(s.Bytes), "B"))
	fmt.Fprintf(tw, "throughput\t%s pkt/s\t%s, %.3fs elapsed\n", human(s.PacketsPerS, ""), human(8*float64(s.Bytes)/nonzero(s.ElapsedS), "bit/s"), s.ElapsedS)
	fmt.Fprintf(tw, "tcp flows\t%d\t\n", s.TCPFlows)
	fmt.Fprintf(tw, "mqtt connections\t%d\t(+%d TLS, not decoded)\n", s.MQTTConnections, s.TLSConnections)
	fmt.Fprintf(tw, "mqtt packets\t%d\t%s\n", s.MQTTPackets, inline(s.MQTTByType))
	fmt.Fprintf(tw, "malformed\t%d\t%s\n", s.Malformed, inline(s.MalformedByRule))
	fmt.Fprintf(tw, "reassembly gaps\t%d\t\n", s.ReassemblyGaps)
	fmt.Fprintf(tw, "dropped\t%d\t%s\n", s.Dropped, inline(s.DroppedBy))
	fmt.Fprintf(tw, "evicted\t%d\t%s\n", s.Evicted, inline(s.EvictedBy))
	fmt.Fprintf(tw, "alerts\t%d\t\n", s.Alerts)
	for _, c := range sorted(s.AlertsByCategory) {
		fmt.Fprintf(tw, "  %s\t%d\t\n", c.Key, c.Count)
	}
	if r := s.Rules; r != nil && (r.EvalErrors > 0 || r.SuppressFull > 0) {
		fmt.Fprintf(tw, "rule errors\t%d\t(%d suppressions not recorded: table full)\n", r.EvalErrors, r.SuppressFull)
	}
	if len(s.CleartextByBroker) > 0 {
		fmt.Fprintf(tw, "cleartext logins\t%s\t(password accepted on a non-TLS port, by broker)\n", inline(s.CleartextByBroker))
	}
	if len(s.TopSources) > 0 {
		fmt.Fprintln(tw, "top sources (alerts)\t\t")
		for _, c := range s.TopSources {
			fmt.Fprintf(tw, "  %s\t%d\t\n", c.Key, c.Count)
		}
	}
	if len(s.TopClientIDs) > 0 {
		fmt.Fprintln(tw, "top client ids (alerts)\t\t")
		for _, c := range s.TopClientIDs {
			fmt.Fprintf(tw, "  %s\t%d\t\n", c.Key, c.Count)
		}
	}
	tw.Flush()
}

func nonzero(f float64) float64 {
	if f <= 0 {
		return 1e-9
	}
	return f
}

func inline(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, c := range sorted(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", c.Key, c.Count))
	}
	return strings.Join(parts, " ")
}

// sorted orders a count map by count, then key.
func sorted(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func human(v float64, unit string) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G%s", v/1e9, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M%s", v/1e6, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k%s", v/1e3, unit)
	}
	return strings.TrimSpace(fmt.Sprintf("%.0f %s", v, unit))
}

// since is the elapsed wall-clock time of a run, never zero.
func since(d time.Duration) float64 {
	if d <= 0 {
		return 1e-9
	}
	return d.Seconds()
}
