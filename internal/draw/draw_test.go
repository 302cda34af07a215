package draw_test

import (
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/draw"
)

func TestStyledSVG(t *testing.T) {
	h, err := ply.New([]ply.Plugin{
		ply.Func{Meta: ply.Info{Name: "a", Version: "1.0.0"}},
		ply.Func{Meta: ply.Info{Name: "b", Version: "1.0.0", Requires: []ply.Dependency{{Name: "a"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.Plan()
	if err != nil {
		t.Fatal(err)
	}
	g := draw.New(plan, nil)
	var plain, none, styled strings.Builder
	g.SVG(&plain)
	g.StyledSVG(&none, nil)
	if plain.String() != none.String() {
		t.Error("StyledSVG(nil) differs from SVG")
	}
	g.StyledSVG(&styled, func(in ply.Info) draw.Style {
		if in.Name == "b" {
			return draw.Style{Fill: "#fdecea", Title: "b <failed>", Attrs: `data-plugin="b"`}
		}
		return draw.Style{}
	})
	out := styled.String()
	for _, want := range []string{
		`<g data-plugin="b"><rect`, `fill="#fdecea" stroke="#3b6db3"`, `<title>b &lt;failed&gt;</title>`, // b styled, its title escaped
		`<g><rect`, `fill="#eef3fb"`, // a as SVG draws it
	} {
		if !strings.Contains(out, want) {
			t.Errorf("styled SVG lacks %q:\n%s", want, out)
		}
	}
}
