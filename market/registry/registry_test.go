package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/market/internal/markettest"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/registry"
)

// env is a registry on 127.0.0.1 with a publisher "acme".
type env struct {
	srv    *registry.Server
	url    string
	token  string
	key    markettest.Key
	mods   map[string][]byte
	client *http.Client
}

func newEnv(t *testing.T, cfg registry.Config) *env {
	t.Helper()
	cfg.Dir = t.TempDir()
	cfg.CacheDir = filepath.Join(os.TempDir(), "ply-market-test-cache") // shared: a module compiles once across tests
	srv, err := registry.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	key := markettest.NewKey(t)
	token, err := srv.AddPublisher(t.Context(), "acme", key.Public.String())
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, url: ts.URL, token: token, key: key, mods: markettest.Modules(t), client: ts.Client()}
}

// upload posts a publish request and returns the status and the error
// message of the answer.
func (e *env) upload(t *testing.T, token string, parts map[string][]byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range []string{"artifact", "signature", "readme"} {
		if b, ok := parts[name]; ok {
			w, _ := mw.CreateFormFile(name, name)
			_, _ = w.Write(b)
		}
	}
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+"/api/v1/publish", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var eb market.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb.Error
}

func (e *env) signed(k markettest.Key, name, version string, artifact []byte) map[string][]byte {
	return map[string][]byte{"artifact": artifact, "signature": []byte(lock.Sign(k.Private, name, version, artifact)),
		"readme": []byte("# " + name + "\n")}
}

func (e *env) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+path, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestPublish(t *testing.T) {
	e := newEnv(t, registry.Config{})
	other := markettest.NewKey(t)
	rival, err := e.srv.AddPublisher(t.Context(), "rival", other.Public.String())
	if err != nil {
		t.Fatal(err)
	}
	user, err := e.srv.AddUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	tagger, tagger2, greeter := e.mods["tagger"], e.mods["tagger2"], e.mods["greeter"]
	tampered := bytes.Clone(tagger2)
	tampered[len(tampered)-1] ^= 1
	for _, tt := range []struct {
		name   string
		token  string
		parts  map[string][]byte
		status int
		want   string // in the error message
	}{
		{name: "first version", token: e.token, parts: e.signed(e.key, "tagger", "1.0.0", tagger), status: http.StatusCreated},
		{name: "never overwritten", token: e.token, parts: e.signed(e.key, "tagger", "1.0.0", tagger), status: http.StatusConflict,
			want: "plugin tagger@1.0.0 is already published, and versions are never overwritten"},
		{name: "no token", parts: e.signed(e.key, "tagger", "2.0.0", tagger2), status: http.StatusUnauthorized, want: "a valid token is required"},
		{name: "bad token", token: "ply_nope", parts: e.signed(e.key, "tagger", "2.0.0", tagger2), status: http.StatusUnauthorized},
		{name: "a user is no publisher", token: user, parts: e.signed(e.key, "tagger", "2.0.0", tagger2), status: http.StatusForbidden,
			want: "account alice has no signing key"},
		{name: "wrong key", token: e.token, parts: e.signed(other, "tagger", "2.0.0", tagger2), status: http.StatusForbidden,
			want: "bad signature: signed by key"},
		{name: "tampered artifact", token: e.token, parts: map[string][]byte{"artifact": tampered,
			"signature": []byte(lock.Sign(e.key.Private, "tagger", "2.0.0", tagger2))}, status: http.StatusForbidden,
			want: "plugin tagger@2.0.0: bad signature: the signature does not match the artifact's bytes"},
		{name: "signed for another version", token: e.token, parts: e.signed(e.key, "tagger", "1.0.0", tagger2), status: http.StatusForbidden,
			want: "the module is tagger@2.0.0, but its signature says tagger@1.0.0"},
		{name: "another publisher's plugin", token: rival, parts: e.signed(other, "tagger", "2.0.0", tagger2), status: http.StatusForbidden,
			want: "plugin tagger belongs to another publisher"},
		{name: "not wasm", token: e.token, parts: e.signed(e.key, "tagger", "2.0.0", []byte("#!/bin/sh\nrm -rf /\n")), status: http.StatusBadRequest,
			want: "is not a valid WebAssembly module"},
		{name: "no signature", token: e.token, parts: map[string][]byte{"artifact": tagger2}, status: http.StatusBadRequest,
			want: "the parts artifact and signature are required"},
		{name: "second version", token: e.token, parts: e.signed(e.key, "tagger", "2.0.0", tagger2), status: http.StatusCreated},
		{name: "a dependent", token: e.token, parts: e.signed(e.key, "greeter", "1.0.0", greeter), status: http.StatusCreated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := e.upload(t, tt.token, tt.parts)
			if status != tt.status || !strings.Contains(msg, tt.want) {
				t.Fatalf("publish = %d %q, want %d %q", status, msg, tt.status, tt.want)
			}
		})
	}
	var p market.Plugin
	if code := e.get(t, "/api/v1/plugins/greeter", &p); code != http.StatusOK {
		t.Fatalf("GET greeter = %d", code)
	}
	v := p.Versions[0]
	if p.Publisher != "acme" || p.Key != e.key.Public.String() || v.SHA256 != lock.Hash(greeter) ||
		!cmp.Equal(v.Requires, []market.Dependency{{Name: "tagger", Constraint: "^1"}}) || v.ABI != 1 || p.Readme != "# greeter\n" {
		t.Errorf("greeter = %+v", p)
	}
	if err := lock.CheckSignature(p.Key, v.Signature, "greeter", "1.0.0", greeter); err != nil {
		t.Errorf("the stored signature: %v", err)
	}
}

func TestYank(t *testing.T) {
	e := newEnv(t, registry.Config{})
	for _, g := range [][3]string{{"tagger", "tagger", "1.0.0"}, {"tagger2", "tagger", "2.0.0"}} {
		if status, msg := e.upload(t, e.token, e.signed(e.key, g[1], g[2], e.mods[g[0]])); status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", g[0], status, msg)
		}
	}
	post := func(path, token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/v1/plugins/tagger/2.0.0/yank", "ply_wrong"); code != http.StatusUnauthorized {
		t.Errorf("yank with a bad token = %d, want 401", code)
	}
	if code := post("/api/v1/plugins/tagger/9.0.0/yank", e.token); code != http.StatusNotFound {
		t.Errorf("yank of a missing version = %d, want 404", code)
	}
	if code := post("/api/v1/plugins/tagger/2.0.0/yank", e.token); code != http.StatusNoContent {
		t.Fatalf("yank = %d, want 204", code)
	}
	var p market.Plugin
	e.get(t, "/api/v1/plugins/tagger", &p)
	if p.Latest != "1.0.0" || len(p.Versions) != 2 || !p.Versions[0].Yanked || p.Versions[0].Version != "2.0.0" {
		t.Errorf("after the yank: latest %s, versions %+v; want latest 1.0.0 and 2.0.0 kept, yanked", p.Latest, p.Versions)
	}
	if code := e.get(t, "/api/v1/artifacts/"+p.Versions[0].SHA256, nil); code != http.StatusOK {
		t.Errorf("a yanked version's artifact = %d, want 200: lockfiles that pin it still fetch it", code)
	}
	if status, _ := e.upload(t, e.token, e.signed(e.key, "tagger", "2.0.0", e.mods["tagger2"])); status != http.StatusConflict {
		t.Errorf("publishing a yanked version again = %d, want 409", status)
	}
}

func TestArtifactPaths(t *testing.T) {
	e := newEnv(t, registry.Config{})
	if status, msg := e.upload(t, e.token, e.signed(e.key, "tagger", "1.0.0", e.mods["tagger"])); status != http.StatusCreated {
		t.Fatalf("publish: %d %s", status, msg)
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/v1/artifacts/" + lock.Hash(e.mods["tagger"]), http.StatusOK},
		{"/api/v1/artifacts/" + lock.Hash([]byte("other")), http.StatusNotFound},
		{"/api/v1/artifacts/..%2f..%2fregistry.db", http.StatusBadRequest},
		{"/api/v1/artifacts/" + strings.ToUpper(lock.Hash(e.mods["tagger"])), http.StatusBadRequest},
		{"/api/v1/plugins/nope", http.StatusNotFound},
	} {
		if got := e.get(t, tt.path, nil); got != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestUploadLimits(t *testing.T) {
	e := newEnv(t, registry.Config{MaxArtifact: 1 << 20, MaxReadme: 100})
	parts := e.signed(e.key, "tagger", "1.0.0", e.mods["tagger"]) // about 2.5 MiB
	if status, msg := e.upload(t, e.token, parts); status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "over the limit") {
		t.Errorf("a module over the limit = %d %q, want 413", status, msg)
	}
	parts = e.signed(e.key, "tagger", "1.0.0", []byte("small"))
	parts["readme"] = bytes.Repeat([]byte("x"), 101)
	if status, msg := e.upload(t, e.token, parts); status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "readme: over the limit of 100 bytes") {
		t.Errorf("a readme over the limit = %d %q, want 413", status, msg)
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, registry.Config{})
	for _, g := range [][3]string{{"tagger", "tagger", "1.0.0"}, {"greeter", "greeter", "1.0.0"}} {
		if status, msg := e.upload(t, e.token, e.signed(e.key, g[1], g[2], e.mods[g[0]])); status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", g[0], status, msg)
		}
	}
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"tag", []string{"tagger", "greeter"}}, // greeter's description names the tag; the name ranks first
		{"greets", []string{"greeter"}},
		{"", []string{"greeter", "tagger"}},
		{`"*) OR NEAR(`, []string{}},
		{"nothing-like-it", []string{}},
	} {
		var got []market.Summary
		if code := e.get(t, "/api/v1/search?q="+urlQuery(tt.q), &got); code != http.StatusOK {
			t.Fatalf("search %q = %d", tt.q, code)
		}
		names := []string{}
		for _, s := range got {
			names = append(names, s.Name)
		}
		if diff := cmp.Diff(tt.want, names); diff != "" {
			t.Errorf("search %q (-want +got):\n%s", tt.q, diff)
		}
	}
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestReviews(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(t, registry.Config{ReviewEvery: time.Minute, Now: func() time.Time { return now }})
	if status, msg := e.upload(t, e.token, e.signed(e.key, "tagger", "1.0.0", e.mods["tagger"])); status != http.StatusCreated {
		t.Fatalf("publish: %d %s", status, msg)
	}
	alice, _ := e.srv.AddUser(t.Context(), "alice")
	bob, _ := e.srv.AddUser(t.Context(), "bob")
	ctx := context.Background()
	steps := []struct {
		token   string
		review  market.Review
		advance time.Duration
		wantErr error
		avg     float64
		count   int
	}{
		{token: alice, review: market.Review{Rating: 4, Text: "good"}, avg: 4, count: 1},
		{token: alice, review: market.Review{Rating: 2, Text: "again"}, wantErr: &registry.RateError{}, avg: 4, count: 1},
		{token: alice, review: market.Review{Rating: 2, Text: "changed my mind"}, advance: time.Minute, avg: 2, count: 1}, // replaces hers
		{token: bob, review: market.Review{Rating: 5, Text: "<script>alert(1)</script>"}, advance: time.Second, avg: 3.5, count: 2},
		{token: bob, review: market.Review{Rating: 6}, advance: time.Hour, wantErr: registry.ErrBadRequest, avg: 3.5, count: 2},
		{token: "ply_nobody", review: market.Review{Rating: 3}, wantErr: registry.ErrUnauthorized, avg: 3.5, count: 2},
		{token: bob, review: market.Review{Rating: 3, Version: "9.9.9"}, wantErr: registry.ErrBadRequest, avg: 3.5, count: 2},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		err := e.srv.Review(ctx, st.token, "tagger", st.review)
		if _, rate := errors.AsType[*registry.RateError](st.wantErr); rate {
			if _, ok := errors.AsType[*registry.RateError](err); !ok {
				t.Errorf("step %d: Review() error = %v, want a *RateError", i, err)
			}
		} else if !errors.Is(err, st.wantErr) {
			t.Errorf("step %d: Review() error = %v, want %v", i, err, st.wantErr)
		}
		var p market.Plugin
		e.get(t, "/api/v1/plugins/tagger", &p)
		if p.Rating.Average != st.avg || p.Rating.Count != st.count {
			t.Errorf("step %d: rating %+v, want average %v of %d", i, p.Rating, st.avg, st.count)
		}
	}
	var p market.Plugin
	e.get(t, "/api/v1/plugins/tagger", &p)
	got := []string{}
	for _, r := range p.Reviews {
		got = append(got, fmt.Sprintf("%s %d %s %q", r.User, r.Rating, r.Version, r.Text))
	}
	want := []string{`bob 5 1.0.0 "<script>alert(1)</script>"`, `alice 2 1.0.0 "changed my mind"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reviews, latest first (-want +got):\n%s", diff)
	}
}
