// Package detect keeps per-client behaviour counters for MQTT intrusion
// detection. It consumes capture's events (event.Handler), in packet order,
// on one goroutine, and reports every key whose counters an event changed
// to an Observer (the rules engine), which reads counter values through the
// Observation.
//
// It owns four capped tables with LRU eviction — source address, client id,
// user name, connection — plus password hashes (for spraying) and, per
// broker host, a shadow subscription table and the topics the broker was
// seen delivering (for undeliverable publishes). Counters are kept over
// three sliding windows (30 s, 5 min, 30 min), each estimated from two
// buckets; distinct counts are exact up to 7 and then linear-counting
// bitmaps, 16 bytes either way; publish baselines are EWMAs. Counter storage is allocated per group on first use,
// so a spoofed source that only sends a SYN costs a few hundred bytes.
// Timers (no CONNECT after the handshake, only PINGREQ after CONNECT,
// waiting for the broker to forward a publish) are FIFO queues on packet
// time: each class has a constant delay, so a queue per class is an exact
// timer wheel. Nothing reads the wall clock: a replay and a live run give
// the same counts, and Flush(now) fires what is due at the end of input.
//
// The one gotcha: an *event.Event and its packet's byte slices are only
// valid during Handle, and an *Observation only during Observe. Strings the
// tables keep (client ids, user names) are copied once, when the key is
// first seen; everything else is hashed, so the common path — a PUBLISH on
// a known connection — allocates nothing. Passwords are never stored: a
// per-run keyed hash of the password is used as a table key and never
// output.
package detect
