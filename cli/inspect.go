package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plykit/ply"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check FILE and report every problem at once (exit 1 if any)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, cfg, err := a.load(args[0])
			if err != nil {
				return err
			}
			if _, err := h.Plan(); err != nil {
				return err
			}
			routes := 0
			for _, m := range cfg.File.Modules {
				routes += len(m.Routes)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d plugins, %d modules, %d routes)\n", args[0], len(cfg.Plugins), len(cfg.File.Modules), routes)
			return nil
		},
	}
}

func (a *app) pluginsCmd() *cobra.Command {
	var schema bool
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins this binary knows, with their option schemas",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			for _, name := range sortedNames(a.catalog) {
				p := a.catalog[name]()
				in := p.Info()
				fmt.Fprintf(w, "%-14s %-8s %-12s %s\n", name, in.Version, band(in.Priority), in.Description)
				if !schema {
					continue
				}
				s, err := ply.Schema(p)
				if err != nil {
					return fmt.Errorf("plugin %s: schema: %w", name, err)
				}
				if s == nil {
					fmt.Fprintln(w, "  (no options)")
					continue
				}
				var pretty strings.Builder
				var v any
				_ = json.Unmarshal(s, &v)
				b, _ := json.MarshalIndent(v, "  ", "  ")
				pretty.Write(b)
				fmt.Fprintln(w, "  "+pretty.String())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&schema, "schema", false, "print each plugin's options schema (JSON Schema)")
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
	return &cobra.Command{
		Use:   "explain FILE [ROUTE]",
		Short: "Print each route's chain (or ROUTE's) and why each plugin sits where it does",
		Long: "explain provisions the plugins and runs their Wrap phase, as start would, then cleans up " +
			"without starting anything, so it shows the chains the host would serve.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, chains, err := a.preview(cmd.Context(), args[0])
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
					fmt.Fprintln(w)
				}
				x := ch.Explain()
				fmt.Fprint(w, x.String())
				if len(x.Steps) == 0 {
					fmt.Fprintln(w, "  (no layers)")
				}
				shown++
			}
			if len(args) == 2 && shown == 0 {
				return fmt.Errorf("%w: no route %q in %s", errUsage, args[1], args[0])
			}
			if len(args) == 1 {
				fmt.Fprintln(w)
				fmt.Fprint(w, plan.Explain(ply.LifecycleOrder).String())
			}
			return nil
		},
	}
}

// preview builds the host of a file, plans it and previews its chains.
func (a *app) preview(ctx context.Context, path string) (*ply.Plan, []*ply.Chain, error) {
	h, _, err := a.load(path, ply.WithLogger(quiet()))
	if err != nil {
		return nil, nil, err
	}
	plan, err := h.Plan()
	if err != nil {
		return nil, nil, err
	}
	chains, err := h.Preview(ctx)
	return plan, chains, err
}
