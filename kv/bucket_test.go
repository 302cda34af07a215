package kv

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var validBucket = regexp.MustCompile(`^[a-z0-9_-]+$`)

func TestBucket(t *testing.T) {
	for _, tt := range []struct {
		name, ns, want string
		wantErr        bool
	}{
		{name: "plain", ns: "cache", want: "ply_kv_cache"},
		{name: "tenant", ns: "acme/cache", want: "ply_kv_acme_2fcache"},
		{name: "underscore is escaped", ns: "a_b", want: "ply_kv_a_5fb"},
		{name: "upper case is escaped", ns: "Cache", want: "ply_kv__43ache"},
		{name: "dash and digits", ns: "auth-2", want: "ply_kv_auth-2"},
		{name: "utf-8", ns: "é", want: "ply_kv__c3_a9"},
		{name: "empty", ns: "", wantErr: true},
		{name: "too long", ns: strings.Repeat("a", MaxBucketLen), wantErr: true},
		{name: "longest", ns: strings.Repeat("a", MaxBucketLen-len(kvPrefix)), want: kvPrefix + strings.Repeat("a", MaxBucketLen-len(kvPrefix))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Bucket(tt.ns)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Bucket(%q) error = %v, wantErr %v", tt.ns, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNamespace) {
				t.Errorf("Bucket(%q) error = %v, want ErrNamespace", tt.ns, err)
			}
			if got != tt.want {
				t.Errorf("Bucket(%q) = %q, want %q", tt.ns, got, tt.want)
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	for _, tt := range []struct {
		name    string
		parts   []string
		want    string
		wantErr bool
	}{
		{name: "tenant and plugin", parts: []string{"acme", "cache"}, want: "acme/cache"},
		{name: "one part", parts: []string{"cache"}, want: "cache"},
		{name: "none", wantErr: true},
		{name: "empty part", parts: []string{"acme", ""}, wantErr: true},
		{name: "slash in part", parts: []string{"acme/x", "cache"}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Namespace(tt.parts...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Namespace(%q) error = %v, wantErr %v", tt.parts, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNamespace) {
				t.Errorf("Namespace(%q) error = %v, want ErrNamespace", tt.parts, err)
			}
			if got != tt.want {
				t.Errorf("Namespace(%q) = %q, want %q", tt.parts, got, tt.want)
			}
		})
	}
}

// FuzzBucket checks that the namespace → bucket mapping gives valid,
// lower-case bucket names and is injective: decoding gives the namespace
// back, so two namespaces never share a bucket.
func FuzzBucket(f *testing.F) {
	for _, s := range []string{"cache", "acme/cache", "a_b", "a_5fb", "A", "_41", "é", "a.b", " ", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ns string) {
		for _, prefix := range []string{kvPrefix, objPrefix} {
			b, err := bucket(prefix, ns)
			if err != nil {
				if !errors.Is(err, ErrNamespace) {
					t.Fatalf("bucket(%q) error %v does not match ErrNamespace", ns, err)
				}
				if ns != "" && len(prefix)+3*len(ns) <= MaxBucketLen { // fits even fully escaped
					t.Fatalf("bucket(%q) rejected a short namespace: %v", ns, err)
				}
				continue
			}
			if len(b) > MaxBucketLen || !validBucket.MatchString(b) {
				t.Fatalf("bucket(%q) = %q: not a valid lower-case bucket name of at most %d bytes", ns, b, MaxBucketLen)
			}
			rest, ok := strings.CutPrefix(b, prefix)
			if !ok {
				t.Fatalf("bucket(%q) = %q: lacks prefix %q", ns, b, prefix)
			}
			back, err := decode(rest)
			if err != nil || back != ns {
				t.Fatalf("decode(%q) = %q, %v; want %q: the mapping is not injective", rest, back, err, ns)
			}
		}
	})
}
