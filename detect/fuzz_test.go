package detect_test

import (
	"fmt"
	"testing"
	"time"

	"mqttids/detect"
	"mqttids/detect/detecttest"
	"mqttids/event"
)

// FuzzHandle drives a small-capped Detector with an arbitrary sequence of
// connection events: it must never panic, and the caps must hold.
func FuzzHandle(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb})
	f.Add([]byte("\x00\x01\x02\x03\x0f\x0f\x0f\x0f\x00\x11\x12\x13\x1e\x1e"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4096 {
			ops = ops[:4096]
		}
		d := detect.New(detect.Options{MaxSources: 4, MaxClientIDs: 3, MaxUsernames: 2, MaxConns: 5,
			MaxPasswords: 2, MaxTimers: 8, MaxSubscriptions: 6, MaxDelivered: 4, MaxBrokers: 2}, &countObs{})
		s := detecttest.New(d)
		var cs [8]*detecttest.Client
		filters := []string{"#", "a/+", "$SYS/#", "$share/g/a/#", "a/b", "+/+", "a/b/#", ""}
		topics := []string{"a/b", "a", "$SYS/x", "a/b/c", "", "b/a"}
		for _, op := range ops {
			i := int(op>>4) & 7
			c := cs[i]
			if c == nil && op&15 != 0 {
				continue
			}
			switch op & 15 {
			case 0:
				ip := fmt.Sprintf("10.9.0.%d", op>>4)
				if op&0x80 != 0 {
					cs[i] = s.DialTo(ip, s.Server)
				} else {
					cs[i] = s.Dial(ip)
				}
			case 1:
				c.Connect(fmt.Sprintf("c%d", op>>5), fmt.Sprintf("u%d", op>>6), fmt.Sprintf("p%d", op>>7), uint16(op)*300)
			case 2:
				c.Connack(op >> 4)
			case 3:
				c.Connack(0x80 | op>>4)
			case 4:
				c.Publish(topics[int(op>>4)%len(topics)], int(op), op>>6)
			case 5:
				c.Subscribe(filters[int(op>>4)%len(filters)])
			case 6:
				c.Unsubscribe(filters[int(op>>4)%len(filters)])
			case 7:
				c.Deliver(topics[int(op>>4)%len(topics)], 3)
			case 8:
				c.Ack(uint16(op>>4), 1, 0x10)
			case 9:
				c.Ping()
			case 10:
				c.Disconnect()
			case 11:
				c.ServerDisconnect(0x8E)
			case 12:
				c.Malformed("MQTT-x")
			case 13:
				c.Close(event.CloseReason(op>>4)%5 + 1)
				cs[i] = nil
			case 14:
				s.Advance(time.Duration(op>>4) * 3 * time.Second)
			case 15:
				c.PublishAlias(topics[int(op>>4)%len(topics)], uint16(op>>6))
			}
		}
		d.Flush(s.Now.Add(time.Hour))
		st := d.Stats()
		if st.Sources > 4 || st.ClientIDs > 3 || st.Usernames > 2 || st.Conns > 5 || st.Passwords > 2 {
			t.Fatalf("caps exceeded: %+v", st)
		}
	})
}
