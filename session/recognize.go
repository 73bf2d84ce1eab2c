package session

// LooksLikeConnect reports whether b, the first payload of a client
// stream, starts with an MQTT CONNECT fixed header followed by the
// protocol name "MQTT" or "MQIsdp": capture uses it to start an MQTT
// session on a port that is not configured. The recognisers of the next
// sessions (a TLS ClientHello with ALPN mqtt, an HTTP Upgrade to an MQTT
// WebSocket subprotocol) belong beside it.
func LooksLikeConnect(b []byte) bool {
	if len(b) < 2 || b[0] != 0x10 {
		return false
	}
	i := 1
	for ; i < 5 && i < len(b) && b[i]&0x80 != 0; i++ {
	}
	i++
	if len(b) < i+8 {
		return false
	}
	switch {
	case b[i] == 0 && b[i+1] == 4 && string(b[i+2:i+6]) == "MQTT":
		return true
	case len(b) >= i+8 && b[i] == 0 && b[i+1] == 6 && string(b[i+2:i+8]) == "MQIsdp":
		return true
	}
	return false
}
