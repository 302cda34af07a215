package eventbus

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/plykit/ply"
)

// hdrTenant carries the publishing call's tenant in an event sent over
// NATS.
const hdrTenant = "Ply-Tenant"

// ErrNoTenant is returned by [TenantOf] for an event published outside
// any tenant's call.
var ErrNoTenant = errors.New("eventbus: the event has no tenant")

// remoteTenantKey holds, in a remote subscriber's context, the tenant an
// event came with.
type remoteTenantKey struct{}

// setTenant records the tenant of ctx's call in m, for remote subscribers.
func setTenant(ctx context.Context, m *nats.Msg) {
	if t, ok := ply.TenantOf(ctx); ok {
		headerCarrier{m}.Set(hdrTenant, t)
	}
}

// withTenant returns ctx with the tenant m came with, if any.
func withTenant(ctx context.Context, m *nats.Msg) context.Context {
	if t := m.Header.Get(hdrTenant); t != "" {
		return context.WithValue(ctx, remoteTenantKey{}, t)
	}
	return ctx
}

// TenantOf returns the tenant of the call that published the event a
// subscriber's context belongs to: the publisher's own context for an
// in-process delivery ([ply.TenantOf]), and for a remote one the tenant
// the event carried over NATS, recorded from the publisher's context when
// it was sent — never a name the publishing plugin passed. It is also a
// [ply.Selector] for event handlers' chains on a multi-tenant host: the
// chain runs for the publishing tenant. Combine it with the selector of
// the host's other calls:
//
//	ply.WithTenants(tenant.First(tenant.Header("X-Tenant"), eventbus.TenantOf), tenants...)
//
// Whoever may publish on the NATS subjects may set the header: give
// publish permissions on a shared NATS only to the hosts.
func TenantOf(ctx context.Context, _ any) (string, error) {
	if t, ok := ply.TenantOf(ctx); ok {
		return t, nil
	}
	if t, ok := ctx.Value(remoteTenantKey{}).(string); ok {
		return t, nil
	}
	return "", ErrNoTenant
}
