package cli

import "log/slog"

// quiet is the logger of commands that only inspect: their output is the report.
func quiet() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
