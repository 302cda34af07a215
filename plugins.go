package ply

// Plugins returns the plugin objects the host runs, in lifecycle order:
// those of the generation that serves once the host started (a reload
// replaces some), the registered ones before. An operator's page reads
// their options ([Configurable]) and capabilities from them. It returns
// nil before the host was built. The plugins are the host's: read them,
// do not call their hooks.
func (h *Host) Plugins() []Plugin {
	_, r, _ := h.registry()
	if r == nil {
		return nil
	}
	out := make([]Plugin, len(r.lifecycle))
	for i, e := range r.lifecycle {
		out[i] = e.p
	}
	return out
}
