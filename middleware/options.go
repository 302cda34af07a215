package middleware

import (
	"errors"
	"fmt"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/option"
)

// problems collects what is wrong with options, for a Validate method: each problem
// is an [*option.Error] naming the field, so that a host reports it at the right
// place in the configuration file.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &option.Error{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// err returns the problems joined, or nil.
func (p problems) err() error { return errors.Join(p...) }

// checked returns what is wrong with opts, the options of layer, as one
// [*option.Error] per problem naming the layer (as Plugin), joined with
// [errors.Join]; nil when they are valid. The limits are the options'
// jsonschema tags, checked as a host checks a plugin's options; their
// Validate method checks the rest.
func checked(layer string, opts any) error {
	ps := options.Validate(opts, nil)
	errs := make([]error, len(ps))
	for i, p := range ps {
		p.Plugin = layer
		errs[i] = p
	}
	return errors.Join(errs...)
}
