package rules

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary YAML to the loader: it must never panic, and
// whatever it accepts must be a valid, compiled rule.
func FuzzParse(f *testing.F) {
	f.Add(builtin)
	f.Add([]byte("rules:\n  - id: x\n    sid: 1\n    category: topic-scan\n    key: src_ip\n    window: 30s\n    count: sys_subs\n"))
	f.Add([]byte("rules:\n  - {id: y, sid: 2, category: connect-storm, key: client_id, window: 5m, condition: 'connects > threshold * 2'}\n"))
	f.Add([]byte("- id: z\n  sid: 3\n  category: nope\n  ttl: -1s\n  action: block\n"))
	f.Add([]byte("rules: [1, [2], {id: [x]}]\n"))
	f.Add([]byte("rules:\n  - id: a\n    condition: 'len(client_id) > 3 ? true : false'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := loader{byID: make(map[string]int)}
		l.parse("fuzz.yaml", data)
		for _, raw := range l.rules {
			r, errs := compile(raw)
			if r == nil {
				if len(errs) == 0 {
					t.Fatalf("rule %q rejected without an error", raw.id)
				}
				for _, e := range errs {
					if !strings.HasPrefix(e.Error(), "fuzz.yaml:") {
						t.Fatalf("error without position: %v", e)
					}
				}
				continue
			}
			if r.cat < 0 || r.Key == 0 || r.SID <= 0 || r.Severity < 1 || r.Severity > 3 {
				t.Fatalf("accepted an invalid rule: %+v", r)
			}
			if r.Condition != "" && r.prog == nil {
				t.Fatalf("condition not compiled: %+v", r)
			}
		}
	})
}
