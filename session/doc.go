// Package session is the application layer of a tracked connection: it
// turns the in-order bytes capture reassembles into MQTT events. capture
// moves bytes and flows (link layer, IP, TCP, reassembly, the flow table);
// session owns what a connection means above TCP.
//
// The split follows Suricata's rust/src/mqtt: decode is the parser (no
// state), session the per-flow state (this package), detect the
// behavioural detection and capture/json.go and alerts the loggers.
//
// What it owns, per connection (State): the two directions' decode.Framer,
// the connection facts every event carries (event.Conn: id, version —
// from CONNECT or inferred mid-stream —, client id, username, keep
// alive; strings made once per connection), the v5 topic aliases of each
// direction (a PUBLISH event carries its topic with the alias resolved,
// event.Event.Topic) and whether the client sent DISCONNECT. detect keeps
// only detection state per connection (its counters, refs into its
// tables, pending checks). Per worker (Layer): the framer pool, the one decoded packet,
// and the counters of CONNECTs, packets by type and malformed packets by
// rule. Validation (decode.Validate) runs here, after decoding, and every
// violation is a Malformed event: for an IDS a violation is a signal, not a
// stop.
//
// Where the next protocols go: MQTT over TLS (issue 13) as tls.go — a
// record-layer session beside MQTT in State, fed the same bytes, emitting
// handshake events and, for NULL ciphers, plaintext to the MQTT framer —
// and MQTT over WebSocket (issue 14) as websocket.go — an HTTP Upgrade and
// RFC 6455 frame session whose unmasked binary payload feeds the same MQTT
// framer. capture decides which session a connection starts with, from
// its ports (capture.Plan) or from a recogniser here (LooksLikeConnect
// today; a ClientHello with ALPN mqtt or an HTTP Upgrade next); the
// session layer may switch it (an Upgrade seen).
//
// The one gotcha: lifetimes. An event handed to the Emitter, its Packet and
// its Err point into the framer and the Layer's reused packet: they are
// valid only during the Emit call. Layer and State are used by one
// goroutine at a time (the capture worker that owns the flow).
package session
