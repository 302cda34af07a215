package ply_test

import (
	"context"
	"testing"

	"github.com/plykit/ply"
)

// A plugin can tell a preview (to explain a host) from a start (to serve).
func TestSetupPreview(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(context.Context, *ply.Host) error
		want bool
	}{
		{name: "start", run: func(ctx context.Context, h *ply.Host) error {
			if err := h.Start(ctx); err != nil {
				return err
			}
			return h.Stop(ctx)
		}, want: false},
		{name: "preview", run: func(ctx context.Context, h *ply.Host) error {
			_, err := h.Preview(ctx)
			return err
		}, want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []bool
			p := ply.Func{
				Meta: ply.Info{Name: "p", Version: "1.0.0"},
				OnProvision: func(_ context.Context, s *ply.Setup) error {
					got = append(got, s.Preview())
					return nil
				},
			}
			h, err := ply.New([]ply.Plugin{p})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.run(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("Setup.Preview() in Provision = %v, want [%v]", got, tt.want)
			}
		})
	}
}
