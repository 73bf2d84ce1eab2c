package main

import (
	"context"
	"time"
)

// malformedCase is one protocol violation, sent on its own connection.
// When afterConnect is set a valid v3.1.1 CONNECT goes first so the broker
// and the sensor are in the connected state when the bad bytes arrive.
type malformedCase struct {
	name         string
	rule         string // the spec rule broken
	afterConnect bool
	bytes        []byte
}

func malformedCases() []malformedCase {
	valid := connectPacket(connectOpts{clientID: "fuzz-ok", username: accMallory.user, password: accMallory.pass})

	badProto := connectPacket(connectOpts{protoName: "MQTX", clientID: "fuzz-proto"})
	reservedConnFlag := connectPacket(connectOpts{clientID: "fuzz-flag", flags: 0x01})
	badV5Prop := connectPacket(connectOpts{version: protocolV5, clientID: "fuzz-prop", props: []byte{0x7f, 0x00}})

	// CONNECT whose client identifier claims 200 bytes but the packet ends after 3.
	truncID := appendStr(nil, "MQTT")
	truncID = append(truncID, protocolV311, 0x02, 0, 60, 0, 200, 'a', 'b', 'c')

	// CONNECT announcing 60 bytes of which only the first 12 are ever sent.
	short := append([]byte{typeCONNECT << 4, 60}, appendStr(nil, "MQTT")...)
	short = append(short, protocolV311, 0x02, 0, 60, 0, 5)

	qos3 := publishPacket(protocolV311, "plant/line1/temp", 0, 0, []byte("x"))
	qos3[0] |= 0x06

	wildcardTopic := publishPacket(protocolV311, "plant/#", 0, 0, []byte("x"))

	subNoFlags := subscribePacket(protocolV311, 1, "plant/+/temp")
	subNoFlags[0] = typeSUBSCRIBE << 4

	return []malformedCase{
		{name: "remaining length over 4 bytes", rule: "MQTT-1.5.5", bytes: []byte{typeCONNECT << 4, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "wrong protocol name", rule: "MQTT-3.1.2-1", bytes: badProto},
		{name: "reserved connect flag set", rule: "MQTT-3.1.2-3", bytes: reservedConnFlag},
		{name: "reserved fixed-header flags on CONNECT", rule: "MQTT-2.2.2-2", bytes: frame(typeCONNECT<<4|0x02, connectPacket(connectOpts{clientID: "fuzz-hdr"})[2:])},
		{name: "unknown v5 property", rule: "MQTT-2.2.2 (v5)", bytes: badV5Prop},
		{name: "string longer than packet", rule: "MQTT-1.5.3", bytes: frame(typeCONNECT<<4, truncID)},
		{name: "truncated packet then close", rule: "MQTT-2.2.3", bytes: short},
		{name: "reserved packet type 0", rule: "MQTT-2.2.1", afterConnect: true, bytes: []byte{0x00, 0x00}},
		{name: "packet type 15 in v3.1.1", rule: "MQTT-2.2.1", afterConnect: true, bytes: []byte{typeAUTH << 4, 0x00}},
		{name: "PUBLISH with QoS 3", rule: "MQTT-3.3.1-4", afterConnect: true, bytes: qos3},
		{name: "SUBSCRIBE with flags 0000", rule: "MQTT-3.8.1-1", afterConnect: true, bytes: subNoFlags},
		{name: "PINGREQ with flags", rule: "MQTT-2.2.2-2", afterConnect: true, bytes: []byte{typePINGREQ<<4 | 0x03, 0x00}},
		{name: "wildcard in PUBLISH topic", rule: "MQTT-3.3.2-2", afterConnect: true, bytes: wildcardTopic},
		{name: "second CONNECT", rule: "MQTT-3.1.0-2", afterConnect: true, bytes: valid},
		{name: "PUBLISH with remaining length 0", rule: "MQTT-3.3.2-1", afterConnect: true, bytes: []byte{typePUBLISH << 4, 0x00}},
	}
}

// attackMalformed sends every malformed case rounds times, each on a new
// connection, then lets the broker close it.
func attackMalformed(src string, rounds int, pace time.Duration) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		valid := connectOpts{clientID: "fuzz-ok", username: accMallory.user, password: accMallory.pass}
		sent := 0
		for range rounds {
			for _, mc := range malformedCases() {
				rc, err := dialRaw(ctx, src, e.broker)
				if err != nil {
					return err
				}
				if mc.afterConnect {
					if code, err := rc.connect(valid); err != nil || code != 0 {
						e.logf("malformed %s: connect code %d: %v", mc.name, code, err)
						rc.reset()
						continue
					}
				}
				if err := rc.write(mc.bytes); err != nil {
					e.logf("malformed %s: %v", mc.name, err)
				}
				rc.drain(time.Second)
				_ = rc.c.Close()
				sent++
				if !sleepCtx(ctx, pace) {
					return nil
				}
			}
		}
		e.logf("%s: %d malformed connections", src, sent)
		return nil
	}
}
