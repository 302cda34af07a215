package cli

import (
	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

// stockCatalog is the set of plugins every ply binary knows.
func stockCatalog() config.Catalog {
	return config.Catalog{
		"httpserver": func() ply.Plugin { return httpserver.New(httpserver.Options{}) },
	}
}
