package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plykit/ply/internal/draw"
)

func (a *app) graphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the plugin graph and each route's chain as DOT, Mermaid or SVG",
		Args:  cobra.ExactArgs(1),
		Long: "graph draws the plugins in lifecycle order with their edges, and each route's chain. " +
			"An arrow labelled requires points from a plugin to the plugin it requires; part of, from a " +
			"child to its parent; before, from the plugin that runs first to the one after it. " +
			"Like explain, it provisions the plugins and runs their Wrap phase, then cleans up.",
		RunE: func(cmd *cobra.Command, args []string) error {
			render := map[string]func(*draw.Graph, *strings.Builder){"dot": (*draw.Graph).DOT, "mermaid": (*draw.Graph).Mermaid, "svg": (*draw.Graph).SVG}[format]
			if render == nil {
				return usageError(fmt.Errorf("--format %q: want dot, mermaid or svg", format))
			}
			plan, chains, err := a.preview(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			// Drawn in memory, then written at once; as with the other commands, a
			// failed write to the output is not an error of the command.
			var out strings.Builder
			render(draw.New(plan, chains), &out)
			_, _ = io.WriteString(cmd.OutOrStdout(), out.String())
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "dot", "dot, mermaid or svg")
	return cmd
}
