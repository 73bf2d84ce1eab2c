package eval

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func alertAt(cat, ip string, t time.Time) Alert {
	var a Alert
	a.Timestamp = t.Format("2006-01-02T15:04:05.999999-0700")
	a.SrcIP = ip
	a.Alert.Category = cat
	return a
}

// TestScoreAttackStart: time to alert counts from attack_start, and a
// detect_within_s budget makes a later first alert Late (and not OK).
func TestScoreAttackStart(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	l := Labels{Name: "x", Attackers: []string{"127.0.0.84"}, Expected: []string{"publish-flood"},
		AttackStart: start.Format(time.RFC3339Nano), DetectWithinS: 30}
	s := Scenario{Dir: "/nonexistent", Labels: l} // no pcap read when attack_start is set
	for _, tc := range []struct {
		after time.Duration
		late  bool
	}{{5 * time.Second, false}, {30 * time.Second, false}, {31 * time.Second, true}} {
		r, err := Score(s, []Alert{alertAt("publish-flood", "127.0.0.84", start.Add(tc.after))})
		if err != nil {
			t.Fatal(err)
		}
		if !r.HasTTA || r.TimeToAlert.Round(time.Millisecond) != tc.after {
			t.Errorf("after %v: time to alert %v (has %v)", tc.after, r.TimeToAlert, r.HasTTA)
		}
		if r.Late != tc.late || r.OK() == tc.late {
			t.Errorf("after %v: late %v ok %v, want late %v", tc.after, r.Late, r.OK(), tc.late)
		}
		var b bytes.Buffer
		Table(&b, []Result{r})
		if strings.Contains(b.String(), "LATE") != tc.late {
			t.Errorf("after %v: table %q", tc.after, b.String())
		}
	}
}

// TestScoreBenignOnly: a scenario without attackers scores false positives only.
func TestScoreBenignOnly(t *testing.T) {
	l := Labels{Name: "benign-x", Attackers: []string{}, Expected: []string{}, Benign: []string{"127.0.2.10"}, BenignAlsoOK: []string{"cleartext-credentials"}}
	now := time.Now()
	r, err := Score(Scenario{Labels: l}, []Alert{alertAt("cleartext-credentials", "127.0.2.10", now)})
	if err != nil || !r.OK() {
		t.Fatalf("cleartext only: ok %v err %v", r.OK(), err)
	}
	r, err = Score(Scenario{Labels: l}, []Alert{alertAt("publish-flood", "127.0.2.10", now)})
	if err != nil || r.OK() || len(r.FalsePositives) != 1 || r.HasTTA {
		t.Fatalf("flood from the gateway: %+v err %v", r, err)
	}
}
