package decode_test

import (
	"errors"
	"fmt"

	"mqttids/decode"
)

// One direction of a TCP stream, fed segment by segment.
func ExampleFramer() {
	stream := []byte{
		0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 3, 'z', 'e', 'n', // CONNECT
		0x30, 10, 0, 3, 'a', '/', 'b', 'h', 'e', 'l', 'l', 'o', // PUBLISH a/b "hello"
		0xC0, 0, // PINGREQ
	}
	f := decode.NewFramer(decode.FramerOptions{})
	var p decode.Packet
	for _, seg := range [][]byte{stream[:20], stream[20:]} {
		f.Feed(seg)
		for {
			err := f.Next(&p)
			if errors.Is(err, decode.ErrShortBuffer) {
				break // all of seg is consumed or buffered
			}
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			fmt.Println(p.Type, p.Version, string(p.ClientID)+string(p.Topic), decode.Validate(&p, nil))
		}
	}
	// Output:
	// CONNECT 4 zen 0
	// PUBLISH 4 a/b 0
	// PINGREQ 4  0
}

func ExampleValidate() {
	var d decode.Decoder
	var p decode.Packet
	// PUBLISH at QoS 3 with a wildcard in its topic.
	d.Decode([]byte{0x36, 5, 0, 1, '#', 0, 1}, &p)
	n := decode.Validate(&p, func(v *decode.MalformedError) {
		fmt.Println(v.Rule, v.Field, v.Err)
	})
	fmt.Println(n, "violations")
	// Output:
	// MQTT-3.3.1-4 fixed header flags qos 3
	// MQTT-3.3.2-2 topic wildcard in topic name
	// 2 violations
}
