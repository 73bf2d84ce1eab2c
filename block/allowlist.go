package block

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ParseAllowlist parses allowlist items as in the configuration file:
// an address or CIDR ("10.0.0.0/8", "192.0.2.1"), "client_id:ID" or
// "username:NAME". Every bad item is reported with its index.
func ParseAllowlist(items []string) (Allowlist, error) {
	var al Allowlist
	var errs []error
	for i, it := range items {
		switch {
		case strings.HasPrefix(it, "client_id:"):
			al.ClientIDs = append(al.ClientIDs, strings.TrimPrefix(it, "client_id:"))
		case strings.HasPrefix(it, "username:"):
			al.Usernames = append(al.Usernames, strings.TrimPrefix(it, "username:"))
		default:
			if p, err := netip.ParsePrefix(it); err == nil {
				al.Networks = append(al.Networks, p)
			} else if a, err := netip.ParseAddr(it); err == nil {
				al.Networks = append(al.Networks, netip.PrefixFrom(a, a.BitLen()))
			} else {
				errs = append(errs, fmt.Errorf("allowlist item %d %q: want an address, a CIDR, client_id:ID or username:NAME", i, it))
			}
		}
	}
	return al, errors.Join(errs...)
}
