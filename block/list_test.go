package block

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// recorder collects what the block list publishes, as the emitter and as
// an enforcer, to check both see the same events in the same order.
type recorder struct {
	name    string
	emitted []string
	applied []string
	fail    bool
}

func evString(ev *Event) string {
	return fmt.Sprintf("%s %s %s %gs", ev.Op, ev.Target, ev.Value, ev.TTLS)
}

func (r *recorder) EmitBlock(ev *Event) { r.emitted = append(r.emitted, evString(ev)) }
func (r *recorder) Name() string        { return r.name }
func (r *recorder) Close() error        { return nil }
func (r *recorder) Apply(ev *Event) error {
	r.applied = append(r.applied, evString(ev))
	if r.fail {
		return errors.New("enforcement point down")
	}
	return nil
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var reason = Reason{SignatureID: 2300001, Category: "auth-bruteforce"}

func newTestList(t *testing.T, opts Options) (*List, *recorder, *recorder) {
	t.Helper()
	em := &recorder{name: "emitter"}
	enf := &recorder{name: "enf"}
	opts.Emitter = em
	opts.Enforcers = append([]Enforcer{enf}, opts.Enforcers...)
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, em, enf
}

func TestBlockTTLAndEventOrder(t *testing.T) {
	l, em, enf := newTestList(t, Options{})
	steps := []struct {
		at            time.Duration
		target, value string
		ttl           time.Duration
		wantTTL       time.Duration
		wantOK        bool
	}{
		{0, "src_ip", "192.0.2.7", 10 * time.Minute, 10 * time.Minute, true},
		{time.Second, "username", "admin", time.Minute, time.Minute, true},
		{2 * time.Second, "client_id", "dev-17", 30 * time.Second, 30 * time.Second, true},
		// already blocked for longer
		{3 * time.Second, "src_ip", "192.0.2.7", time.Minute, 0, false},
		// IPv4-mapped form of the same address: same entry
		{4 * time.Second, "src_ip", "::ffff:192.0.2.7", time.Minute, 0, false},
		// a CIDR, normalised
		{5 * time.Second, "src_ip", "203.0.113.77/24", time.Minute, time.Minute, true},
		// extension: later expiry, same level
		{40 * time.Second, "username", "admin", time.Minute, time.Minute, true},
		{0, "nonsense", "x", time.Minute, 0, false},
		{0, "src_ip", "not-an-ip", time.Minute, 0, false},
	}
	for i, s := range steps {
		got, ok := l.Block(t0.Add(s.at), s.target, s.value, s.ttl, reason)
		if got != s.wantTTL || ok != s.wantOK {
			t.Fatalf("step %d %s=%s: got %v,%v want %v,%v", i, s.target, s.value, got, ok, s.wantTTL, s.wantOK)
		}
	}
	if !l.Blocked("src_ip", "203.0.113.9") || l.Blocked("src_ip", "203.0.114.9") || !l.Blocked("src_ip", "192.0.2.7") {
		t.Error("Blocked: CIDR or address lookup wrong")
	}
	l.Tick(t0.Add(30 * time.Second)) // nothing due before 32 s
	l.Tick(t0.Add(70 * time.Second))
	l.Tick(t0.Add(20 * time.Minute))
	want := []string{
		"add src_ip 192.0.2.7 600s",
		"add username admin 60s",
		"add client_id dev-17 30s",
		"add src_ip 203.0.113.0/24 60s",
		"add username admin 60s",
		"remove client_id dev-17 0s",
		"remove src_ip 203.0.113.0/24 0s",
		"remove username admin 0s",
		"remove src_ip 192.0.2.7 0s",
	}
	if got := strings.Join(em.emitted, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("emitted:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if strings.Join(enf.applied, "\n") != strings.Join(em.emitted, "\n") {
		t.Errorf("enforcer saw a different sequence:\n%s", strings.Join(enf.applied, "\n"))
	}
	st := l.Stats()
	if st.Active != 0 || st.Added != 4 || st.Extended != 1 || st.Removed != 4 || st.AlreadyLonger != 2 || st.Invalid != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestBlockEscalation(t *testing.T) {
	l, em, _ := newTestList(t, Options{MaxTTL: 5 * time.Minute, RepeatWindow: time.Hour})
	now := t0
	var got []time.Duration
	for i := 0; i < 6; i++ {
		ttl, ok := l.Block(now, "src_ip", "192.0.2.7", time.Minute, reason)
		if !ok {
			t.Fatalf("block %d refused", i)
		}
		got = append(got, ttl)
		now = now.Add(ttl)
		l.Tick(now)
		now = now.Add(time.Minute) // back within the repeat window
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TTLs %v, want %v", got, want)
	}
	// after the repeat window the offender starts over
	now = now.Add(2 * time.Hour)
	if ttl, _ := l.Block(now, "src_ip", "192.0.2.7", time.Minute, reason); ttl != time.Minute {
		t.Errorf("after the window: %v, want 1m", ttl)
	}
	if len(em.emitted) != 13 {
		t.Errorf("%d events, want 13", len(em.emitted))
	}

	// NoEscalation
	l2, _, _ := newTestList(t, Options{NoEscalation: true})
	l2.Block(t0, "username", "u", time.Minute, reason)
	l2.Tick(t0.Add(time.Minute))
	if ttl, _ := l2.Block(t0.Add(2*time.Minute), "username", "u", time.Minute, reason); ttl != time.Minute {
		t.Errorf("no escalation: %v", ttl)
	}
}

func TestBlockAllowlist(t *testing.T) {
	l, em, _ := newTestList(t, Options{
		Allow: Allowlist{
			Networks:  []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")},
			ClientIDs: []string{"monitoring"},
			Usernames: []string{"ops"},
		},
		Brokers: []netip.Prefix{
			netip.MustParsePrefix("198.51.100.1/32"),
			netip.MustParsePrefix("::ffff:198.51.100.2/128"), // mapped form
			netip.MustParsePrefix("203.0.113.0/28"),          // a broker network
		},
	})
	refused := []struct{ target, value string }{
		{"src_ip", "10.1.2.3"},
		{"src_ip", "::ffff:10.1.2.3"},
		{"src_ip", "2001:db8:1::5"},
		{"src_ip", "10.0.0.0/16"},     // inside an allowed network
		{"src_ip", "0.0.0.0/0"},       // would cover the allowlist
		{"src_ip", "198.51.100.0/24"}, // covers the broker
		{"src_ip", "198.51.100.1"},
		{"src_ip", "198.51.100.2"},
		{"src_ip", "203.0.113.9"},
		{"src_ip", "::ffff:203.0.113.15"},
		{"client_id", "monitoring"},
		{"username", "ops"},
	}
	for _, r := range refused {
		if _, ok := l.Block(t0, r.target, r.value, time.Minute, reason); ok {
			t.Errorf("%s=%s was blocked, want allowlisted", r.target, r.value)
		}
	}
	allowed := []struct{ target, value string }{
		{"src_ip", "11.0.0.1"}, {"src_ip", "2001:db8:2::5"}, {"src_ip", "203.0.113.16"}, {"src_ip", "198.51.100.3"}, {"client_id", "monitoring2"}, {"username", "OPS"},
	}
	for _, r := range allowed {
		if _, ok := l.Block(t0, r.target, r.value, time.Minute, reason); !ok {
			t.Errorf("%s=%s refused", r.target, r.value)
		}
	}
	if st := l.Stats(); st.Allowlisted != uint64(len(refused)) || len(em.emitted) != len(allowed) {
		t.Errorf("stats %+v, %d events", st, len(em.emitted))
	}
}

func TestBlockMaxEntriesAndEnforcerErrors(t *testing.T) {
	bad := &recorder{name: "bad", fail: true}
	l, em, _ := newTestList(t, Options{MaxEntries: 3, Enforcers: []Enforcer{bad}})
	for i := 0; i < 5; i++ {
		_, ok := l.Block(t0, "src_ip", fmt.Sprintf("192.0.2.%d", i), time.Minute, reason)
		if ok != (i < 3) {
			t.Errorf("entry %d: ok=%v", i, ok)
		}
	}
	st := l.Stats()
	if st.Active != 3 || st.Refused != 2 || len(em.emitted) != 3 || st.EnforcerErrors["bad"] != 3 {
		t.Errorf("stats %+v events %d", st, len(em.emitted))
	}
	// room again after expiry
	l.Tick(t0.Add(time.Minute))
	if _, ok := l.Block(t0.Add(time.Minute), "src_ip", "192.0.2.9", time.Minute, reason); !ok {
		t.Error("refused after expiry")
	}
	// manual removal
	if !l.Remove(t0.Add(time.Minute), "src_ip", "192.0.2.9") || l.Blocked("src_ip", "192.0.2.9") {
		t.Error("Remove")
	}
	if got := em.emitted[len(em.emitted)-1]; got != "remove src_ip 192.0.2.9 0s" {
		t.Errorf("last event %q", got)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{MaxEntries: -1, Allow: Allowlist{Networks: []netip.Prefix{{}}}, Brokers: []netip.Prefix{{}}, Enforcers: []Enforcer{nil}})
	if err == nil || !strings.Contains(err.Error(), "max entries") || !strings.Contains(err.Error(), "allow network 0") ||
		!strings.Contains(err.Error(), "broker 0") || !strings.Contains(err.Error(), "enforcer 0") {
		t.Errorf("err %v, want every problem", err)
	}
}
