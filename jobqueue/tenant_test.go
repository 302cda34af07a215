package jobqueue_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/jobqueue"
	"github.com/plykit/ply/plytest"
)

// TestJobsKeepTheirTenant enqueues jobs from two tenants' calls: each job
// records the enqueuing tenant, and its chain runs for that tenant.
func TestJobsKeepTheirTenant(t *testing.T) {
	ran := make(chan string, 2)
	var q *jobqueue.Queue
	enqueue := func(ctx context.Context, c *ply.Call) error {
		_, err := jobqueue.Enqueue(ctx, q, "work", c.Request().(string))
		return err
	}
	work := func(ctx context.Context, c *ply.Call) error {
		j := c.Request().(*jobqueue.Job)
		fromCtx, _ := ply.TenantOf(ctx)
		payload, err := jobqueue.Decode[string](j)
		ran <- payload + " " + j.Tenant + " " + fromCtx
		return err
	}
	byCall := func(_ context.Context, req any) (string, error) {
		if s, ok := req.(string); ok {
			return s, nil
		}
		return "", errors.New("not a call")
	}
	h := plytest.New(t, []ply.Plugin{fakeBackbone(t), jobqueue.NewPlugin(jobqueue.PluginOptions{Stream: "TENANT_JOBS"})},
		ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithTenants(func(ctx context.Context, req any) (string, error) {
			if v, err := jobqueue.TenantOf(ctx, req); err == nil {
				return v, nil
			}
			return byCall(ctx, req)
		}, ply.Tenant{Name: "acme"}, ply.Tenant{Name: "globex"}),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
			{Kind: "rpc", Name: "enqueue", Func: enqueue},
			{Kind: ply.KindJob, Name: "work", Func: work},
		}}))
	var err error
	if q, err = ply.Lookup(h, jobqueue.Key); err != nil {
		t.Fatal(err)
	}
	ch, err := h.Chain("m", "enqueue")
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := ch.Serve(t.Context(), tenant, nil); err != nil {
			t.Fatalf("enqueue as %s: %v", tenant, err)
		}
	}
	got := []string{<-ran, <-ran}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"acme acme acme", "globex globex globex"}, got); diff != "" {
		t.Errorf("jobs (payload, Job.Tenant, the chain's tenant) (-want +got):\n%s", diff)
	}
	if _, err := jobqueue.TenantOf(t.Context(), &jobqueue.Job{ID: "1"}); !errors.Is(err, jobqueue.ErrNoTenant) {
		t.Errorf("TenantOf a job without a tenant: %v, want ErrNoTenant", err)
	}
}
