package block

import (
	"strings"
	"testing"
)

func TestParseAllowlist(t *testing.T) {
	al, err := ParseAllowlist([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "client_id:plc-1", "username:ops"})
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Networks) != 3 || al.Networks[1].String() != "192.0.2.1/32" || al.ClientIDs[0] != "plc-1" || al.Usernames[0] != "ops" {
		t.Errorf("%+v", al)
	}
	if _, err := ParseAllowlist([]string{"ok:1", "10.0.0.0/33"}); err == nil || !strings.Contains(err.Error(), "item 0") || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("err %v", err)
	}
}
