package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Marshal writes the rules of rs (disabled ones included) as one rule file
// that loads back, without the built-in rules, to the same set: what
// `mqttids rules list --rules FILE` prints, every field spelled out and each
// rule's origin in a comment.
func (rs *Ruleset) Marshal() ([]byte, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range rs.rules {
		seq.Content = append(seq.Content, ruleNode(r))
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{
		Kind:        yaml.MappingNode,
		HeadComment: "mqttids rules: the built-in rules merged with the given files, in load order",
		Content:     []*yaml.Node{scalar("rules"), seq},
	}}}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("marshal rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal rules: %w", err)
	}
	return []byte(b.String()), nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func quoted(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.DoubleQuotedStyle}
}

// dur spells a duration as a rule file would: 10m, 1h, 1h30m, 500ms.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func ruleNode(r *Rule) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, HeadComment: fmt.Sprintf("%s:%d", r.File, r.Line)}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, scalar(k), v) }
	add("id", scalar(r.ID))
	add("sid", scalar(strconv.Itoa(r.SID)))
	add("rev", scalar(strconv.Itoa(r.Rev)))
	add("category", scalar(r.Category))
	add("severity", scalar(strconv.Itoa(r.Severity)))
	add("description", quoted(r.Description))
	add("key", scalar(r.Key.String()))
	add("window", scalar(dur(r.Window)))
	if r.Count != "" && r.gate {
		add("count", scalar(r.Count))
	}
	add("threshold", scalar(strconv.FormatFloat(r.Threshold, 'g', -1, 64)))
	if r.Condition != "" {
		add("condition", quoted(r.Condition))
	}
	if !r.Match.empty() {
		mm := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		nets := func(k string, ps []netip.Prefix) {
			if len(ps) == 0 {
				return
			}
			l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, p := range ps {
				if p.IsSingleIP() {
					l.Content = append(l.Content, scalar(p.Addr().String()))
				} else {
					l.Content = append(l.Content, scalar(p.String()))
				}
			}
			mm.Content = append(mm.Content, scalar(k), l)
		}
		nets("src_networks", r.Match.SrcNetworks)
		nets("not_src_networks", r.Match.NotSrcNetworks)
		nets("brokers", r.Match.Brokers)
		if len(r.Match.DestPorts) > 0 {
			l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, p := range r.Match.DestPorts {
				l.Content = append(l.Content, scalar(strconv.Itoa(int(p))))
			}
			mm.Content = append(mm.Content, scalar("dest_ports"), l)
		}
		add("match", mm)
	}
	if r.Per != "" {
		add("per", scalar(r.Per))
	}
	add("suppress", scalar(dur(r.Suppress)))
	add("action", scalar(r.Action))
	if r.Target != "" {
		add("target", scalar(r.Target))
	}
	if r.TTL > 0 {
		add("ttl", scalar(dur(r.TTL)))
	}
	add("enabled", scalar(strconv.FormatBool(r.Enabled)))
	return m
}
