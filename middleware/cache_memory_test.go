package middleware_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
)

// Many large responses with distinct query strings: what the cache holds stays
// within MaxBytes, by its own accounting.
func TestCacheMemoryIsBoundedByBytes(t *testing.T) {
	const maxBytes = 8 << 20
	body := bytes.Repeat([]byte("x"), 1<<20) // 1 MiB, the largest body stored by default
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write(body)
	})
	c, srv := cachedProxy(t, middleware.CacheOptions{MaxBytes: maxBytes}, upstream)
	for i := range 100 {
		res := get(t, srv.Client(), srv.URL+"/blob?i="+strconv.Itoa(i))
		if len(res.body) != len(body) {
			t.Fatalf("response %d: %d bytes, want %d", i, len(res.body), len(body))
		}
		if s := c.Stats(); s.Bytes > maxBytes {
			t.Fatalf("after %d responses the cache holds %d bytes in %d entries, more than MaxBytes %d", i+1, s.Bytes, s.Entries, maxBytes)
		}
	}
	// Which entries stay is the store's choice (W-TinyLFU); that some do is not.
	if s := c.Stats(); s.Bytes < 1<<20 || s.Entries < 1 || s.Entries > 8 {
		t.Errorf("after 100 responses of 1 MiB: %d bytes in %d entries; want at least one entry, at most 8", s.Bytes, s.Entries)
	}
}

// A body over MaxBodyBytes reaches its client whole, streamed, and is not stored.
func TestCacheLargeBodyIsStreamedNotStored(t *testing.T) {
	body := strings.Repeat("0123456789", 1000) // 10,000 bytes
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "big")
		_, _ = w.Write([]byte(body[:4000]))
		_, _ = w.Write([]byte(body[4000:]))
	})
	c, srv := cachedProxy(t, middleware.CacheOptions{MaxBodyBytes: 5000}, upstream)
	for i, want := range []string{"MISS", "MISS"} {
		res := get(t, srv.Client(), srv.URL+"/big")
		if res.body != body || res.header.Get("X-Cache") != want || res.header.Get("Cache-Tag") != "" {
			t.Errorf("request %d: %d bytes, X-Cache %q, Cache-Tag %q; want the whole body, %s, no tag", i+1, len(res.body),
				res.header.Get("X-Cache"), res.header.Get("Cache-Tag"), want)
		}
	}
	if s := c.Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Errorf("stored %d entries, %d bytes; want none", s.Entries, s.Bytes)
	}
}

func TestCacheMemoryOptions(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opts      middleware.CacheOptions
		wantField string // "" for valid options
	}{
		{name: "defaults", opts: middleware.CacheOptions{}},
		{name: "small bound, default body limit", opts: middleware.CacheOptions{MaxBytes: 1000}},
		{name: "negative maxBytes", opts: middleware.CacheOptions{MaxBytes: -1}, wantField: "maxBytes"},
		{name: "body over the bound", opts: middleware.CacheOptions{MaxBytes: 1 << 20, MaxBodyBytes: 2 << 20}, wantField: "maxBodyBytes"},
		{name: "body over the default bound", opts: middleware.CacheOptions{MaxBodyBytes: 128 << 20}, wantField: "maxBodyBytes"},
		{name: "negative ttl", opts: middleware.CacheOptions{TTL: -time.Second}, wantField: "ttl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := middleware.NewCache(tt.opts)
			if err == nil {
				closeOK(t, c)
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("NewCache(%+v) = %v, want no error", tt.opts, err)
				}
				return
			}
			fe, ok := errors.AsType[*option.Error](err)
			if !ok || fe.Field != tt.wantField {
				t.Fatalf("NewCache(%+v) = %v, want an *option.Error for %s", tt.opts, err, tt.wantField)
			}
			if fe.Plugin != "cache" || !strings.HasPrefix(err.Error(), "plugin cache: "+tt.wantField+": ") {
				t.Errorf("error %q does not name the cache and the field", err)
			}
		})
	}
}
