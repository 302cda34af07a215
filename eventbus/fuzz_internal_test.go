package eventbus

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type fuzzEvent struct {
	ID    string         `json:"id"`
	Total int            `json:"total"`
	Lines []string       `json:"lines,omitempty"`
	Meta  map[string]any `json:"meta,omitempty"`
	Next  *fuzzEvent     `json:"next,omitempty"`
}

// FuzzDecodeEvent decodes events as they come from other processes (remote
// subscriptions, replays): never a panic, and an event that decodes
// decodes the same again once re-encoded, as another subscriber would.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"o-1","total":42,"lines":["a"],"meta":{"k":[1,"x",null]}}`))
	f.Add([]byte(`{"id":"o-2","next":{"id":"o-3","next":{}}}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"total":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeEvent[fuzzEvent](data)
		if err != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", v, err)
		}
		w, err := decodeEvent[fuzzEvent](again)
		if err != nil || !cmp.Equal(v, w, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip %q -> %+v -> %s -> %+v, %v", data, v, again, w, err)
		}
	})
}
