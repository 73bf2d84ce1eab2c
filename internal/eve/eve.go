package eve

import (
	"time"
	"unicode/utf8"
)

// TimeLayout is EVE's timestamp layout: RFC 3339 with microseconds and a
// numeric zone without colon, e.g. 2026-11-22T10:15:03.123456+0000.
const TimeLayout = "2006-01-02T15:04:05.000000-0700"

// AppendTime appends t as a quoted TimeLayout string, in t's own location
// (callers wanting "+0000" pass t.UTC()).
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, TimeLayout)
	return append(dst, '"')
}

// AppendString appends s as a quoted JSON string (see AppendBytes for the
// rule).
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// AppendBytes appends b as a quoted JSON string. The rule:
//   - `"` and `\` are backslash-escaped; \n, \r and \t use their short
//     forms; every other byte below 0x20 and DEL (0x7f) is written \u00XX;
//   - U+2028 and U+2029 are written \u2028 and \u2029 (they end a line in
//     JavaScript and in some log viewers: an attacker's client id must not
//     split a JSON line);
//   - each byte of invalid UTF-8 is written \ufffd (as encoding/json
//     does), so the line stays valid JSON whatever a client sent;
//   - everything else, including <, > and &, is copied as is.
//
// Suricata 7's JsonBuilder (rust/src/jsonbuilder.rs) escapes the same
// ASCII set except DEL (and uses \b and \f short forms), leaves U+2028 /
// U+2029 alone, and writes a string with invalid UTF-8 as literal "\xNN"
// text for every byte ≥ 0x80, which a reader cannot tell from a client id
// that contained that text. We keep the ASCII rule, add DEL and the line
// separators, and use U+FFFD for invalid bytes.
func AppendBytes(dst []byte, b []byte) []byte { return appendString(dst, b) }

const hexDigits = "0123456789abcdef"

// safe[c] is true for the ASCII bytes copied as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != 0x7f
	}
	return t
}()

// appendString copies runs of bytes that need no escaping in one append.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeRune is utf8.DecodeRune for either type. The conversion of at most
// utf8.UTFMax bytes does not escape, so it is made on the stack.
func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	if len(s) > utf8.UTFMax {
		s = s[:utf8.UTFMax]
	}
	return utf8.DecodeRuneInString(string(s))
}
