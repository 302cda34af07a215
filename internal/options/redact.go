package options

import "encoding/json"

// Redacted is what [Redact] puts in place of a secret.
const Redacted = "[redacted]"

// Redact returns v (an options struct, or a pointer to one) as JSON values
// (maps, slices, strings, numbers), with the value under every key that
// names a secret (key, token, password…, as in problem messages) replaced
// by [Redacted]: what an operator's page may show of a plugin's options.
func Redact(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return redactValue(out), nil
}

func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secret(k) && x != nil && x != "" {
				v[k] = Redacted
				continue
			}
			v[k] = redactValue(x)
		}
	case []any:
		for i, x := range v {
			v[i] = redactValue(x)
		}
	}
	return v
}
