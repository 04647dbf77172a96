package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// One Chromium serves the whole test binary: starting it costs about a
// second, a new tab in a new browser context (its own cookies) a few
// milliseconds. It is started on first use, so that `go test -run` of nothing
// here starts no browser.
var browser struct {
	once   sync.Once
	ctx    context.Context // a chromedp context holding the running browser
	err    error           // why there is no browser
	cancel []context.CancelFunc
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(browser.cancel) - 1; i >= 0; i-- {
		browser.cancel[i]()
	}
	os.Exit(code)
}

// chromiumPath finds the browser: CAREGATE_CHROMIUM, else Debian's chromium.
func chromiumPath() (string, error) {
	if p := os.Getenv("CAREGATE_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("Chromium is not installed (apt-get install -y chromium, or set CAREGATE_CHROMIUM)")
}

// needBrowser returns the shared browser's context. Without a browser the
// test is skipped locally and fails under CI, where the browser tests are part
// of what a green run promises.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests cannot run under CI: %v", browser.err)
		}
		t.Skipf("skipping browser tests: %v (under CI=true this fails)", browser.err)
	}
	return browser.ctx
}

func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		browser.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// CI and developers' machines run as root in containers, where
		// Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("window-size", "1280,1024"),
		chromedp.Flag("lang", "en-GB"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	browser.cancel = append(browser.cancel, cancelAlloc, cancel)
	// The first Do starts the browser and binds its life to ctx, which has
	// no deadline for that reason.
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start %s: %w", path, err)
		return
	}
	browser.ctx = ctx
}
