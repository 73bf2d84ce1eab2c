package rules

// Env is what a rule condition sees: every counter of the key over the
// rule's window, plus the rule's own threshold and window and what is known
// of the connection. A test keeps it in step with detect's counter list.
type Env struct {
	TCPOpens              float64 `expr:"tcp_opens"`
	Connects              float64 `expr:"connects"`
	UnexpectedSource      float64 `expr:"unexpected_source"`
	IdleNoConnect         float64 `expr:"idle_no_connect"`
	PingOnly              float64 `expr:"ping_only"`
	IdleConns             float64 `expr:"idle_conns"`
	KeepAliveHigh         float64 `expr:"keepalive_high"`
	CleartextCredentials  float64 `expr:"cleartext_credentials"`
	CleartextLogins       float64 `expr:"cleartext_logins"`
	Malformed             float64 `expr:"malformed"`
	AbnormalCloses        float64 `expr:"abnormal_closes"`
	ClosesRST             float64 `expr:"closes_rst"`
	ClosesFIN             float64 `expr:"closes_fin"`
	ClosesTimeout         float64 `expr:"closes_timeout"`
	AuthFailures          float64 `expr:"auth_failures"`
	ConnackRefusals       float64 `expr:"connack_refusals"`
	RefusedBadCredentials float64 `expr:"refused_bad_credentials"`
	RefusedNotAuthorized  float64 `expr:"refused_not_authorized"`
	RefusedBadAuthMethod  float64 `expr:"refused_bad_auth_method"`
	Takeovers             float64 `expr:"takeovers"`
	DistinctUsernames     float64 `expr:"distinct_usernames"`
	DistinctClientIDs     float64 `expr:"distinct_client_ids"`
	DistinctSources       float64 `expr:"distinct_sources"`
	Publishes             float64 `expr:"publishes"`
	PublishBytes          float64 `expr:"publish_bytes"`
	Subscribes            float64 `expr:"subscribes"`
	WildcardSubs          float64 `expr:"wildcard_subs"`
	RootWildcardSubs      float64 `expr:"root_wildcard_subs"`
	SysSubs               float64 `expr:"sys_subs"`
	Undeliverable         float64 `expr:"undeliverable"`
	DistinctTopics        float64 `expr:"distinct_topics"`
	DistinctFilters       float64 `expr:"distinct_filters"`
	UndeliverableTopics   float64 `expr:"undeliverable_topics"`
	SprayUsernames        float64 `expr:"spray_usernames"`
	OpenConnections       float64 `expr:"open_connections"`
	PublishBaseline       float64 `expr:"publish_baseline"`
	PublishBytesBaseline  float64 `expr:"publish_bytes_baseline"`
	PublishRate           float64 `expr:"publish_rate"`
	PublishBytesRate      float64 `expr:"publish_bytes_rate"`
	PeerPublishP50        float64 `expr:"peer_publish_p50"`
	PeerPublishP99        float64 `expr:"peer_publish_p99"`
	PeerPublishBytesP50   float64 `expr:"peer_publish_bytes_p50"`
	PeerPublishBytesP99   float64 `expr:"peer_publish_bytes_p99"`
	OpenSessions          float64 `expr:"open_sessions"`
	SilentSessions        float64 `expr:"silent_sessions"`
	Preexisting           float64 `expr:"preexisting"`
	Evictions             float64 `expr:"evictions"`

	Threshold     float64 `expr:"threshold"`        // the rule's threshold
	WindowS       float64 `expr:"window_s"`         // the rule's window in seconds
	Version       float64 `expr:"protocol_version"` // 3, 4, 5 or 0 when unknown
	ClientID      string  `expr:"client_id"`
	Username      string  `expr:"username"`
	MalformedRule string  `expr:"malformed_rule"` // spec rule of the malformed packet, when malformed changed

	// The connection whose event triggered the evaluation (addresses as
	// text, "" when unknown; broker is the server side, like dest_ip).
	SrcIP    string  `expr:"src_ip"`
	DestIP   string  `expr:"dest_ip"`
	Broker   string  `expr:"broker"`
	SrcPort  float64 `expr:"src_port"`
	DestPort float64 `expr:"dest_port"`
	Topic    string  `expr:"topic"`  // the PUBLISH's topic, when one triggered it
	Filter   string  `expr:"filter"` // the SUBSCRIBE's broadest filter, when one triggered it
}

// envNames are the identifiers of Env that are not counters, for the
// loader (unknown names are compile errors anyway; this only says which
// strings a VM evaluation must fill).
var envStrings = []string{"src_ip", "dest_ip", "broker", "topic", "filter"}
