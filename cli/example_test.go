package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plykit/ply"
	"github.com/plykit/ply/cli"
)

// A binary of your own: the ply command plus a plugin of yours, which its
// config files can then name. In main: os.Exit(cli.Main(cli.WithPlugin(…))).
// Here the command runs `validate` on a file that names the new plugin.
func Example() {
	audit := func() ply.Plugin {
		return ply.Func{
			Meta: ply.Info{Name: "audit", Version: "1.0.0", Kinds: []ply.Kind{ply.KindHTTP}},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					return next.Run(ctx) // record who did what, then go on
				}}, nil
			},
		}
	}
	dir, err := os.MkdirTemp("", "cli-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	file := filepath.Join(dir, "ply.yaml")
	yaml := "plugins:\n  - name: audit\nmodules:\n  - name: api\n    routes:\n      - route: GET /hello\n        static: {text: hello}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		panic(err)
	}

	var out strings.Builder
	cmd := cli.New(cli.WithPlugin("audit", audit))
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"validate", file})
	err = cmd.Execute()
	fmt.Print(strings.TrimPrefix(out.String(), dir+string(filepath.Separator)))
	fmt.Println("exit status", cli.ExitCode(err))
	// Output:
	// ply.yaml: ok (2 plugins, 1 module, 1 route)
	// exit status 0
}
