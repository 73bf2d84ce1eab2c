// Package decode is mqttids' MQTT codec: it cuts TCP byte streams into
// control packets and decodes MQTT 3.1 (protocol name "MQIsdp", level 3),
// 3.1.1 (level 4) and 5.0 (level 5) packets of all fifteen types into a
// reused Packet, without I/O, goroutines or per-packet allocations.
//
// It owns three steps, kept apart because for an intrusion detector a
// protocol violation is a signal to report, not a reason to stop:
//
//   - Framer turns one direction of a TCP stream (Feed, Gap) into packets
//     (Next): zero copy while packets arrive whole, a bounded buffer for a
//     packet split across segments, oversized packets skipped across
//     segments without being buffered, resynchronisation on the next
//     plausible fixed header after a gap or when a capture starts
//     mid-stream, and inference of the protocol version when the CONNECT
//     was not seen.
//     A capture that saw the TCP handshake calls StartOfStream so that a
//     garbled first packet is reported instead of skipped.
//   - Decoder.Decode decodes one packet's layout. It tells apart three
//     outcomes: ErrShortBuffer (need more bytes), *MalformedError
//     (errors.Is ErrMalformed: the layout is broken, but the packet's
//     length is known so the stream continues) and *TooLargeError.
//   - Validate checks a decoded packet against the rest of the
//     specification and reports every violation, each naming its
//     conformance rule (MalformedError.Rule, MQTT 5.0 numbering; see the
//     Rule constants). Neither Decode nor Framer.Next calls it: callers
//     that want reserved flags, UTF-8, packet ids, reason codes and
//     property checks call it on each packet (it allocates nothing for a
//     clean packet).
//
// Append encodes a Packet; tests use it for round trips.
//
// The one gotcha: everything is a view. The byte slices of a Packet point
// into the buffer it was decoded from (for a Framer: valid until the next
// Feed, Gap or Next), and the *MalformedError / *TooLargeError values that
// Decode and Next return live inside the Decoder or Framer and are
// overwritten by its next call. Copy what you keep.
package decode
