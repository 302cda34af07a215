package option_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/plykit/ply/option"
)

func TestErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  option.Error
		want string
	}{
		{
			name: "plugin options from a file",
			err:  option.Error{Plugin: "cache", Field: "ttl", File: "ply.yaml", Line: 12, Column: 8, Problem: "must be >= 0s"},
			want: "ply.yaml:12:8: plugin cache: ttl: must be >= 0s",
		},
		{
			name: "module options",
			err:  option.Error{Plugin: "cache", Module: "users", Field: "ttl", File: "ply.yaml", Line: 30, Problem: "must be >= 0s"},
			want: "ply.yaml:30: module users (plugin cache): ttl: must be >= 0s",
		},
		{
			name: "handler options",
			err:  option.Error{Plugin: "cache", Module: "users", Handler: "list", Field: "ttl", Problem: "must be >= 0s"},
			want: "module users, handler list (plugin cache): ttl: must be >= 0s",
		},
		{
			name: "file without a position",
			err:  option.Error{Plugin: "cache", File: "ply.yaml", Problem: "must be a mapping, got a list"},
			want: "ply.yaml: plugin cache: must be a mapping, got a list",
		},
		{
			name: "middleware constructor",
			err:  option.Error{Plugin: "ratelimit", Field: "burst", Problem: "must be >= 1, got -1"},
			want: "plugin ratelimit: burst: must be >= 1, got -1",
		},
		{
			name: "from a Validate method",
			err:  option.Error{Field: "servers[2].url", Problem: "must differ from servers[0].url"},
			want: "servers[2].url: must differ from servers[0].url",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorAs(t *testing.T) {
	err := fmt.Errorf("load: %w", errors.Join(
		errors.New("unrelated"),
		&option.Error{Plugin: "cache", Field: "ttl", Problem: "must be >= 0s"},
	))
	e, ok := errors.AsType[*option.Error](err)
	if !ok || e.Field != "ttl" {
		t.Fatalf("errors.AsType[*option.Error](%v) = %+v, %v; want the ttl problem", err, e, ok)
	}
}
