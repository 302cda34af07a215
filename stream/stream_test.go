package stream_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply"
	"github.com/plykit/ply/stream"
)

// count emits 0..n-1, recording how many emits returned.
func count(n int, emitted *atomic.Int64) func(context.Context, func(int) error) error {
	return func(_ context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				return err
			}
			if emitted != nil {
				emitted.Add(1)
			}
		}
		return nil
	}
}

func collect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func TestAll(t *testing.T) {
	for _, buffer := range []int{0, 1, 16} {
		got, err := collect(stream.New(t.Context(), buffer, count(5, nil)))
		if err != nil {
			t.Fatalf("buffer %d: %v", buffer, err)
		}
		if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, got); diff != "" {
			t.Errorf("buffer %d (-want +got):\n%s", buffer, diff)
		}
	}
}

// Each range runs the producer again.
func TestRangeTwice(t *testing.T) {
	s := stream.New(t.Context(), 2, count(3, nil))
	for range 2 {
		got, err := collect(s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{0, 1, 2}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
}

func TestProducerError(t *testing.T) {
	errBoom := errors.New("boom")
	s := stream.New(t.Context(), 4, func(_ context.Context, emit func(string) error) error {
		if err := emit("a"); err != nil {
			return err
		}
		return errBoom
	})
	var got []string
	var errs []error
	for v, err := range s {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, v)
	}
	if diff := cmp.Diff([]string{"a"}, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if len(errs) != 1 || !errors.Is(errs[0], errBoom) {
		t.Errorf("errors = %v, want exactly [boom] as the last element", errs)
	}
}

func TestProducerPanic(t *testing.T) {
	s := stream.New(t.Context(), 0, func(_ context.Context, _ func(int) error) error {
		panic("bad producer")
	})
	_, err := collect(s)
	if pe, ok := errors.AsType[*ply.PanicError](err); !ok || pe.Value != "bad producer" {
		t.Errorf("err = %v, want a *ply.PanicError", err)
	}
}

// Breaking out of the loop cancels the producer, and the range returns
// only once it has returned (goleak checks no goroutine is left).
func TestEarlyBreak(t *testing.T) {
	var producerErr error
	stopped := make(chan struct{})
	s := stream.New(t.Context(), 1, func(_ context.Context, emit func(int) error) error {
		defer close(stopped)
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				producerErr = err
				return err
			}
		}
	})
	for v, err := range s {
		if err != nil {
			t.Fatal(err)
		}
		if v == 3 {
			break
		}
	}
	select {
	case <-stopped:
	default:
		t.Fatal("range returned before the producer did")
	}
	if !errors.Is(producerErr, context.Canceled) {
		t.Errorf("emit after break = %v, want context.Canceled", producerErr)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := stream.New(ctx, 0, func(_ context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	n := 0
	var last error
	for v, err := range s {
		if err != nil {
			last = err
			break
		}
		if v == 2 {
			cancel()
		}
		n++
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("last element error = %v, want context.Canceled", last)
	}
	if n < 3 {
		t.Errorf("got %d values before the cancellation, want 3", n)
	}
}

// A producer that ignores nothing but finishes after ctx is done still
// ends the stream with ctx's error: the stream may be incomplete.
func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := collect(stream.New(ctx, 4, count(10, nil)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// The producer runs at most buffer values ahead of the consumer.
func TestBackpressure(t *testing.T) {
	for _, buffer := range []int{0, 1, 5} {
		synctest.Test(t, func(t *testing.T) {
			var emitted atomic.Int64
			consumed := 0
			for _, err := range stream.New(t.Context(), buffer, count(20, &emitted)) {
				if err != nil {
					t.Fatal(err)
				}
				consumed++
				synctest.Wait() // the producer is blocked in emit
				if ahead := int(emitted.Load()) - consumed; ahead > buffer || (consumed+buffer <= 20 && ahead != buffer) {
					t.Fatalf("buffer %d: producer is %d ahead after %d consumed, want %d", buffer, ahead, consumed, min(buffer, 20-consumed))
				}
			}
			if consumed != 20 {
				t.Errorf("consumed %d, want 20", consumed)
			}
		})
	}
}
