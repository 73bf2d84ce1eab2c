package detect

import (
	"mqttids/decode"
	"mqttids/event"
)

func (d *Detector) fromServer(ev *event.Event, now int64) {
	ci := d.conn(ev, now)
	c := &d.conns.aux[ci]
	d.seen(c, ev)
	p := ev.Packet
	switch p.Type {
	case decode.CONNACK:
		d.connack(ev, ci, c, p, now)
	case decode.PUBLISH:
		d.activate(c, ev, now)
		if b := d.brokerOf(c, now); b != nil {
			// The session layer resolved the broker's own topic aliases;
			// a delivery whose alias is unknown proves nothing.
			if ev.TopicKnown && len(ev.Topic) > 0 {
				b.noteDelivered(hashBytes(ev.Topic), now, d.opts.MaxDelivered, int64(d.opts.DeliveredMemory))
			}
		}
	case decode.PUBACK, decode.PUBREC:
		if p.Version == decode.V5 && p.ReasonCode == 0x10 {
			h := uint64(0)
			for _, pp := range c.pend {
				if pp.pid == p.PacketID {
					h = pp.h
				}
			}
			d.undeliverable(ci, c, h, 1, now, ev)
		}
	case decode.DISCONNECT:
		c.serverDisc = true
		if p.ReasonCode == 0x8E && !c.takenOver {
			c.takenOver = true
			if cl := d.clientOf(c, now); cl >= 0 {
				d.clients.add(cl, Takeovers, 1)
				d.observeName(KeyClientID, cl, Set(Takeovers), ev, c, now)
			}
		}
	}
}

// isAuthFailure: refusals for credentials or authorisation.
func isAuthFailure(version, code uint8) (auth bool, which Counter) {
	if version == decode.V5 {
		switch code {
		case 0x86:
			return true, RefusedBadCredentials
		case 0x87:
			return true, RefusedNotAuthorized
		case 0x8C:
			return true, RefusedBadAuthMethod
		}
		return false, 0
	}
	switch code {
	case 4:
		return true, RefusedBadCredentials
	case 5:
		return true, RefusedNotAuthorized
	}
	return false, 0
}

func (d *Detector) connack(ev *event.Event, ci int32, c *connState, p *decode.Packet, now int64) {
	v := c.version
	if v == 0 {
		v = p.Version
	}
	code := p.ReasonCode
	if code == 0 || (v == decode.V5 && code < 0x80) {
		if c.cleartext && !c.loginSeen {
			d.cleartextLogin(ev, c, now)
		}
		return
	}
	c.refused = true
	s := d.srcOf(c, now)
	cl := d.clientOf(c, now)
	us := d.userOf(c, now)
	changed := Set(ConnackRefusals) | d.dropSession(c)
	auth, which := isAuthFailure(v, code)
	if auth {
		changed |= Set(AuthFailures, which)
	}
	d.srcs.add(s, ConnackRefusals, 1)
	if cl >= 0 {
		d.clients.add(cl, ConnackRefusals, 1)
	}
	if us >= 0 {
		d.users.add(us, ConnackRefusals, 1)
	}
	d.o.spray = -1
	if auth {
		d.srcs.add(s, AuthFailures, 1)
		d.srcs.add(s, which, 1)
		if cl >= 0 {
			d.clients.add(cl, AuthFailures, 1)
		}
		if us >= 0 {
			d.users.add(us, AuthFailures, 1)
			d.users.add(us, which, 1)
		}
		if c.passHash != 0 && c.username != "" {
			sp := d.spray.get(c.passHash, now)
			d.spray.addDistinct(sp, DistinctUsernames, hashString(c.username))
			changed |= Set(SprayUsernames)
			d.o.spray = sp
		}
	}
	d.observeSrc(s, changed, ev, c, now)
	d.o.spray = -1
	changed &^= Set(SprayUsernames)
	if cl >= 0 {
		d.observeName(KeyClientID, cl, changed, ev, c, now)
	}
	if us >= 0 {
		d.observeName(KeyUsername, us, changed, ev, c, now)
	}
}

func (d *Detector) undeliverable(ci int32, c *connState, h uint64, n uint32, now int64, ev *event.Event) {
	changed := Set(Undeliverable, UndeliverableTopics)
	d.conns.add(ci, Undeliverable, n)
	d.conns.addDistinct(ci, UndeliverableTopics, h)
	cl := d.clientOf(c, now)
	if cl >= 0 {
		d.clients.add(cl, Undeliverable, n)
		d.clients.addDistinct(cl, UndeliverableTopics, h)
	}
	s := d.srcOf(c, now)
	d.srcs.add(s, Undeliverable, n)
	d.srcs.addDistinct(s, UndeliverableTopics, h)
	d.observeConn(ci, changed, ev, c, now)
	if cl >= 0 {
		d.observeName(KeyClientID, cl, changed, ev, c, now)
	}
	d.observeSrc(s, changed, ev, c, now)
}

// cleartextLogin counts a login the broker accepted whose password crossed
// the wire in clear: valid credentials exposed (the posture).
func (d *Detector) cleartextLogin(ev *event.Event, c *connState, now int64) {
	c.loginSeen = true
	if b := d.brokerOf(c, now); b != nil {
		b.cleartext++
	}
	s := d.srcOf(c, now)
	d.srcs.add(s, CleartextLogins, 1)
	d.observeSrc(s, Set(CleartextLogins), ev, c, now)
	if us := d.userOf(c, now); us >= 0 {
		d.users.add(us, CleartextLogins, 1)
		d.observeName(KeyUsername, us, Set(CleartextLogins), ev, c, now)
	}
}
