package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// This file writes MQTT packets byte by byte. Attack tools do that too, and
// it is the only way to put protocol violations on the wire: paho and
// libmosquitto refuse to encode them.

// MQTT control packet types (high nibble of the fixed header).
const (
	typeCONNECT     = 1
	typeCONNACK     = 2
	typePUBLISH     = 3
	typePUBACK      = 4
	typeSUBSCRIBE   = 8
	typeSUBACK      = 9
	typePINGREQ     = 12
	typePINGRESP    = 13
	typeDISCONNECT  = 14
	typeAUTH        = 15
	protocolV311    = 4
	protocolV5      = 5
	connackRefused5 = 5    // v3.1.1 "not authorised"
	reasonBadAuth   = 0x87 // v5 "not authorized"
	reasonNoSubs    = 0x10 // v5 PUBACK "no matching subscribers"
)

func appendVBI(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendStr(b []byte, s string) []byte {
	b = appendU16(b, uint16(len(s)))
	return append(b, s...)
}

// frame prefixes body with a fixed header whose remaining length is len(body).
func frame(first byte, body []byte) []byte {
	b := appendVBI([]byte{first}, len(body))
	return append(b, body...)
}

// connectOpts describes a CONNECT. Zero values give a v3.1.1 clean session
// with keep-alive 60 s and no credentials.
type connectOpts struct {
	version   byte // 4 (default) or 5
	protoName string
	clientID  string
	username  string
	password  string
	keepAlive uint16
	flags     byte // extra bits OR-ed into the connect flags (for reserved-bit violations)
	props     []byte
}

func connectPacket(o connectOpts) []byte {
	if o.version == 0 {
		o.version = protocolV311
	}
	if o.protoName == "" {
		o.protoName = "MQTT"
	}
	if o.keepAlive == 0 {
		o.keepAlive = 60
	}
	flags := byte(0x02) | o.flags // clean session
	if o.username != "" {
		flags |= 0x80
	}
	if o.password != "" {
		flags |= 0x40
	}
	b := appendStr(nil, o.protoName)
	b = append(b, o.version, flags)
	b = appendU16(b, o.keepAlive)
	if o.version == protocolV5 {
		b = appendVBI(b, len(o.props))
		b = append(b, o.props...)
	}
	b = appendStr(b, o.clientID)
	if o.username != "" {
		b = appendStr(b, o.username)
	}
	if o.password != "" {
		b = appendStr(b, o.password)
	}
	return frame(typeCONNECT<<4, b)
}

func publishPacket(version byte, topic string, qos byte, id uint16, payload []byte) []byte {
	b := appendStr(nil, topic)
	if qos > 0 {
		b = appendU16(b, id)
	}
	if version == protocolV5 {
		b = append(b, 0) // no properties
	}
	b = append(b, payload...)
	return frame(typePUBLISH<<4|qos<<1, b)
}

func subscribePacket(version byte, id uint16, filters ...string) []byte {
	b := appendU16(nil, id)
	if version == protocolV5 {
		b = append(b, 0)
	}
	for _, f := range filters {
		b = appendStr(b, f)
		b = append(b, 0)
	}
	return frame(typeSUBSCRIBE<<4|0x02, b)
}

var (
	pingreqPacket    = []byte{typePINGREQ << 4, 0}
	disconnectPacket = []byte{typeDISCONNECT << 4, 0}
)

// rawConn is a TCP connection to the broker driven packet by packet.
type rawConn struct {
	c *net.TCPConn
	r *bufio.Reader
}

func dialRaw(ctx context.Context, src, broker string) (*rawConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", broker, src, err)
	}
	tc := c.(*net.TCPConn)
	return &rawConn{c: tc, r: bufio.NewReader(tc)}, nil
}

func (rc *rawConn) write(b []byte) error {
	if err := rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err := rc.c.Write(b)
	return err
}

// read returns the next packet's first byte and body, waiting at most d.
func (rc *rawConn) read(d time.Duration) (byte, []byte, error) {
	if err := rc.c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, nil, err
	}
	first, err := rc.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		d, err := rc.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("read packet: remaining length over 4 bytes")
		}
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("read packet: remaining length %d too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return 0, nil, err
	}
	return first, body, nil
}

// connect sends CONNECT and returns the CONNACK code (v3 return code or v5
// reason code).
func (rc *rawConn) connect(o connectOpts) (byte, error) {
	if err := rc.write(connectPacket(o)); err != nil {
		return 0, fmt.Errorf("write connect: %w", err)
	}
	first, body, err := rc.read(5 * time.Second)
	if err != nil {
		return 0, fmt.Errorf("read connack: %w", err)
	}
	if first>>4 != typeCONNACK || len(body) < 2 {
		return 0, fmt.Errorf("read connack: got packet type %d", first>>4)
	}
	return body[1], nil
}

// drain reads and discards packets until the broker closes or d passes.
func (rc *rawConn) drain(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, _, err := rc.read(time.Until(end)); err != nil {
			return
		}
	}
}

// closeClean sends DISCONNECT and closes with FIN.
func (rc *rawConn) closeClean() {
	_ = rc.write(disconnectPacket)
	_ = rc.c.Close()
}

// reset closes with RST: SO_LINGER 0 discards unsent data and aborts.
func (rc *rawConn) reset() {
	_ = rc.c.SetLinger(0)
	_ = rc.c.Close()
}
