package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Labels is a scenario's labels.json (written by tools/scengen).
type Labels struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Attackers   []string `json:"attackers"`
	// Expected categories must fire with an attacker address as src_ip.
	Expected []string `json:"expected"`
	// AlsoOK categories may also fire for an attacker.
	AlsoOK []string `json:"also_ok"`
	// Benign sources must raise nothing outside BenignAlsoOK.
	Benign []string `json:"benign"`
	// BenignAlsoOK: every client of the recordings logs in over plain TCP,
	// so cleartext-credentials may fire for benign sources too.
	BenignAlsoOK []string `json:"benign_also_ok"`
	Broker       string   `json:"broker"`
	// SecretMarkers must never appear in any mqttids output.
	SecretMarkers []string `json:"secret_markers"`
	// TimeDilated is set when scengen -stretch rewrote the timestamps.
	TimeDilated bool `json:"time_dilated,omitempty"`
	// Seed and Params: the random draw behind a scenario with varied
	// parameters (scengen -seed); Params holds the drawn values (counts,
	// rates, and durations in the unit their key names: _ms, _s).
	Seed   uint64         `json:"seed,omitempty"`
	Params map[string]int `json:"params,omitempty"`
	// AttackStart (RFC 3339, nanoseconds) is the packet time the attack
	// begins, read from the recording after it was made (scengen -pcap).
	// Time to alert is measured from it; without it, from the first
	// packet an attacker sent.
	AttackStart string `json:"attack_start,omitempty"`
	// DetectWithinS is the budget, in seconds from the attack's start, for
	// the first expected alert; a later one makes the result Late.
	DetectWithinS int `json:"detect_within_s,omitempty"`
}

// Alert is the part of an alert line that scoring reads.
type Alert struct {
	Timestamp string `json:"timestamp"`
	SrcIP     string `json:"src_ip"`
	Alert     struct {
		Category    string `json:"category"`
		SignatureID int    `json:"signature_id"`
	} `json:"alert"`
}

// Scenario is one folder: input.pcap (or File) + labels.json.
type Scenario struct {
	Dir    string
	Labels Labels
	File   string // the capture's name in Dir; empty: input.pcap
}

// Result scores one scenario.
type Result struct {
	Name           string
	Expected       []string
	Detected       []string // expected categories that fired from an attacker
	Missing        []string // expected categories that did not
	Unexpected     []string // attacker alerts outside expected ∪ also_ok (category@ip)
	FalsePositives []string // alerts from non-attacker sources (category@ip)
	TimeToAlert    time.Duration
	HasTTA         bool
	// Late: the first expected alert came after the labels' detect_within_s.
	Late   bool
	Budget time.Duration // detect_within_s; 0 when the labels set none
	Alerts int
}

// OK is true when every expected category fired, in time, and nothing
// else did.
func (r Result) OK() bool {
	return len(r.Missing) == 0 && len(r.FalsePositives) == 0 && len(r.Unexpected) == 0 && !r.Late
}

// Load finds every scenario below root (folders holding labels.json and
// input.pcap), sorted by name.
func Load(root string) ([]Scenario, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w", err)
	}
	var out []Scenario
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "labels.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var l Labels
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("%s/labels.json: %w", dir, err)
		}
		if l.Name == "" {
			l.Name = e.Name()
		}
		out = append(out, Scenario{Dir: dir, Labels: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Labels.Name < out[j].Labels.Name })
	return out, nil
}

// Pcap is the scenario's capture.
func (s Scenario) Pcap() string {
	if s.File != "" {
		return filepath.Join(s.Dir, s.File)
	}
	return filepath.Join(s.Dir, "input.pcap")
}

// LoadOne reads the labels of one folder whose capture is named file.
func LoadOne(dir, file string) (Scenario, error) {
	b, err := os.ReadFile(filepath.Join(dir, "labels.json"))
	if err != nil {
		return Scenario{}, fmt.Errorf("read labels: %w", err)
	}
	var l Labels
	if err := json.Unmarshal(b, &l); err != nil {
		return Scenario{}, fmt.Errorf("%s/labels.json: %w", dir, err)
	}
	if l.Name == "" {
		l.Name = filepath.Base(dir)
	}
	return Scenario{Dir: dir, Labels: l, File: file}, nil
}

// Score compares alerts with the labels.
func Score(s Scenario, alerts []Alert) (Result, error) {
	l := s.Labels
	r := Result{Name: l.Name, Expected: l.Expected, Alerts: len(alerts), Budget: time.Duration(l.DetectWithinS) * time.Second}
	attackers := set(l.Attackers)
	ok := set(append(append([]string{}, l.Expected...), l.AlsoOK...))
	benignOK := set(l.BenignAlsoOK)
	fired := map[string]bool{}
	var first time.Time
	unexpected, fps := map[string]bool{}, map[string]bool{}
	for _, a := range alerts {
		cat, ip := a.Alert.Category, a.SrcIP
		if !attackers[ip] {
			if !benignOK[cat] {
				fps[cat+"@"+ip] = true
			}
			continue
		}
		if !ok[cat] {
			unexpected[cat+"@"+ip] = true
			continue
		}
		fired[cat] = true
		if t, err := time.Parse("2006-01-02T15:04:05.999999-0700", a.Timestamp); err == nil && set(l.Expected)[cat] {
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	for _, c := range l.Expected {
		if fired[c] {
			r.Detected = append(r.Detected, c)
		} else {
			r.Missing = append(r.Missing, c)
		}
	}
	r.Unexpected, r.FalsePositives = keys(unexpected), keys(fps)
	if !first.IsZero() && len(l.Attackers) > 0 {
		var start time.Time
		if l.AttackStart != "" {
			t, err := time.Parse(time.RFC3339Nano, l.AttackStart)
			if err != nil {
				return r, fmt.Errorf("%s: attack_start: %w", l.Name, err)
			}
			start = t
		} else {
			t, err := firstPacketFrom(s.Pcap(), attackers)
			if err != nil {
				return r, err
			}
			start = t
		}
		if !start.IsZero() {
			r.TimeToAlert, r.HasTTA = first.Sub(start), true
		}
	}
	r.Late = r.Budget > 0 && r.HasTTA && r.TimeToAlert > r.Budget
	return r, nil
}

// firstPacketFrom is the time of the first packet any attacker sent.
func firstPacketFrom(path string, from map[string]bool) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", path, err)
	}
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		var src netip.Addr
		if ip4, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
		} else if ip6, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			src, _ = netip.AddrFromSlice(ip6.SrcIP)
		}
		if src.IsValid() && from[src.String()] {
			return ci.Timestamp, nil
		}
	}
}

// ParseAlerts reads JSON alert lines, ignoring non-alert events.
func ParseAlerts(r io.Reader) ([]Alert, error) {
	dec := json.NewDecoder(r)
	var out []Alert
	for {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("parse alerts: %w", err)
		}
		var et string
		_ = json.Unmarshal(raw["event_type"], &et)
		if et != "alert" {
			continue
		}
		b, _ := json.Marshal(raw)
		var a Alert
		if err := json.Unmarshal(b, &a); err != nil {
			return out, fmt.Errorf("parse alert: %w", err)
		}
		out = append(out, a)
	}
}

// Table writes the results as a fixed-width table.
func Table(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-22s %-40s %-40s %-30s %-8s %s\n", "scenario", "expected", "detected", "false positives / unexpected", "alerts", "time to alert")
	for _, r := range results {
		tta := "-"
		if r.HasTTA {
			tta = r.TimeToAlert.Round(time.Millisecond).String()
		}
		if r.Budget > 0 {
			tta += " (budget " + r.Budget.String() + ")"
		}
		if r.Late {
			tta += " LATE"
		}
		bad := append(append([]string{}, r.FalsePositives...), r.Unexpected...)
		status := "ok"
		if !r.OK() {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%-22s %-40s %-40s %-30s %-8d %s  %s\n", r.Name, join(r.Expected), join(r.Detected), join(bad), r.Alerts, tta, status)
	}
}

func join(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func set(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
