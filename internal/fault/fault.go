// Package fault holds the errors that the kernel shares with packages that
// must not import it (middleware and stream are plain Go): the kernel
// exports them under its own names, ply.PanicError and ply.ErrDegraded, so
// that each is one type or one sentinel, whichever package made it.
package fault

import (
	"errors"
	"fmt"
)

// ErrDegraded is ply.ErrDegraded.
var ErrDegraded = errors.New("ply: degraded")

// PanicError is ply.PanicError: a recovered panic, with the stack of the
// goroutine that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
