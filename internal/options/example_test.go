package options_test

import (
	"fmt"
	"time"

	"github.com/plykit/ply/internal/options"
)

// Load reports every problem in a plugin's options at once, each with its path
// in the options and its line and column in the file.
func ExampleLoad() {
	type Options struct {
		TTL  time.Duration `json:"ttl,omitempty" jsonschema:"minimum=0"`
		Mode string        `json:"mode,omitempty" jsonschema:"enum=lru,enum=lfu"`
		Size int           `json:"size,omitempty" jsonschema:"minimum=1,maximum=1024"`
	}
	src := options.Source{
		File: "ply.yaml",
		Data: []byte(`plugins:
  cache:
    options:
      ttl: -1m
      mode: fifo
      size: 4096
`),
		Path: "$.plugins.cache.options",
	}
	var opts Options
	for _, p := range options.Load(src, &opts) {
		fmt.Printf("%s:%d:%d: %s\n", src.File, p.Line, p.Column, p)
	}
	// Output:
	// ply.yaml:4:12: ttl: must be >= 0s
	// ply.yaml:5:13: mode: must be one of "lru", "lfu"
	// ply.yaml:6:13: size: must be <= 1024
}

// Decode reports every unknown key and every value of the wrong type, not only
// the first one.
func ExampleDecode() {
	type Options struct {
		TTL   time.Duration `json:"ttl,omitempty"`
		Burst int           `json:"burst,omitempty"`
	}
	src := options.Source{File: "cache.yaml", Data: []byte("tll: 5s\nburst: lots\ncolor: red\n")}
	var opts Options
	for _, p := range options.Decode(src, &opts) {
		fmt.Printf("%s:%d:%d: %s\n", src.File, p.Line, p.Column, p)
	}
	// Output:
	// cache.yaml:1:1: tll: unknown field (did you mean "ttl"?)
	// cache.yaml:2:8: burst: must be an integer, got a string
	// cache.yaml:3:1: color: unknown field (known fields: "ttl", "burst")
}
