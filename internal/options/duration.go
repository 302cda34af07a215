package options

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// A [time.Duration] is a string in the schema, as it is written in a file
// ("1.5s", "2m", "1h30m"), not the integer of nanoseconds that
// encoding/json makes of it. Its limits are the keywords minDuration and
// maxDuration, which this package's vocabulary checks; an options struct
// writes them as minimum and maximum in its jsonschema tag, as a duration
// ("minimum=1ms") or a number of nanoseconds ("minimum=1000000").

// durationPattern is what [time.ParseDuration] accepts: a sign, then "0" or
// decimal numbers each with a unit.
const durationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// The keywords of the duration vocabulary.
const (
	minDurationKeyword = "minDuration"
	maxDurationKeyword = "maxDuration"
	durationVocabURL   = "https://plykit.dev/schema/vocab/duration"
)

// durationMessage says how to write a duration, for a value that is not one.
const durationMessage = `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`

// describeDurations rewrites, in the schema s of Go type t, the schemas of
// durations as strings with their limits, which it reads from the tag of
// the struct field that holds them. defs are the schema's definitions, for
// types that contain themselves.
func describeDurations(t reflect.Type, s *jsonschema.Schema, tag reflect.StructTag, defs jsonschema.Definitions, seen map[*jsonschema.Schema]bool) error {
	if s == nil || seen[s] {
		return nil
	}
	seen[s] = true
	if s.Ref != "" {
		return describeDurations(t, defs[strings.TrimPrefix(s.Ref, "#/$defs/")], tag, defs, seen)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return durationSchema(s, tag)
	}
	if encodesItself(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return describeDurations(t.Elem(), s.Items, tag, defs, seen)
	case reflect.Map:
		return describeDurations(t.Elem(), s.AdditionalProperties, tag, defs, seen)
	case reflect.Struct:
		if s.Properties == nil {
			return nil
		}
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			f, ok := jsonField(t, p.Key)
			if !ok {
				continue
			}
			if err := describeDurations(f.Type, p.Value, f.Tag, defs, seen); err != nil {
				return fmt.Errorf("%s: %w", p.Key, err)
			}
		}
	}
	return nil
}

// durationSchema makes s, the schema that the reflector made of a duration
// (an integer), the schema of a duration string.
func durationSchema(s *jsonschema.Schema, tag reflect.StructTag) error {
	*s = jsonschema.Schema{Type: "string", Pattern: durationPattern, Description: s.Description}
	for kv := range strings.SplitSeq(tag.Get("jsonschema"), ",") {
		name, val, _ := strings.Cut(kv, "=")
		var keyword string
		switch name {
		case "minimum":
			keyword = minDurationKeyword
		case "maximum":
			keyword = maxDurationKeyword
		case "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum":
			return fmt.Errorf("jsonschema tag %q: a duration takes minimum and maximum only", kv)
		default:
			continue
		}
		d, err := parseLimit(val)
		if err != nil {
			return fmt.Errorf("jsonschema tag %q: %w", kv, err)
		}
		if s.Extras == nil {
			s.Extras = map[string]any{}
		}
		s.Extras[keyword] = formatDuration(d)
	}
	return nil
}

// parseLimit reads a duration's limit: a duration ("1ms") or an integer
// number of nanoseconds.
func parseLimit(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 1ms, or nanoseconds: %w", err)
	}
	return d, nil
}

// encodesItself reports whether values of t encode themselves (time.Time,
// slog.Level, json.RawMessage…): the schema says what they encode to, and
// no duration inside them is rewritten.
func encodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t == timeType || pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType) ||
		pt.Implements(textUnmarshalerType) || pt.Implements(jsonUnmarshalerType)
}

// durationStrings rewrites, in inst (options of type t as encoding/json
// encodes them), the durations as strings, as the schema describes them.
func durationStrings(inst any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if n, ok := inst.(json.Number); ok {
			if ns, err := n.Int64(); err == nil {
				return time.Duration(ns).String()
			}
		}
		return inst
	}
	if encodesItself(t) {
		return inst
	}
	switch v := inst.(type) {
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range v {
				v[i] = durationStrings(e, t.Elem())
			}
		}
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, e := range v {
				v[k] = durationStrings(e, t.Elem())
			}
		case reflect.Struct:
			for k, e := range v {
				if f, ok := jsonField(t, k); ok {
					v[k] = durationStrings(e, f.Type)
				}
			}
		}
	}
	return inst
}

// durationVocab is the vocabulary of minDuration and maxDuration.
func durationVocab() (*validator.Vocabulary, error) {
	c := validator.NewCompiler()
	meta, err := validator.UnmarshalJSON(strings.NewReader(`{"properties": {` +
		`"` + minDurationKeyword + `": {"type": "string", "pattern": "` + strings.ReplaceAll(durationPattern, `\`, `\\`) + `"},` +
		`"` + maxDurationKeyword + `": {"type": "string", "pattern": "` + strings.ReplaceAll(durationPattern, `\`, `\\`) + `"}}}`))
	if err != nil {
		return nil, err
	}
	if err := c.AddResource(durationVocabURL, meta); err != nil {
		return nil, err
	}
	s, err := c.Compile(durationVocabURL)
	if err != nil {
		return nil, err
	}
	return &validator.Vocabulary{URL: durationVocabURL, Schema: s, Compile: compileDurationLimits}, nil
}

func compileDurationLimits(_ *validator.CompilerContext, obj map[string]any) (validator.SchemaExt, error) {
	var l durationLimits
	for keyword, dst := range map[string]**time.Duration{minDurationKeyword: &l.min, maxDurationKeyword: &l.max} {
		v, ok := obj[keyword]
		if !ok {
			continue
		}
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyword, err)
		}
		*dst = &d
	}
	if l.min == nil && l.max == nil {
		return nil, nil
	}
	return &l, nil
}

// durationLimits checks a duration string against its limits; a string
// that is not a duration is the pattern's to report.
type durationLimits struct{ min, max *time.Duration }

func (l *durationLimits) Validate(ctx *validator.ValidatorContext, v any) {
	s, ok := v.(string)
	if !ok {
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return
	}
	if l.min != nil && d < *l.min {
		ctx.AddError(&durationLimit{keyword: minDurationKeyword, op: ">=", want: *l.min, got: d})
	}
	if l.max != nil && d > *l.max {
		ctx.AddError(&durationLimit{keyword: maxDurationKeyword, op: "<=", want: *l.max, got: d})
	}
}

// durationLimit is a duration out of its limits.
type durationLimit struct {
	keyword   string
	op        string
	want, got time.Duration
}

func (k *durationLimit) KeywordPath() []string { return []string{k.keyword} }

func (k *durationLimit) LocalizedString(*message.Printer) string {
	return "must be " + k.op + " " + formatDuration(k.want)
}

// formatDuration writes d as people write it: "5m" and "1h", not "5m0s"
// and "1h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
