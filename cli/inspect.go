package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/plykit/ply"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check FILE and report every problem at once (exit 1 if any)",
		Long: "validate makes every check that run makes before it provisions the plugins and binds " +
			"its listener: the file's syntax and size, its keys and values, the plugins it names, every " +
			"plugin's options (as the plugin validates them), dependencies and order, and every route " +
			"as net/http will register it. Problems come with file:line:column, in file order. It does " +
			"not provision plugins, which may connect to other services; ply explain does." + envHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, _, cfg, err := a.load(args[0])
			if err != nil {
				return err
			}
			routes := 0
			for _, m := range cfg.File.Modules {
				routes += len(m.Routes)
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s, %s, %s)\n", args[0],
				count(len(cfg.Plugins), "plugin"), count(len(cfg.File.Modules), "module"), count(routes, "route"))
			return nil
		},
	}
}

// count says "1 plugin", "2 plugins".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// pluginInfo is one plugin in the output of plugins --schema.
type pluginInfo struct {
	Version     string          `json:"version"`
	Priority    int             `json:"priority"`
	Band        string          `json:"band,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"` // null when the plugin takes no options
}

func (a *app) pluginsCmd() *cobra.Command {
	var schema bool
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins this binary knows; with --schema, as JSON with their option schemas",
		Long: "plugins lists the plugins this binary knows, one a line. With --schema it prints one JSON " +
			"document instead, an object keyed by plugin name whose values hold the version, priority, " +
			"description and the JSON Schema of the plugin's options (null when it takes none): " +
			"ply plugins --schema | jq '.ratelimit.schema'.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			all := map[string]pluginInfo{}
			for _, name := range sortedNames(a.catalog) {
				p := a.catalog[name]()
				in := p.Info()
				if !schema {
					_, _ = fmt.Fprintf(w, "%-14s %-8s %-12s %s\n", name, in.Version, band(in.Priority), in.Description)
					continue
				}
				s, err := ply.Schema(p)
				if err != nil {
					return fmt.Errorf("plugin %s: schema: %w", name, err)
				}
				prio := cmp.Or(in.Priority, ply.Business)
				info := pluginInfo{Version: in.Version, Priority: prio, Band: ply.Band(prio), Description: in.Description, Schema: s}
				if s == nil {
					info.Schema = json.RawMessage("null")
				}
				all[name] = info
			}
			if !schema {
				return nil
			}
			b, err := json.MarshalIndent(all, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		},
	}
	cmd.Flags().BoolVar(&schema, "schema", false, "print the plugins and their options' JSON Schemas as one JSON document")
	return cmd
}

func band(p int) string {
	if p == 0 {
		p = ply.Business
	}
	if n := ply.Band(p); n != "" {
		return fmt.Sprintf("%s %d", n, p)
	}
	return fmt.Sprint(p)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (a *app) explainCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "explain FILE [ROUTE]",
		Short: "Print each route's chain (or ROUTE's) and why each plugin sits where it does",
		Long: "explain provisions the plugins and runs their Wrap phase, as start would, then cleans up " +
			"without starting anything, so it shows the chains the host would serve.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, plan, chains, err := a.preview(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			shown := 0
			for _, ch := range chains {
				if len(args) == 2 && ch.Handler().Name != args[1] && ch.Module().Name+"/"+ch.Handler().Name != args[1] {
					continue
				}
				if shown > 0 {
					_, _ = fmt.Fprintln(w)
				}
				x := ch.Explain()
				if cmd.Flags().Changed("tenant") {
					if x, err = h.ExplainTenant(cmd.Context(), tenant, ch.Module().Name, ch.Handler().Name); err != nil {
						return usageError(fmt.Errorf("%w; the tenants of %s are %q", err, args[0], h.Tenants()))
					}
				}
				_, _ = fmt.Fprint(w, x.String())
				if len(x.Steps) == 0 {
					_, _ = fmt.Fprintln(w, "  (no layers)")
				}
				shown++
			}
			if len(args) == 2 && shown == 0 {
				return usageError(fmt.Errorf("no route %q in %s; ply explain %s lists them", args[1], args[0], args[0]))
			}
			if len(args) == 1 {
				_, _ = fmt.Fprintln(w)
				_, _ = fmt.Fprint(w, plan.Explain(ply.LifecycleOrder).String())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "show the chains that serve this tenant (of the file's tenants section), and which plugin versions serve it and why")
	return cmd
}

// preview builds the host of a file, plans it and previews its chains.
func (a *app) preview(ctx context.Context, path string) (*ply.Host, *ply.Plan, []*ply.Chain, error) {
	h, plan, _, err := a.load(path, ply.WithLogger(quiet()))
	if err != nil {
		return nil, nil, nil, err
	}
	chains, err := h.Preview(ctx)
	return h, plan, chains, err
}
