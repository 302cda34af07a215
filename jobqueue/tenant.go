package jobqueue

import (
	"context"
	"errors"
	"fmt"

	"github.com/plykit/ply"
)

// ErrNoTenant is returned by [TenantOf] for a job enqueued outside any
// tenant's call, and for a request that is not a job.
var ErrNoTenant = errors.New("jobqueue: the job has no tenant")

// tenantOf returns the tenant of ctx's call, or "".
func tenantOf(ctx context.Context) string {
	t, _ := ply.TenantOf(ctx)
	return t
}

// TenantOf is a [ply.Selector] for job chains on a multi-tenant host: it
// returns the tenant whose call enqueued the job ([Job.Tenant]), recorded
// by [Enqueue] from its context, never named by the enqueuing plugin; the
// job's chain runs for that tenant, and what it stores is that tenant's.
// Combine it with the selector of the host's other calls:
//
//	ply.WithTenants(tenant.First(tenant.Header("X-Tenant"), jobqueue.TenantOf), tenants...)
func TenantOf(_ context.Context, req any) (string, error) {
	j, ok := req.(*Job)
	if !ok {
		return "", fmt.Errorf("a %T is not a job: %w", req, ErrNoTenant)
	}
	if j.Tenant == "" {
		return "", fmt.Errorf("job %s: %w", j.ID, ErrNoTenant)
	}
	return j.Tenant, nil
}
