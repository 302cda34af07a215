// Package browsertest starts Debian's chromium, headless, for the tests of
// ply's web pages (the admin page, the registry), with the flags this
// workplace's closed network needs, and keeps their screenshots.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a started chromium and where its screenshots go.
type Browser struct {
	// Ctx runs chromedp actions in the browser's one tab, for at most 90
	// seconds in all; it ends with the test.
	Ctx context.Context
	// Shots is the screenshots' directory: $PLY_ARTIFACTS/<name> when
	// PLY_ARTIFACTS is set (kept), else a temporary one.
	Shots string
}

// Start starts chromium with a fresh profile and a window of width ×
// height. Without chromium it skips the test, except in CI (CI set), where
// its absence fails it: .ci/run installs it.
func Start(t *testing.T, name string, width, height int) *Browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(find(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		// Without these, chromium's connections are refused by the closed
		// network, many at a time.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	// The first action allocates the browser, bound to the context it runs
	// with: start it on ctx, so that contexts of single steps can end.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &Browser{Ctx: ctx, Shots: artifacts(t, name)}
}

// Screenshot is an action that saves the whole page as Shots/name.png.
func (b *Browser) Screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.Shots, name+".png"), png, 0o600)
	})
}

// find returns Debian's chromium, or skips or fails the test without it.
func find(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); this browser test needs it")
	return ""
}

func artifacts(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("PLY_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // the directory the person running the tests named
		t.Fatal(err)
	}
	return dir
}
