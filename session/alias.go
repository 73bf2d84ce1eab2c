package session

import "mqttids/decode"

// maxAliases bounds the v5 topic aliases remembered per direction of a
// connection. A client may define up to the broker's Topic Alias Maximum
// (often 10, at most 65535); beyond this bound an alias resolves to an
// unknown topic, which detection treats as such — it never costs memory
// the sender chooses.
const maxAliases = 32

// Aliases is one direction's v5 topic aliases (property 0x23): a PUBLISH
// with a topic and an alias defines it, one with an empty topic uses it.
type Aliases struct {
	ids    []uint16
	topics [][]byte // copies
}

// Resolve returns p's topic with its alias resolved; ok is false for an
// alias never defined (the topic is unknown). Non-v5 packets pass through.
func (a *Aliases) Resolve(p *decode.Packet) (topic []byte, ok bool) {
	if p.Version != decode.V5 {
		return p.Topic, true
	}
	var alias uint16
	for i := range p.Props {
		if p.Props[i].ID == 0x23 {
			alias = uint16(p.Props[i].Int)
		}
	}
	if alias == 0 {
		return p.Topic, true
	}
	for i, id := range a.ids {
		if id != alias {
			continue
		}
		if len(p.Topic) == 0 {
			return a.topics[i], true
		}
		if string(a.topics[i]) != string(p.Topic) {
			a.topics[i] = append(a.topics[i][:0], p.Topic...)
		}
		return p.Topic, true
	}
	if len(p.Topic) == 0 {
		return nil, false
	}
	if len(a.ids) < maxAliases {
		a.ids = append(a.ids, alias)
		a.topics = append(a.topics, append([]byte(nil), p.Topic...))
	}
	return p.Topic, true
}
