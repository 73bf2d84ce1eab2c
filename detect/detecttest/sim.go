package detecttest

import (
	"net/netip"
	"time"

	"mqttids/decode"
	"mqttids/event"
	"mqttids/session"
)

// Sim feeds synthetic events to a Handler. Its clock only moves when told.
type Sim struct {
	H      event.Handler
	Now    time.Time
	Server netip.AddrPort
	// Version used by Dial's clients (default 4, MQTT 3.1.1).
	Version uint8

	seq   uint64
	port  uint16
	ev    event.Event
	pkt   decode.Packet
	filt  []decode.Filter
	codes []byte
}

// New returns a Sim sending to h, starting at a fixed time, with the broker
// at 10.0.0.1:1883.
func New(h event.Handler) *Sim {
	return &Sim{
		H:       h,
		Now:     time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Server:  netip.MustParseAddrPort("10.0.0.1:1883"),
		Version: decode.V311,
		port:    40000,
	}
}

// Advance moves the clock.
func (s *Sim) Advance(d time.Duration) { s.Now = s.Now.Add(d) }

// Client is one TCP connection of the simulation.
type Client struct {
	s     *Sim
	Flow  event.Flow
	Conn  event.Conn
	pid   uint16
	disc  bool
	alias [2]session.Aliases
}

// Dial opens a TCP connection from ip (a new ephemeral port each time;
// port 8883 connections are TLS).
func (s *Sim) Dial(ip string) *Client {
	return s.DialTo(ip, s.Server)
}

// DialTo opens a TCP connection from ip to server.
func (s *Sim) DialTo(ip string, server netip.AddrPort) *Client {
	s.port++
	if s.port < 1024 {
		s.port = 1024
	}
	s.seq++
	c := &Client{s: s, Flow: event.Flow{
		Client: netip.AddrPortFrom(netip.MustParseAddr(ip), s.port),
		Server: server,
	}}
	c.Conn.ID = s.seq
	c.Conn.TLS = server.Port() == 8883
	return c.open()
}

func (s *Sim) emit(c *Client, k event.Kind, fromClient bool) *event.Event {
	s.seq++
	s.ev = event.Event{Kind: k, Time: s.Now, Flow: c.Flow, FromClient: fromClient, Conn: &c.Conn, Seq: s.seq}
	return &s.ev
}

func (c *Client) packet(t decode.Type, fromClient bool) *decode.Packet {
	p := &c.s.pkt
	f, codes, props := p.Filters[:0], p.ReasonCodes[:0], p.Props[:0]
	*p = decode.Packet{Type: t, Version: c.Conn.Version, Filters: f, ReasonCodes: codes, Props: props}
	if p.Version == 0 {
		p.Version = c.s.Version
	}
	p.Len = 2
	return p
}

func (c *Client) send(p *decode.Packet, fromClient bool) {
	ev := c.s.emit(c, event.MQTT, fromClient)
	ev.Packet = p
	if p.Type == decode.PUBLISH {
		// What the session layer does: v5 topic aliases resolved.
		d := 0
		if !fromClient {
			d = 1
		}
		ev.Topic, ev.TopicKnown = c.alias[d].Resolve(p)
	}
	c.s.H.Handle(ev)
}

func (c *Client) open() *Client {
	ev := c.s.emit(c, event.TCPOpen, true)
	c.s.H.Handle(ev)
	if c.Conn.TLS {
		ev = c.s.emit(c, event.TLS, true)
		c.s.H.Handle(ev)
	}
	return c
}

// Connect sends CONNECT. An empty password means none.
func (c *Client) Connect(clientID, username, password string, keepAlive uint16) *Client {
	if c.Conn.Version == 0 {
		c.Conn.Version = c.s.Version
	}
	c.Conn.ConnectSeen = true
	c.Conn.ClientID, c.Conn.Username = clientID, username
	c.Conn.HasPassword = password != ""
	c.Conn.KeepAlive = keepAlive
	p := c.packet(decode.CONNECT, true)
	p.ProtocolLevel = c.Conn.Version
	p.ProtocolName = []byte("MQTT")
	p.ConnectFlags = 0x02
	p.KeepAlive = keepAlive
	p.ClientID = []byte(clientID)
	if username != "" {
		p.ConnectFlags |= 0x80
		p.Username = []byte(username)
	}
	if password != "" {
		p.ConnectFlags |= 0x40
		p.Password = []byte(password)
	}
	p.Len = 14 + len(clientID) + len(username) + len(password)
	c.send(p, true)
	return c
}

// Connack sends the server's CONNACK with code (v3 return code or v5
// reason code).
func (c *Client) Connack(code uint8) *Client {
	p := c.packet(decode.CONNACK, false)
	p.ReasonCode = code
	p.Len = 4
	c.send(p, false)
	return c
}

// Publish sends a PUBLISH of payloadLen bytes. For QoS > 0 it returns the
// packet id used.
func (c *Client) Publish(topic string, payloadLen int, qos uint8) uint16 {
	p := c.packet(decode.PUBLISH, true)
	p.Flags = qos << 1
	p.Topic = []byte(topic)
	if qos > 0 {
		c.pid++
		p.PacketID = c.pid
	}
	p.Len = 2 + 2 + len(topic) + payloadLen
	if qos > 0 {
		p.Len += 2
	}
	c.send(p, true)
	return p.PacketID
}

// PublishBytes is Publish with a caller's topic slice (no allocation).
func (c *Client) PublishBytes(topic []byte, payloadLen int) {
	p := c.packet(decode.PUBLISH, true)
	p.Topic = topic
	p.Len = 4 + len(topic) + payloadLen
	c.send(p, true)
}

// PublishAlias sends a v5 QoS 0 PUBLISH with a Topic Alias property;
// an empty topic uses the alias alone.
func (c *Client) PublishAlias(topic string, alias uint16) {
	p := c.packet(decode.PUBLISH, true)
	p.Topic = []byte(topic)
	p.Props = append(p.Props[:0], decode.Property{ID: 0x23, Int: uint32(alias)})
	p.Len = 8 + len(topic)
	c.send(p, true)
}

// PublishRetained sends a retained QoS 0 PUBLISH.
func (c *Client) PublishRetained(topic string, payloadLen int) {
	p := c.packet(decode.PUBLISH, true)
	p.Flags = 1
	p.Topic = []byte(topic)
	p.Len = 4 + len(topic) + payloadLen
	c.send(p, true)
}

// Deliver sends a PUBLISH from the broker to this client.
func (c *Client) Deliver(topic string, payloadLen int) {
	p := c.packet(decode.PUBLISH, false)
	p.Topic = []byte(topic)
	p.Len = 4 + len(topic) + payloadLen
	c.send(p, false)
}

// Ack sends the broker's PUBACK (or PUBREC for QoS 2) with a reason code.
func (c *Client) Ack(pid uint16, qos, code uint8) {
	t := decode.PUBACK
	if qos == 2 {
		t = decode.PUBREC
	}
	p := c.packet(t, false)
	p.PacketID = pid
	p.ReasonCode = code
	p.Len = 4
	c.send(p, false)
}

// Subscribe sends SUBSCRIBE for the filters (QoS 0) and the broker's SUBACK.
func (c *Client) Subscribe(filters ...string) {
	p := c.packet(decode.SUBSCRIBE, true)
	p.Flags = 2
	c.pid++
	p.PacketID = c.pid
	for _, f := range filters {
		p.Filters = append(p.Filters, decode.Filter{Topic: []byte(f)})
		p.Len += 3 + len(f)
	}
	c.send(p, true)
	a := c.packet(decode.SUBACK, false)
	a.PacketID = c.pid
	for range filters {
		a.ReasonCodes = append(a.ReasonCodes, 0)
	}
	c.send(a, false)
}

// Unsubscribe sends UNSUBSCRIBE.
func (c *Client) Unsubscribe(filters ...string) {
	p := c.packet(decode.UNSUBSCRIBE, true)
	p.Flags = 2
	c.pid++
	p.PacketID = c.pid
	for _, f := range filters {
		p.Filters = append(p.Filters, decode.Filter{Topic: []byte(f)})
	}
	c.send(p, true)
}

// Ping sends PINGREQ and the broker's PINGRESP.
func (c *Client) Ping() {
	c.send(c.packet(decode.PINGREQ, true), true)
	c.send(c.packet(decode.PINGRESP, false), false)
}

// Disconnect sends the client's DISCONNECT.
func (c *Client) Disconnect() *Client {
	c.disc = true
	c.send(c.packet(decode.DISCONNECT, true), true)
	return c
}

// ServerDisconnect sends a v5 DISCONNECT from the broker.
func (c *Client) ServerDisconnect(code uint8) {
	p := c.packet(decode.DISCONNECT, false)
	p.ReasonCode = code
	c.send(p, false)
}

// Malformed sends a Malformed event naming rule.
func (c *Client) Malformed(rule string) {
	ev := c.s.emit(c, event.Malformed, true)
	ev.Err = &decode.MalformedError{Field: "test", Rule: rule, Err: decode.ErrMalformed}
	c.s.H.Handle(ev)
}

// Close ends the TCP connection.
func (c *Client) Close(why event.CloseReason) {
	ev := c.s.emit(c, event.TCPClose, !c.disc)
	ev.Close = why
	ev.DisconnectSeen = c.disc
	c.s.H.Handle(ev)
}

// Session is a whole well-behaved connection: open, CONNECT, CONNACK 0.
func (s *Sim) Session(ip, clientID, username, password string) *Client {
	c := s.Dial(ip)
	c.Connect(clientID, username, password, 60)
	c.Connack(0)
	return c
}
