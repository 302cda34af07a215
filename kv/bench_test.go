package kv_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/plytest"
)

// BenchmarkStore compares the store with a bare JetStream bucket of the same
// configuration (per-key TTL enabled) on the same in-process server, in one
// run (§11: at least 0.8× bare).
func BenchmarkStore(b *testing.B) {
	js, err := jetstream.New(plytest.NATS(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	bare, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bare", LimitMarkerTTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	s, err := kv.New(ctx, js, "bench")
	if err != nil {
		b.Fatal(err)
	}
	value := []byte("value of a typical size, some tens of bytes")
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "k." + strconv.Itoa(i)
		if _, err := bare.Put(ctx, keys[i], value); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Put(ctx, keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("put/bare", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := bare.Put(ctx, keys[i%len(keys)], value); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("put/store", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Put(ctx, keys[i%len(keys)], value); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("get/bare", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := bare.Get(ctx, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("get/store", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
