package jobqueue_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plykit/ply/jobqueue"
)

type mail struct {
	To      string            `json:"to"`
	Tags    []string          `json:"tags,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Retries int               `json:"retries"`
}

// FuzzDecode decodes job payloads from anywhere: a payload that does not
// decode is a permanent failure (retrying cannot fix it), and one that
// does decodes the same again once re-encoded.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"to":"a@example.com","tags":["x"],"retries":2}`))
	f.Add([]byte(`"just a string"`))
	f.Add([]byte(`{"to":`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, err := jobqueue.Decode[mail](&jobqueue.Job{ID: "j", Payload: payload})
		if err != nil {
			if !errors.Is(err, jobqueue.ErrPermanent) {
				t.Fatalf("Decode(%q) = %v, want an error wrapping ErrPermanent", payload, err)
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		w, err := jobqueue.Decode[mail](&jobqueue.Job{ID: "j", Payload: again})
		if err != nil || !cmp.Equal(v, w, cmpopts.EquateEmpty()) { // omitempty: an empty list comes back nil
			t.Fatalf("round trip %q -> %+v -> %s -> %+v, %v", payload, v, again, w, err)
		}
		if raw, err := jobqueue.Decode[[]byte](&jobqueue.Job{Payload: payload}); err != nil || string(raw) != string(payload) {
			t.Fatalf("Decode[[]byte] = %q, %v; want the payload as sent", raw, err)
		}
	})
}
