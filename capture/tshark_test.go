package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mqttids/decode"
	"mqttids/event"
)

// knownDisagreements lists the messages where tshark 4.0 (default
// preferences) and this package differ, keyed by "file base name#message
// index" (0-based). Each entry records both renderings and why the MQTT
// specification (and TCP) side with us. A disagreement not listed, or
// listed with other values, fails the test.
var knownDisagreements = map[string]struct{ ours, tshark, reason string }{
	// The capture starts inside a PUBLISH (its last 5 bytes, then whole
	// packets). Those bytes are not a fixed header; tshark reads 0x00 as
	// packet type 0 and loses the framing, we skip to the next plausible
	// header [MQTT-2.1.1: a control packet starts with a fixed header].
	"midstream.pcap#0": {`PUBLISH topic="a/c" qos=0`, "RESERVED", "mid-stream start: tshark frames from a byte inside a packet"},
	"midstream.pcap#2": {`PUBLISH topic="a/c" qos=0`, "", "tshark lost the framing at message 0"},
	"midstream.pcap#3": {"PINGREQ", "", "tshark lost the framing at message 0"},
	// Segments arrive out of order; TCP delivers them by sequence number.
	// tshark 4.0 by default (tcp.reassemble_out_of_order off) decodes
	// them in arrival order and then gives up on the stream.
	"ooo.pcap#2": {`SUBSCRIBE id=1 topics=["a/#"]`, "DISCONNECT", "tshark does not reorder by default"},
	"ooo.pcap#3": {`PUBLISH topic="a/b" qos=1 id=2`, "", "tshark does not reorder by default"},
	"ooo.pcap#4": {"PINGREQ", "", "tshark does not reorder by default"},
	"ooo.pcap#5": {"DISCONNECT", "", "tshark does not reorder by default"},
	// One-byte segments in reverse order (issue 12, item 2): we buffer at
	// most maxOOOSegments, declare the rest a gap and resynchronise at the
	// PINGREQ; tshark decodes the bytes in arrival order and loses the
	// client's framing.
	"reversed.pcap#2": {"PINGREQ", "PINGRESP", "tshark does not reorder by default"},
	"reversed.pcap#3": {"PINGRESP", "", "tshark lost the client's framing"},
	"reversed.pcap#4": {"DISCONNECT", "", "tshark lost the client's framing"},
	// Conflicting copies of a PUBLISH behind a missing first byte (issue
	// 12, item 5): we reorder and keep the first bytes seen (the chimera
	// topic "a/y", and a stream-overlap-conflict Malformed event); tshark
	// decodes in arrival order from a segment that starts inside the
	// packet and loses the client's framing.
	"chimera.pcap#2": {`PUBLISH topic="a/y" qos=1 id=2`, "RESERVED", "tshark does not reorder by default"},
	"chimera.pcap#4": {"DISCONNECT", "", "tshark lost the client's framing"},
	// Port 8883 carries TLS: the records are not MQTT and we do not
	// decode them (event.TLS). tshark decodes the record bytes as MQTT.
	"tls.pcap#0": {"", `CONNECT client_id=""`, "TLS bytes are not MQTT"},
	"tls.pcap#1": {"", "RESERVED", "TLS bytes are not MQTT"},
	"tls.pcap#2": {"", "RESERVED", "TLS bytes are not MQTT"},
	"tls.pcap#3": {"", `CONNECT client_id=""`, "TLS bytes are not MQTT"},
}

// msgLine renders the fields compared with tshark for one message.
type msgFields struct {
	typ      int
	clientID string
	username string
	hasUser  bool
	topics   []string
	qos      int // PUBLISH only, else -1
	id       int // -1 when the type has none
	code     int // CONNACK return / reason code, else -1
	codes    []int
}

func (m *msgFields) String() string {
	var b strings.Builder
	b.WriteString(decode.Type(m.typ).String())
	switch decode.Type(m.typ) {
	case decode.CONNECT:
		fmt.Fprintf(&b, " client_id=%q", m.clientID)
		if m.hasUser {
			fmt.Fprintf(&b, " username=%q", m.username)
		}
	case decode.CONNACK:
		fmt.Fprintf(&b, " code=%d", m.code)
	case decode.PUBLISH:
		fmt.Fprintf(&b, " topic=%q qos=%d", strings.Join(m.topics, ","), m.qos)
		if m.qos > 0 {
			fmt.Fprintf(&b, " id=%d", m.id)
		}
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		fmt.Fprintf(&b, " id=%d", m.id)
		if len(m.codes) > 0 && m.codes[0] != 0 {
			fmt.Fprintf(&b, " reason=%d", m.codes[0])
		}
	case decode.SUBSCRIBE, decode.UNSUBSCRIBE:
		fmt.Fprintf(&b, " id=%d topics=%q", m.id, m.topics)
	case decode.SUBACK, decode.UNSUBACK:
		fmt.Fprintf(&b, " id=%d codes=%v", m.id, m.codes)
	}
	return b.String()
}

func fromPacket(p *decode.Packet) string {
	m := msgFields{typ: int(p.Type), qos: -1, id: -1, code: -1}
	switch p.Type {
	case decode.CONNECT:
		m.clientID, m.username, m.hasUser = string(p.ClientID), string(p.Username), p.HasUsername()
	case decode.CONNACK:
		m.code = int(p.ReasonCode)
	case decode.PUBLISH:
		m.topics = []string{string(p.Topic)}
		m.qos = int(p.QoS())
		m.id = int(p.PacketID)
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		m.id = int(p.PacketID)
		if p.Type == decode.PUBACK && p.Version == decode.V5 {
			m.codes = []int{int(p.ReasonCode)}
		}
	case decode.SUBSCRIBE, decode.UNSUBSCRIBE:
		m.id = int(p.PacketID)
		for _, f := range p.Filters {
			m.topics = append(m.topics, string(f.Topic))
		}
	case decode.SUBACK, decode.UNSUBACK:
		m.id = int(p.PacketID)
		for _, c := range p.ReasonCodes {
			m.codes = append(m.codes, int(c))
		}
	}
	return m.String()
}

// collect returns every string value of key anywhere under v.
func collect(v any, key string) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if k == key {
					switch y := vv.(type) {
					case string:
						out = append(out, y)
						continue
					case []any:
						for _, z := range y {
							if s, ok := z.(string); ok {
								out = append(out, s)
							}
						}
						continue
					}
				}
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	walk(v)
	return out
}

func first(v any, key string, def int) int {
	s := collect(v, key)
	if len(s) == 0 {
		return def
	}
	n, err := strconv.ParseInt(s[0], 0, 64)
	if err != nil {
		return def
	}
	return int(n)
}

func ints(ss []string) []int {
	var out []int
	for _, s := range ss {
		n, _ := strconv.ParseInt(s, 0, 64)
		out = append(out, int(n))
	}
	return out
}

func fromTshark(msg map[string]any) string {
	m := msgFields{typ: first(msg, "mqtt.msgtype", -1), qos: -1, id: -1, code: -1}
	switch decode.Type(m.typ) {
	case decode.CONNECT:
		if s := collect(msg, "mqtt.clientid"); len(s) > 0 {
			m.clientID = s[0]
		}
		m.hasUser = first(msg, "mqtt.conflag.uname", 0) == 1
		if s := collect(msg, "mqtt.username"); len(s) > 0 {
			m.username = s[0]
		}
	case decode.CONNACK:
		m.code = first(msg, "mqtt.conack.val", first(msg, "mqtt.connack.reason_code", -1))
	case decode.PUBLISH:
		m.topics = collect(msg, "mqtt.topic")
		m.qos = first(msg, "mqtt.qos", -1)
		m.id = first(msg, "mqtt.msgid", -1)
	case decode.PUBACK, decode.PUBREC, decode.PUBREL, decode.PUBCOMP:
		m.id = first(msg, "mqtt.msgid", -1)
		m.codes = ints(collect(msg, "mqtt.puback.reason_code"))
	case decode.SUBSCRIBE, decode.UNSUBSCRIBE:
		m.id = first(msg, "mqtt.msgid", -1)
		m.topics = collect(msg, "mqtt.topic")
	case decode.SUBACK:
		m.id = first(msg, "mqtt.msgid", -1)
		m.codes = ints(append(collect(msg, "mqtt.suback.qos"), collect(msg, "mqtt.suback.reason_code")...))
	case decode.UNSUBACK:
		m.id = first(msg, "mqtt.msgid", -1)
		m.codes = ints(collect(msg, "mqtt.unsuback.reason_code"))
	}
	return m.String()
}

// ourMessages replays path and returns one line per MQTT control packet
// (decoded, or malformed as framed) and the server ports seen.
func ourMessages(t *testing.T, path string) ([]string, []uint16) {
	var msgs []string
	var ports []uint16
	type key struct {
		seq  uint64
		from bool
		typ  decode.Type
		n    int
	}
	var last key
	h := event.HandlerFunc(func(ev *event.Event) {
		switch ev.Kind {
		case event.TCPOpen:
			if p := ev.Flow.Server.Port(); !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		case event.MQTT, event.Malformed:
			if ev.Packet == nil {
				return
			}
			k := key{ev.Seq, ev.FromClient, ev.Packet.Type, ev.Packet.Len}
			if ev.Kind == event.Malformed && k == last {
				return // a Validate finding on the packet just counted
			}
			last = k
			msgs = append(msgs, fromPacket(ev.Packet))
		}
	})
	p, err := New(Options{}, h)
	if err != nil {
		t.Fatal(err)
	}
	p.ReplayFile(context.Background(), path)
	p.Flush()
	return msgs, ports
}

func tsharkMessages(t *testing.T, path string, ports []uint16) []string {
	// tshark's defaults: with tcp.reassemble_out_of_order it would match
	// ooo.pcap but then waits forever at every hole (gap.pcap and the
	// corpus' missing-connect lose the rest of the stream).
	args := []string{"-r", path, "-T", "json", "--no-duplicate-keys", "-Y", "mqtt", "-J", "mqtt"}
	for _, p := range ports {
		if p != 1883 {
			args = append(args, "-d", fmt.Sprintf("tcp.port==%d,mqtt", p))
		}
	}
	var out bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stdout = &out
	cmd.Run() // a truncated capture makes tshark exit 2 after the frames it read
	var frames []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out.Bytes(), &frames); err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var msgs []string
	for _, f := range frames {
		switch m := f.Source.Layers["mqtt"].(type) {
		case map[string]any:
			msgs = append(msgs, fromTshark(m))
		case []any:
			for _, x := range m {
				if mm, ok := x.(map[string]any); ok {
					msgs = append(msgs, fromTshark(mm))
				}
			}
		}
	}
	return msgs
}

// TestDifferentialTshark compares every MQTT message tshark decodes with
// ours, in order, on every committed capture and the shared corpus.
func TestDifferentialTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	if testing.Short() {
		t.Skip("slow: runs tshark on every capture")
	}
	seen := map[string]bool{}
	var files, compared int
	for _, path := range testCaptures(t) {
		if strings.HasSuffix(path, ".events") {
			continue
		}
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			ours, ports := ourMessages(t, path)
			theirs := tsharkMessages(t, path, ports)
			files++
			compared += len(theirs)
			base := filepath.Base(path)
			n := max(len(ours), len(theirs))
			for i := 0; i < n; i++ {
				var a, b string
				if i < len(ours) {
					a = ours[i]
				}
				if i < len(theirs) {
					b = theirs[i]
				}
				if a == b {
					continue
				}
				k := fmt.Sprintf("%s#%d", base, i)
				if d, ok := knownDisagreements[k]; ok && d.ours == a && d.tshark == b {
					seen[k] = true
					t.Logf("known disagreement %s: ours %q, tshark %q: %s", k, a, b, d.reason)
					continue
				}
				t.Errorf("message %d: ours %q, tshark %q", i, a, b)
			}
		})
	}
	t.Logf("%d captures, %d MQTT messages compared with tshark, %d known disagreements", files, compared, len(seen))
	for k := range knownDisagreements {
		if !seen[k] {
			t.Errorf("known disagreement %s did not occur: remove it from the table", k)
		}
	}
}
