package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/redistest"
)

// chromium finds a headless browser. Under CI=true a missing browser fails
// the test (CI installs Debian's chromium); elsewhere the test is skipped.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on the PATH: install the Debian package chromium")
	}
	t.Skip("no chromium on the PATH (apt-get install -y chromium)")
	return ""
}

// browser starts a headless chromium driven over the DevTools protocol;
// it is stopped when the test ends.
func browser(t *testing.T) context.Context {
	bin := chromium(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; its lifetime is ctx's, not a
	// step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs steps with a generous deadline.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript predicate in the page until it holds.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, html)
	}
}

// traffic sends calls to the gateway, about perSecond a second, until the
// test ends; every tick also runs step (heads moving, for instance).
func traffic(t *testing.T, url string, perSecond int, step func(i int)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if step != nil {
				step(i)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(blockNumber))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
}

// openWS opens a client WebSocket connection to the gateway and keeps it
// open until the test ends.
func openWS(t *testing.T, url string) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	done := make(chan struct{})
	go func() { // reads and drops every message; reading answers the gateway's pings
		defer close(done)
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-done })
	return c
}

// historySamples is how many samples GET /status/history holds.
func historySamples(t *testing.T, g *gateway.Gateway) int {
	resp, err := http.Get(g.MetricsURL() + "/status/history")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h gateway.History
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if len(h.Networks) == 0 {
		return 0
	}
	return len(h.Networks[0].Time)
}

// The state colours of the page (light scheme), as computed styles report
// them.
const (
	green = "rgb(220, 252, 231)"
	amber = "rgb(254, 243, 199)"
	red   = "rgb(254, 226, 226)"
)

// badge is the JavaScript expression for the computed background of a
// node's state badge.
func badge(node string) string {
	return fmt.Sprintf(`(() => { const b = document.querySelector('tr[data-node=%q] .badge'); return b ? getComputedStyle(b).backgroundColor : ''; })()`, node)
}

// The status page, rendered by a real browser at desktop and phone widths,
// shows every node with its state, reason and colour, the queue, the
// charts, and the WebSocket and Engine API panels.
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 7)
	f[0].SetDelay(2 * time.Millisecond)
	f[1].SetDelay(6 * time.Millisecond)
	f[2].SetHead(90)                                      // lagging
	f[3].SetChainID(5)                                    // wrong chain
	if err := f[4].SetMode(fakenode.Refuse); err != nil { // down
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "engine:\n  enabled: true\n  jwt_secret: "+secret+"\n  nodes:\n    - url: "+f[5].URL()+"\n    - url: "+f[6].URL()+"\n"+
		netYAML("    network_block_diff: 2\n", nodesYAML("local_nodes", f[0], f[1], f[2], f[3], f[4]), nodesYAML("fallback_nodes", f[5])))
	samples := 6
	shots := os.Getenv("EVMGATE_STATUS_SCREENSHOTS") // a directory: keep the screenshots there
	if shots != "" {
		samples = 90 // a minute and a half of charts
	}
	traffic(t, g.RPCURL()+"/mainnet", 40, func(i int) {
		if i%40 == 0 { // a block a second; the lagging node falls behind and catches up
			h := uint64(100 + i/40)
			for _, n := range []*fakenode.Node{f[0], f[1], f[3], f[5]} {
				n.SetHead(h)
			}
			f[2].SetHead(h - 10 - uint64(i/40%6))
		}
	})
	openWS(t, g.RPCURL()+"/mainnet") // the subscriptions are counted in internal/ws, over real nodes
	for deadline := time.Now().Add(time.Duration(samples)*2*time.Second + 30*time.Second); historySamples(t, g) < samples; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d samples in /status/history", samples)
		}
		time.Sleep(100 * time.Millisecond)
	}

	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(g.MetricsURL()+"/status/page"))
	waitJS(t, ctx, "the first paint", `performance.getEntriesByName('status-painted').length > 0 &&
		performance.getEntriesByName('first-contentful-paint').length > 0`)
	times := eval[[]float64](t, ctx, `[
		performance.getEntriesByName('first-contentful-paint')[0].startTime,
		performance.getEntriesByType('resource').find(e => new URL(e.name).pathname === '/status').responseEnd,
		performance.getEntriesByName('status-painted')[0].startTime]`)
	t.Logf("status page, ms after navigation: first contentful paint %.0f, /status answered %.0f, table painted %.0f", times[0], times[1], times[2])

	for node, want := range map[string]struct{ state, colour, reason string }{
		"fake0": {"serving", green, ""},
		"fake1": {"serving", green, ""},
		"fake2": {"lagging", amber, " blocks behind; network_block_diff 2"},
		"fake3": {"wrong chain", red, "reports chain 5, the network is chain 1"},
		"fake4": {"down", red, "failures in a row"},
		"fake5": {"backup", amber, "standby while the local tier serves"},
	} {
		waitJS(t, ctx, node+" "+want.state, fmt.Sprintf(`document.querySelector('tr[data-node=%q]')?.dataset.state === %q`, node, want.state))
		if got := eval[string](t, ctx, badge(node)); got != want.colour {
			t.Errorf("%s (%s): badge colour %s, want %s", node, want.state, got, want.colour)
		}
		reason := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('tr[data-node=%q] .reason')?.textContent || ''`, node))
		if !strings.Contains(reason, want.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", node, reason, want.reason)
		}
	}
	checkPage(t, ctx)
	desktop := screenshot(t, ctx, 1280, 1)
	checkScreenshot(t, ctx, desktop, 1280, 1)

	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	waitJS(t, ctx, "the phone layout", `getComputedStyle(document.querySelector('table.nodes tr')).display === 'grid'`)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the page is %d px wide: it scrolls sideways", w)
	}
	checkPage(t, ctx)
	phone := screenshot(t, ctx, 390, 2)
	checkScreenshot(t, ctx, phone, 390, 2)

	// The dark scheme keeps the state colours readable.
	do(t, ctx, colourScheme("dark"))
	waitJS(t, ctx, "the dark scheme", `matchMedia('(prefers-color-scheme: dark)').matches`)
	checkContrast(t, ctx)
	if got := eval[string](t, ctx, badge("fake4")); got == red {
		t.Errorf("fake4's badge keeps the light scheme's colour in the dark one")
	}
	dark := screenshot(t, ctx, 390, 2)

	t.Logf("screenshots: desktop %d KiB, phone %d KiB, phone dark %d KiB", len(desktop)/1024, len(phone)/1024, len(dark)/1024)
	if shots != "" {
		// For the README: the desktop page whole, and what a phone shows
		// before scrolling (390×844 at 2×).
		save(t, filepath.Join(shots, "status-page.png"), desktop, 0)
		save(t, filepath.Join(shots, "status-page-phone.png"), phone, 844*2)
	}
}

// save writes a PNG, cut to height pixels when height > 0.
func save(t *testing.T, path string, b []byte, height int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); height > 0 && r.Dy() > height {
		r.Max.Y = r.Min.Y + height
		img = img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(r)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s (%d KiB)", path, out.Len()/1024)
}

// checkPage checks what every width shows: the queue, the three charts
// with lines, the panels and readable badges.
func checkPage(t *testing.T, ctx context.Context) {
	t.Helper()
	waitJS(t, ctx, "the WebSocket connection", `document.querySelector('#ws td[data-label=connections]')?.textContent === '1'`)
	waitJS(t, ctx, "the Engine API nodes", `document.querySelectorAll('#engine tr[data-state=alive]').length === 2`)
	if got := eval[string](t, ctx, `[...document.querySelectorAll('.queues .q')].map(q => q.textContent).join(' | ')`); !strings.Contains(got, "fast track") || !strings.Contains(got, "low") {
		t.Errorf("queue classes: %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('section.net figure.chart path').length`); n < 1+2+4 {
		t.Errorf("%d chart lines, want calls/s, p50 and p99, and a lag line for each of the 4 nodes with a head", n)
	}
	checkContrast(t, ctx)
}

// checkContrast checks that every badge's text stands out from its
// background (WCAG AA: 4.5).
func checkContrast(t *testing.T, ctx context.Context) {
	t.Helper()
	low := eval[[]string](t, ctx, `(() => {
		const lum = c => { const [r, g, b] = c.match(/\d+/g).map(Number).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
			return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		return [...document.querySelectorAll('.badge')].filter(b => { const s = getComputedStyle(b);
			const [a, c] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x); return (a + 0.05) / (c + 0.05) < 4.5; })
			.map(b => b.textContent); })()`)
	if len(low) > 0 {
		t.Errorf("badges with a contrast under 4.5: %v", low)
	}
}

// screenshot captures the whole page at a width, the viewport stretched
// to the document's height.
func screenshot(t *testing.T, ctx context.Context, width int64, scale float64) []byte {
	t.Helper()
	h := eval[int64](t, ctx, `document.documentElement.scrollHeight`)
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(scale)}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile)
	}
	do(t, ctx, chromedp.EmulateViewport(width, h, opts...))
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkScreenshot decodes a PNG and checks that it is the page: the right
// width, not blank, and the colour of a node's badge where the DOM puts it.
func checkScreenshot(t *testing.T, ctx context.Context, b []byte, width int, scale float64) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != int(float64(width)*scale) {
		t.Errorf("screenshot %d px wide, want %v", bounds.Dx(), float64(width)*scale)
	}
	bg := img.At(0, bounds.Dy()-1)
	other := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			if !near(img.At(x, y), bg, 0) {
				other++
			}
		}
	}
	if total := (bounds.Dx() / 4) * (bounds.Dy() / 4); other < total/5 {
		t.Errorf("screenshot nearly blank: %d of %d sampled pixels differ from the background", other, total)
	}
	for node, want := range map[string]color.RGBA{
		"fake0": {0xdc, 0xfc, 0xe7, 0xff},
		"fake2": {0xfe, 0xf3, 0xc7, 0xff},
		"fake4": {0xfe, 0xe2, 0xe2, 0xff},
	} {
		// A point inside the badge, left of its text.
		p := eval[[]float64](t, ctx, fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-node=%q] .badge').getBoundingClientRect();
			return [r.left + 3, r.top + r.height / 2 + window.scrollY]; })()`, node))
		x, y := int(p[0]*scale), int(p[1]*scale)
		if got := img.At(x, y); !near(got, want, 6) {
			t.Errorf("%s badge at (%d,%d) in the screenshot is %v, want %v", node, x, y, got, want)
		}
	}
}

// colourScheme makes the page see prefers-color-scheme as scheme.
func colourScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

func near(a, b color.Color, tol int) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) bool { return abs(int(x>>8)-int(y>>8)) <= tol }
	return d(ar, br) && d(ag, bg) && d(ab, bb)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// A node that goes down turns red on the page within two seconds.
func TestStatusPageShowsNodeDown(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 2)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(g.MetricsURL()+"/status/page"))
	waitJS(t, ctx, "fake1 serving", `document.querySelector('tr[data-node="fake1"]')?.dataset.state === 'serving'`)
	// The page notes the moment the row turns red, by the same clock.
	eval[bool](t, ctx, `(() => { window.redAt = 0;
		new MutationObserver(() => { const r = document.querySelector('tr[data-node="fake1"]');
			if (!window.redAt && r && r.classList.contains('tone-bad')) window.redAt = Date.now(); })
			.observe(document.getElementById('networks'), {childList: true, subtree: true});
		return true; })()`)

	stopped := time.Now()
	if err := f[1].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "fake1 red", `window.redAt > 0`)
	took := time.UnixMilli(int64(eval[float64](t, ctx, `window.redAt`))).Sub(stopped)
	t.Logf("fake1 turned red %v after it stopped", took.Round(time.Millisecond))
	if got := eval[string](t, ctx, badge("fake1")); got != red {
		t.Errorf("fake1's badge is %s, want red %s", got, red)
	}
	if took > 2*time.Second {
		t.Errorf("fake1 turned red %v after it stopped, want within 2s", took)
	}
}

// A node whose breaker is closed shows no breaker badge; once its breaker
// opens it gets a red "breaker open" badge beside its state, which on a
// phone takes its own line; the network's heading says that it hedges.
func TestStatusPageShowsBreaker(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 1)
	g := startGateway(t, netYAML("    cache: false\n    rpc_retries: 2\n    hedge: {enabled: true}\n"+
		"    circuit_breaker: {failures: 3, failure_ratio: 0.5, window: 10s, cooldown: 10m}\n",
		nodesYAML("local_nodes", f...)))
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(g.MetricsURL()+"/status/page"))
	waitJS(t, ctx, "fake0 serving", `document.querySelector('tr[data-node="fake0"]')?.dataset.state === 'serving'`)
	if b := eval[string](t, ctx, `document.querySelector('tr[data-node="fake0"]').dataset.breaker`); b != "closed" {
		t.Errorf("fake0's row: data-breaker %q, want closed", b)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('tr[data-node="fake0"] .badge.breaker').length`); n != 0 {
		t.Errorf("fake0 with its breaker closed shows %d breaker badges, want none", n)
	}
	if h := eval[string](t, ctx, `document.querySelector('section.net h2 small').textContent`); h != "chain 1 · hedged" {
		t.Errorf("network heading %q, want it to say the network is hedged", h)
	}

	if err := f[0].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	// The only node is still tried when down (fail open): each call tries
	// it up to three times, so the failures come in a burst.
	waitFor(t, "fake0's breaker open", func() bool {
		post(t, g.RPCURL()+"/mainnet", blockNumber)
		return breakerOf(t, g, f[0].Name) == "open"
	})
	waitJS(t, ctx, "fake0's breaker badge", `document.querySelector('tr[data-node="fake0"] .badge.breaker')?.textContent === 'breaker open'`)
	colour := eval[string](t, ctx, `getComputedStyle(document.querySelector('tr[data-node="fake0"] .badge.breaker')).backgroundColor`)
	if colour != red {
		t.Errorf("fake0's breaker badge is %s, want red %s", colour, red)
	}
	checkContrast(t, ctx)

	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	waitJS(t, ctx, "the phone layout", `getComputedStyle(document.querySelector('table.nodes tr')).display === 'grid'`)
	if overlap := eval[bool](t, ctx, `(() => { const [a, b] = document.querySelectorAll('tr[data-node="fake0"] .badge');
		const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
		return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom; })()`); overlap {
		t.Errorf("on a phone fake0's state and breaker badges overlap")
	}
}

// A node with a rate limit says so under its name; once it answers HTTP
// 429 it gets an amber "rate limited" badge for the rest of its
// Retry-After, and stays serving.
func TestStatusPageShowsRateLimit(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 1)
	f[0].SetTooMany("web3_clientVersion", "60")
	g := startGateway(t, netYAML("    cache: false\n",
		fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n        name: %s\n        rate_limit: {rate: 25}\n", f[0].URL(), f[0].Name)))
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(g.MetricsURL()+"/status/page"))
	waitJS(t, ctx, "fake0 serving", `document.querySelector('tr[data-node="fake0"]')?.dataset.state === 'serving'`)
	if sub := eval[string](t, ctx, `document.querySelector('tr[data-node="fake0"] .sub').textContent`); !strings.Contains(sub, "at most 25 calls/s") {
		t.Errorf("fake0's row says %q, want its rate limit", sub)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('tr[data-node="fake0"] .badge.cooling').length`); n != 0 {
		t.Errorf("fake0 before any 429 shows %d rate-limited badges, want none", n)
	}
	post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`)
	waitJS(t, ctx, "fake0's rate-limited badge", `document.querySelector('tr[data-node="fake0"] .badge.cooling')?.textContent.startsWith('rate limited')`)
	if colour := eval[string](t, ctx, `getComputedStyle(document.querySelector('tr[data-node="fake0"] .badge.cooling')).backgroundColor`); colour != amber {
		t.Errorf("fake0's rate-limited badge is %s, want amber %s", colour, amber)
	}
	if state := eval[string](t, ctx, `document.querySelector('tr[data-node="fake0"]').dataset.state`); state != "serving" {
		t.Errorf("fake0 after a 429 is %q on the page, want serving", state)
	}
	checkContrast(t, ctx)
}

// A node with a shared rate limit says so under its name, and says when
// Redis cannot be reached and each replica counts its calls alone.
func TestStatusPageShowsSharedRateLimit(t *testing.T) {
	ctx := browser(t)
	rs := redistest.New(t)
	rs.Start()
	f := fakes(t, 1)
	g := startGateway(t, "redis_url: "+rs.URL()+"\n"+netYAML("    cache: false\n",
		fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n        name: %s\n        rate_limit: {rate: 25, shared: true}\n", f[0].URL(), f[0].Name)))
	call := `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`
	if r := post(t, g.RPCURL()+"/mainnet", call); r.status != 200 {
		t.Fatalf("call: %d %s", r.status, r.body)
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(g.MetricsURL()+"/status/page"))
	waitJS(t, ctx, "fake0's shared limit", `document.querySelector('tr[data-node="fake0"] .sub')?.textContent.includes('at most 25 calls/s for all replicas')`)
	rs.Stop()
	if r := post(t, g.RPCURL()+"/mainnet", call); r.status != 200 {
		t.Fatalf("call with Redis down: %d %s", r.status, r.body)
	}
	waitJS(t, ctx, "fake0's limit counted alone", `document.querySelector('tr[data-node="fake0"] .sub')?.textContent.includes('Redis unreachable')`)
	checkContrast(t, ctx)
}

// The page behind a reverse proxy that serves the metrics listener under a
// path prefix: it asks for /status and its history relative to itself, so
// it fills in there too.
func TestStatusPageBehindAPathPrefix(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 1)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f[0])))
	target, err := url.Parse(g.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(http.StripPrefix("/evm", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)

	do(t, ctx, chromedp.Navigate(proxy.URL+"/evm/status/page"))
	waitJS(t, ctx, "fake0 serving behind the prefix", `document.querySelector('tr[data-node="fake0"]')?.dataset.state === 'serving'`)
}
