package detect

// MatchForTest subscribes one subscriber to filters on a fresh broker and
// matches topic.
func MatchForTest(filters []string, topic string) bool {
	b := newBroker(0)
	for _, f := range filters {
		b.subscribe("s", []byte(f), 100)
	}
	return b.matches([]byte(topic))
}
