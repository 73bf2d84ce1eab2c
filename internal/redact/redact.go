package redact

import (
	"net/url"
	"strings"
)

// Placeholder replaces each secret.
const Placeholder = "REDACTED"

// URL returns s with its userinfo and the values of sensitive query
// parameters (any name containing "pass", "secret", "token" or "credential",
// e.g. sasl_password) replaced by Placeholder. Strings without "://" (a
// file:PATH sink, "-") are returned as they are; a string that does not parse
// is replaced as a whole, since the parser cannot say where its secrets are.
func URL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	changed := false
	if u.User != nil {
		u.User = url.User(Placeholder)
		changed = true
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// A malformed query may still carry a secret: drop it.
			u.RawQuery = Placeholder
			changed = true
		} else {
			for k := range q {
				if Sensitive(k) {
					q[k] = []string{Placeholder}
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
		}
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "", ""
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// Sensitive reports whether a query parameter named k holds a secret.
func Sensitive(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "secret", "token", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
