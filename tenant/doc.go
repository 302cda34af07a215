// Package tenant reads the tenant of an HTTP call, and other per-call
// choices, for a multi-tenant ply host ([ply.WithTenants]).
//
// # Selectors
//
// Each function here returns a [ply.Selector] that reads one string from
// the *http.Request a chain is called with: [Header], [Host] (a
// subdomain), [PathPrefix] and [PathValue] (a segment of the path), and
// [Claim] (a claim of the bearer token). [First] tries several in turn.
// The same selectors serve [ply.WithWeights] (a sticky key such as the
// user: Claim("sub")) and [ply.WithVersionHeader] (Header("Ply-Version")).
//
// # Token claims are read for routing only
//
// [Claim] decodes the token's payload without verifying its signature: it
// only chooses which tenant's chain runs. That chain's own auth layer
// verifies the token, with the tenant's keys, and refuses a forged one. A
// caller who forges a claim reaches another tenant's chain, whose auth
// rejects them; never that tenant's data.
//
// # The Deprecation header
//
// [Deprecation] is a plugin that adds an RFC 9745 Deprecation header to
// every HTTP response served by a deprecated plugin version
// ([ply.WithRelease]).
package tenant
