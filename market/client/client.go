// Package client talks to a plugin registry and keeps a host's ply.lock
// and artifact cache: search, info, install, update, remove, verify and
// review, and publish for publishers. ply plugin … runs it.
//
// # Install
//
// [Client.Install] resolves a consistent set with
// [github.com/plykit/ply/market/resolve] — the versions' ABI against the
// host's, their semver constraints on each other, nothing yanked, the
// locked versions kept when they still fit — downloads the artifacts it
// does not have, checks each one's hash and its publisher's signature
// (the same checks ply run makes), fills the cache and only then writes
// the lockfile. A conflict is a [*resolve.ConflictError] that explains
// itself.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/market/lock"
)

// Client is a registry's client. The zero value but URL is usable; it is
// safe for concurrent use.
type Client struct {
	// URL is the registry's base URL, "http://127.0.0.1:8765".
	URL string
	// Token authenticates publishing, yanking and reviewing.
	Token string
	// HTTP makes the requests. Default: a client with a 60s timeout.
	HTTP *http.Client
}

// APIError is an error answer of the registry.
type APIError struct {
	Status  int    // the HTTP status
	Message string // the registry's message
}

func (e *APIError) Error() string { return fmt.Sprintf("registry: %s (%d)", e.Message, e.Status) }

var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *Client) http() *http.Client { return cmp.Or(c.HTTP, defaultHTTP) }

// maxJSON bounds a JSON answer: 8 MiB.
const maxJSON = 8 << 20

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		var eb market.ErrorBody
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb); err != nil || eb.Error == "" {
			eb.Error = resp.Status
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSON)).Decode(out); err != nil {
		return fmt.Errorf("registry %s: %s %s: %w", c.URL, method, path, err)
	}
	return nil
}

// Search returns the plugins matching q, best first.
func (c *Client) Search(ctx context.Context, q string) ([]market.Summary, error) {
	var out []market.Summary
	err := c.do(ctx, http.MethodGet, "/api/v1/search?q="+url.QueryEscape(q), nil, "", &out)
	return out, err
}

// Plugin returns everything the registry knows of a plugin. A plugin it
// does not know is an [*APIError] with status 404.
func (c *Client) Plugin(ctx context.Context, name string) (*market.Plugin, error) {
	if !lock.ValidName(name) {
		return nil, fmt.Errorf("%q is not a plugin name: want 1 to 64 of a-z, 0-9, '.', '_' and '-'", name)
	}
	var p market.Plugin
	if err := c.do(ctx, http.MethodGet, "/api/v1/plugins/"+name, nil, "", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Artifact downloads the artifact of sha256 sum and checks that its bytes
// hash to it.
func (c *Client) Artifact(ctx context.Context, sum string) ([]byte, error) {
	if !lock.ValidHash(sum) {
		return nil, fmt.Errorf("artifact %q: not a sha256 in hex", sum)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.URL, "/")+"/api/v1/artifacts/"+sum, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{Status: resp.StatusCode, Message: "artifact " + sum + ": " + resp.Status}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, lock.MaxArtifact+1))
	if err != nil {
		return nil, err
	}
	if len(b) > lock.MaxArtifact {
		return nil, fmt.Errorf("artifact %s: over the limit of %d bytes", sum, lock.MaxArtifact)
	}
	if got := lock.Hash(b); got != sum {
		return nil, fmt.Errorf("artifact %s: the registry sent bytes hashing to %s: %w", sum, got, lock.ErrHash)
	}
	return b, nil
}

// Publish uploads a signed artifact with its readme (which may be nil).
func (c *Client) Publish(ctx context.Context, artifact, signature, readme []byte) (*market.Published, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct {
		name string
		b    []byte
	}{{"artifact", artifact}, {"signature", signature}, {"readme", readme}} {
		if p.b == nil {
			continue
		}
		w, err := mw.CreateFormFile(p.name, p.name)
		if err != nil {
			return nil, err
		}
		_, _ = w.Write(p.b) // a bytes.Buffer
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var out market.Published
	if err := c.do(ctx, http.MethodPost, "/api/v1/publish", &body, mw.FormDataContentType(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Yank marks a version yanked.
func (c *Client) Yank(ctx context.Context, name, version string) error {
	if !lock.ValidName(name) {
		return fmt.Errorf("%q is not a plugin name", name)
	}
	return c.do(ctx, http.MethodPost, "/api/v1/plugins/"+name+"/"+url.PathEscape(version)+"/yank", nil, "", nil)
}

// Review posts the client's review of a plugin (rating 1 to 5); an empty
// version reviews the latest.
func (c *Client) Review(ctx context.Context, name string, r market.Review) error {
	if !lock.ValidName(name) {
		return fmt.Errorf("%q is not a plugin name", name)
	}
	b, err := json.Marshal(struct {
		Version string `json:"version,omitempty"`
		Rating  int    `json:"rating"`
		Text    string `json:"text"`
	}{r.Version, r.Rating, r.Text})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/api/v1/plugins/"+name+"/reviews", bytes.NewReader(b), "application/json", nil)
}

// notFound reports whether err is the registry's 404.
func notFound(err error) bool {
	ae, ok := errors.AsType[*APIError](err)
	return ok && ae.Status == http.StatusNotFound
}
