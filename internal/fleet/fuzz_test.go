package fleet_test

import (
	"encoding/json"
	"testing"

	"github.com/plykit/ply/internal/fleet"
)

// FuzzParseStatus reads host statuses from the bucket, where any client
// may write: a status that parses has a valid host and survives a round
// trip unchanged.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(`{"host":"h1","revision":7,"generation":3,"time":"2026-12-07T10:00:00Z"}`))
	f.Add([]byte(`{"host":"h2","revision":6,"generation":3,"refused":7,"error":"boom","took":1500000,"time":"2026-12-07T10:00:00Z"}`))
	f.Add([]byte(`{"host":"../x","revision":1}`))
	f.Add([]byte(`{"host":"h1"} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := fleet.ParseStatus(data)
		if err != nil {
			return
		}
		if fleet.CheckHost(st.Host) != nil {
			t.Fatalf("ParseStatus(%q) accepted host %q", data, st.Host)
		}
		again, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := fleet.ParseStatus(again)
		if err != nil || !back.Time.Equal(st.Time) {
			t.Fatalf("round trip %q -> %+v -> %s -> %+v, %v", data, st, again, back, err)
		}
		back.Time = st.Time
		if back != st {
			t.Fatalf("round trip %q -> %+v -> %+v", data, st, back)
		}
	})
}
