// Command ply runs and inspects ply plugin hosts; see package cli.
package main

import (
	"os"

	"github.com/plykit/ply/cli"
)

func main() { os.Exit(cli.Main()) }
