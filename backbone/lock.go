package backbone

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrDataDirInUse is matched (with [errors.Is]) by the error of Provision
// when another embedded server holds the data directory: one in another
// process, or another backbone of this process. Two servers on one
// directory overwrite each other's files and lose messages they both
// confirmed, so the second refuses to start. The error names the
// directory, the holder (process id, command, host and since when) and
// the fix.
var ErrDataDirInUse = errors.New("backbone: data directory in use")

// lockName is the lock file inside the data directory. The operating
// system holds the lock (flock on Unix, an open file that shares no write
// access on Windows) for as long as the file is open, and releases it when
// the process ends, even by kill -9: a lock is never stale. The file's
// content names the holder, for the error of whoever finds it locked.
const lockName = "ply-backbone.lock"

// errLocked is returned by tryLock when another open file holds the lock.
var errLocked = errors.New("locked")

// holder is who holds a data directory, as written in its lock file.
type holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command,omitempty"`
	Host    string    `json:"host,omitempty"`
	Since   time.Time `json:"since"`
}

func (h holder) String() string {
	s := "pid " + strconv.Itoa(h.PID)
	if h.Command != "" {
		s += " (" + h.Command + ")"
	}
	if h.Host != "" {
		s += " on host " + h.Host
	}
	return s + " since " + h.Since.Format(time.RFC3339)
}

// lockDir creates dir if it does not exist, takes its lock and records
// this process as the holder. Closing the returned file releases the lock.
// It returns an error matching [ErrDataDirInUse] when the directory is
// held.
func lockDir(dir string) (*os.File, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, lockName)
	f, err := tryLock(path)
	if errors.Is(err, errLocked) {
		who := "another process"
		var h holder
		b, err := os.ReadFile(path) //nolint:gosec // G304: the directory's own lock file
		if err == nil && json.Unmarshal(b, &h) == nil && h.PID > 0 {
			who = h.String()
		}
		return nil, fmt.Errorf("data directory %s is held by %s: stop that process, or give this one another "+
			"directory with the backbone's dataDir option: %w", dir, who, ErrDataDirInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	h := holder{PID: os.Getpid(), Since: time.Now().UTC().Truncate(time.Second)}
	if exe, err := os.Executable(); err == nil {
		h.Command = filepath.Base(exe)
	}
	h.Host, _ = os.Hostname()
	b, _ := json.Marshal(h) // a struct of plain fields cannot fail
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		_ = f.Close() // the write error is the one to report
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return f, nil
}
