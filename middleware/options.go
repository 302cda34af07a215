package middleware

import (
	"errors"
	"fmt"
	"strings"

	"github.com/plykit/ply"
)

// problems collects what is wrong with options, for a Validate method: each problem
// is a [ply.FieldError] naming the field, so that a host reports it at the right
// place in the configuration file.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &ply.FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

// err returns the problems joined, or nil.
func (p problems) err() error { return errors.Join(p...) }

// OptionsError is returned by a constructor whose options are invalid. Its message
// names the layer, each field and the fix ("ratelimit: burst: must be >= 1, got -1");
// Err is what the options' Validate method returned: [ply.FieldError] values,
// joined with [errors.Join] when there are several.
type OptionsError struct {
	Layer string // "ratelimit", "cache"…
	Err   error
}

func (e *OptionsError) Error() string {
	var b strings.Builder
	b.WriteString(e.Layer)
	b.WriteString(": ")
	errs := []error{e.Err}
	if j, ok := e.Err.(interface{ Unwrap() []error }); ok { // only the join's own parts
		errs = j.Unwrap()
	}
	for i, err := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		if fe, ok := errors.AsType[*ply.FieldError](err); ok && fe.Path != "" {
			b.WriteString(fe.Path)
			b.WriteString(": ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *OptionsError) Unwrap() error { return e.Err }

// checked returns an [OptionsError] for layer if v's Validate reports problems.
func checked(layer string, v interface{ Validate() error }) error {
	if err := v.Validate(); err != nil {
		return &OptionsError{Layer: layer, Err: err}
	}
	return nil
}
