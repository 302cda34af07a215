package options

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedact(t *testing.T) {
	type key struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	type opts struct {
		Realm    string `json:"realm"`
		APIKeys  []key  `json:"apiKeys"`
		Password string `json:"password,omitempty"`
		Token    string `json:"token"`
	}
	got, err := Redact(&opts{Realm: "gw", APIKeys: []key{{Name: "demo", Key: "demo-key-0123456789"}}, Token: ""})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"realm":   "gw",
		"apiKeys": Redacted, // the key names a secret: all under it goes
		"token":   "",       // nothing to hide
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redact (-want +got):\n%s", diff)
	}
	if _, err := Redact(func() {}); err == nil {
		t.Error("Redact of a func: no error")
	}
}
