package pipeline

import (
	"sync"

	"mqttids/alerts"
	"mqttids/block"
)

// maxTopKeys bounds the per-source and per-client-id alert tallies kept for
// the summary; beyond it new keys are not tallied (and counted as such).
const maxTopKeys = 10000

// countingEmitter tallies alerts by source and client id for the summary
// and counts block events, and passes everything on. How many alerts of
// which category were raised is the rules engine's count (rules.Engine
// Stats), the one source of truth for it.
type countingEmitter struct {
	next alerts.Emitter

	mu         sync.Mutex
	bySource   map[string]uint64
	byClientID map[string]uint64
	untallied  uint64
	blocks     uint64
}

func newCountingEmitter(next alerts.Emitter) *countingEmitter {
	return &countingEmitter{
		next:       next,
		bySource:   map[string]uint64{},
		byClientID: map[string]uint64{},
	}
}

func (c *countingEmitter) EmitAlert(a *alerts.Alert) {
	c.mu.Lock()
	c.tally(c.bySource, a.SrcIP)
	if a.MQTT != nil && a.MQTT.ClientID != "" {
		c.tally(c.byClientID, a.MQTT.ClientID)
	}
	c.mu.Unlock()
	if c.next != nil {
		c.next.EmitAlert(a)
	}
}

func (c *countingEmitter) tally(m map[string]uint64, k string) {
	if k == "" {
		return
	}
	if _, ok := m[k]; !ok && len(m) >= maxTopKeys {
		c.untallied++
		return
	}
	m[k]++
}

func (c *countingEmitter) EmitBlock(b *block.Event) {
	c.mu.Lock()
	c.blocks++
	c.mu.Unlock()
	if c.next != nil {
		c.next.EmitBlock(b)
	}
}

// fill copies the tallies into s.
func (c *countingEmitter) fill(s *Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.BlockEntries = c.blocks
	s.TopSources = top(c.bySource, 10)
	s.TopClientIDs = top(c.byClientID, 10)
}

// Top is the n largest counts of m.
func Top(m map[string]uint64, n int) []Count { return top(m, n) }

func top(m map[string]uint64, n int) []Count {
	out := sorted(m)
	if len(out) > n {
		out = out[:n]
	}
	return out
}
