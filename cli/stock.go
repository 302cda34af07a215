package cli

import (
	"maps"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/jobqueue"
	"github.com/plykit/ply/stock"
	"github.com/plykit/ply/task"
)

// stockCatalog is the set of plugins every ply binary knows: the stock
// HTTP plugins and server, the NATS backbone, job and event handlers, and
// background tasks.
func stockCatalog() config.Catalog {
	cat := config.Catalog{
		"backbone": func() ply.Plugin { return backbone.New(backbone.Options{}) },
		"tasks":    func() ply.Plugin { return task.NewPlugin() },
		"jobs":     func() ply.Plugin { return jobqueue.NewPlugin(jobqueue.PluginOptions{}) },
		"events":   func() ply.Plugin { return eventbus.NewPlugin() },
	}
	maps.Copy(cat, stock.Catalog())
	return cat
}
