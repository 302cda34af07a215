package stock_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/graph-gophers/dataloader/v7"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// A plugin that depends on "batch" makes a loader in Provision; concurrent
// loads within the window become one fetch.
func TestBatching(t *testing.T) {
	var fetches [][]int
	var mu sync.Mutex
	var users *dataloader.Loader[int, string]
	consumer := ply.Func{
		Meta: ply.Info{Name: "users", Version: "1.0.0", Requires: []ply.Dependency{{Name: "batch"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			b, err := ply.Lookup(s, stock.BatchingKey)
			if err != nil {
				return err
			}
			users, err = stock.Loader(b, "users", func(_ context.Context, ids []int) ([]string, []error) {
				mu.Lock()
				fetches = append(fetches, slices.Clone(ids))
				mu.Unlock()
				out := make([]string, len(ids))
				errs := make([]error, len(ids))
				for i, id := range ids {
					if id < 0 {
						errs[i] = errors.New("no such user")
						continue
					}
					out[i] = fmt.Sprint("user-", id)
				}
				return out, errs
			})
			if err != nil {
				return err
			}
			_, err = stock.Loader(b, "users", func(context.Context, []int) ([]string, []error) { return nil, nil })
			if err == nil {
				return errors.New("second loader named users: no error, want ErrDuplicate")
			}
			if !errors.Is(err, ply.ErrDuplicate) {
				return fmt.Errorf("second loader named users: %w, want ErrDuplicate", err)
			}
			return nil
		},
	}
	plytest.New(t, []ply.Plugin{consumer, stock.NewBatching(stock.BatchOptions{})}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	got, errs := users.LoadMany(t.Context(), []int{3, 1, -1, 2})()
	if diff := cmp.Diff([]string{"user-3", "user-1", "", "user-2"}, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if errs == nil || errs[2] == nil || errs[0] != nil {
		t.Errorf("errors = %v, want one for -1", errs)
	}
	if len(fetches) != 1 || len(fetches[0]) != 4 {
		t.Errorf("fetches = %v, want one batch of 4 keys", fetches)
	}
}

func TestPools(t *testing.T) {
	var created, destroyed atomic.Int32
	var pools *stock.Pools
	consumer := ply.Func{
		Meta: ply.Info{Name: "db", Version: "1.0.0", Requires: []ply.Dependency{{Name: "pool"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			var err error
			pools, err = ply.Lookup(s, stock.PoolsKey)
			return err
		},
	}
	h, err := ply.New([]ply.Plugin{consumer, stock.NewPools(stock.PoolOptions{})}, ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithHealthCache(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	pool, err := stock.Pool(pools, "conns", 1,
		func(context.Context) (int, error) { return int(created.Add(1)), nil },
		func(int) { destroyed.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	res, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	health := func() ply.State {
		for _, st := range h.Health(t.Context()) {
			if st.Name == "pool" {
				return st.State
			}
		}
		return -1
	}
	if got := health(); got != ply.StateDegraded {
		t.Errorf("health with the only resource in use = %v, want degraded", got)
	}
	res.Release()
	again, _ := pool.Acquire(t.Context())
	if again.Value() != 1 || created.Load() != 1 {
		t.Errorf("second acquire got resource %d after %d creations, want the first one reused", again.Value(), created.Load())
	}
	again.Release()
	if got := health(); got != ply.StateOK {
		t.Errorf("health with the resource released = %v, want ok", got)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if destroyed.Load() != 1 {
		t.Errorf("destroyed %d resources on Stop, want 1", destroyed.Load())
	}
}
