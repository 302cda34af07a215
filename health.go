package ply

import (
	"context"
	"errors"
	"fmt"
)

// State is a plugin's health state.
type State int32

const (
	Starting State = iota // registered, in the start phases
	OK                    // started and healthy
	Degraded              // started, serving with reduced service
	Failed                // failed a hook or its health check
	Stopping              // in the stop phases
	Stopped               // stopped and cleaned up
)

var stateNames = [...]string{"starting", "ok", "degraded", "failed", "stopping", "stopped"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Status is one plugin's health.
type Status struct {
	Name, Version string
	Policy        Policy
	State         State
	Err           error // why it is degraded or failed
}

// Health reports every plugin's state, in lifecycle order. For started
// plugins that implement [HealthChecker] it calls Health (under the
// [OpHealth] timeout and recover) and reports [OK], [Degraded] or [Failed].
// Before the host was built it returns nil.
func (h *Host) Health(ctx context.Context) []Status {
	h.mu.Lock()
	r, running := h.resolved, h.state == stateStarted
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	out := make([]Status, 0, len(r.lifecycle))
	for _, e := range r.lifecycle {
		st := Status{Name: e.info.Name, Version: e.info.Version, Policy: e.info.Policy, State: State(e.state.Load()), Err: e.failed}
		if hc, ok := e.p.(HealthChecker); ok && running && e.failed == nil && e.started { // re-checked every time: health recovers
			err := h.run(ctx, e, OpHealth, "", hc.Health)
			var pe *PluginError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			switch {
			case err == nil:
				st.State = OK
			case errors.Is(err, ErrDegraded):
				st.State, st.Err = Degraded, err
			default:
				st.State, st.Err = Failed, err
			}
			for { // only a running state is replaced: a concurrent Stop wins
				cur := e.state.Load()
				if (cur != int32(OK) && cur != int32(Degraded) && cur != int32(Failed)) || e.state.CompareAndSwap(cur, int32(st.State)) {
					break
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// Ready returns nil when the host has started and every required plugin is
// OK or degraded; otherwise an error naming each plugin that is not.
func (h *Host) Ready(ctx context.Context) error {
	h.mu.Lock()
	state := h.state
	h.mu.Unlock()
	if state != stateStarted {
		return ErrNotStarted
	}
	var errs []error
	for _, st := range h.Health(ctx) {
		if st.Policy == Required && st.State != OK && st.State != Degraded {
			errs = append(errs, fmt.Errorf("plugin %s@%s is %s: %v", st.Name, st.Version, st.State, st.Err))
		}
	}
	return errors.Join(errs...)
}
