package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// CacheKey is the typed API under which the cache plugin provides its
// [middleware.Cache], for plugins that invalidate entries by tag
// ([middleware.Cache.InvalidateTag]) or read its statistics. Require
// "cache" to look it up in Provision.
var CacheKey = ply.NewKey[*middleware.Cache]("cache.cache")

// Cache is the "cache" plugin: it caches GET and HEAD responses, collapses
// concurrent misses, honours Cache-Control and Vary, marks responses with
// X-Cache: HIT or MISS and invalidates by tag (see [middleware.NewCache]).
// It is the innermost stock layer, in the Performance band. It provides
// its cache under [CacheKey].
//
// Its options are [middleware.CacheOptions]: the zero value keeps up to
// 64 MiB of responses, each for as long as its origin allows (RFC 9111);
// `ttl` opts in to caching responses that carry no freshness of their own.
// Requests with credentials (Authorization, X-API-Key, Cookie, or a caller
// that the auth plugin, which wraps the cache, authenticated) are private:
// their responses are stored only when they say public or s-maxage.
// Route options: [Route] (`skip: true`).
//
// A reload that replaces the plugin (new options) hands the stored
// responses to the new instance where the two would key, tag and keep them
// alike (see [middleware.Cache.Adopt]), so a reload does not send every
// request to the origin at once.
type Cache struct {
	layered
	opts  middleware.CacheOptions
	cache *middleware.Cache
}

var (
	_ ply.Configurable        = (*Cache)(nil)
	_ ply.Provisioner         = (*Cache)(nil)
	_ ply.Wrapper             = (*Cache)(nil)
	_ ply.HandlerConfigurable = (*Cache)(nil)
	_ ply.Cleaner             = (*Cache)(nil)
	_ ply.StateExporter       = (*Cache)(nil)
	_ ply.StateImporter       = (*Cache)(nil)
)

// NewCache returns the plugin with opts (the zero value is the default).
func NewCache(opts middleware.CacheOptions) *Cache { return &Cache{opts: opts} }

// Info names the plugin "cache", in the Performance band.
func (p *Cache) Info() ply.Info {
	return httpInfo("cache", ply.Performance, "caches GET and HEAD responses, with invalidation by tag")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Cache) Options() any { return &p.opts }

// Provision builds the cache and its layer, and provides the cache under
// [CacheKey].
func (p *Cache) Provision(_ context.Context, setup *ply.Setup) error {
	c, err := middleware.NewCache(p.opts)
	if err != nil {
		return err
	}
	p.cache = c
	p.use(c.Middleware())
	return ply.Provide(setup, CacheKey, c)
}

// ExportState hands the stored responses to the instance replacing this one.
func (p *Cache) ExportState(context.Context) (any, error) { return p.cache, nil }

// ImportState takes over the stored responses of the instance this one
// replaces ([middleware.Cache.Adopt]).
func (p *Cache) ImportState(_ context.Context, state any, from ply.Info) error {
	return takeOver(p.Info(), state, from, func(old *middleware.Cache) { p.cache.Adopt(old) })
}

// Cleanup stops the cache's background work.
func (p *Cache) Cleanup(context.Context) error {
	if p.cache == nil {
		return nil
	}
	return p.cache.Close()
}
