package placement_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/placement"
)

func apiErr(code jetstream.ErrorCode) error {
	return fmt.Errorf("stream X: %w", &jetstream.APIError{Code: 400, ErrorCode: code, Description: "test"})
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no suitable peers", apiErr(10005), true},
		{"system unavailable", apiErr(10008), true},
		{"cluster cannot handle", apiErr(10009), true},
		{"replicas in non-clustered mode", apiErr(10074), false},
		{"name in use", apiErr(jetstream.JSErrCodeStreamNameInUse), false},
		{"not an API error", errors.New("boom"), false},
		{"deadline", context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := placement.Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	permanent := apiErr(10074)
	tests := []struct {
		name      string
		answers   []error // what create returns, call by call; the last repeats
		wantCalls int
		wantErr   error
	}{
		{"at once", []error{nil}, 1, nil},
		{"after the cluster settled", []error{apiErr(10005), apiErr(10008), nil}, 3, nil},
		{"permanent error at once", []error{permanent}, 1, permanent},
		{"permanent after transient", []error{apiErr(10005), permanent}, 2, permanent},
		{"unanswered during an election", []error{context.DeadlineExceeded, fmt.Errorf("consumer: %w", nats.ErrNoResponders), nil}, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := placement.Create(t.Context(), func(context.Context) (int, error) {
				err := tt.answers[min(calls, len(tt.answers)-1)]
				calls++
				if err != nil {
					return 0, err
				}
				return 42, nil
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Create: error %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("create called %d times, want %d", calls, tt.wantCalls)
			}
			if err == nil && got != 42 {
				t.Errorf("Create = %d, want 42", got)
			}
		})
	}
}

// TestCreateCanceled: when ctx ends while the cluster settles, the error
// says both why Create stopped and what the cluster answered last.
func TestCreateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	_, err := placement.Create(ctx, func(context.Context) (int, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return 0, apiErr(10005)
	})
	var apiErr *jetstream.APIError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10005 {
		t.Fatalf("Create: error %v, want context.Canceled joined with the no-peers error", err)
	}
	if calls != 2 {
		t.Errorf("create called %d times, want 2", calls)
	}
}
