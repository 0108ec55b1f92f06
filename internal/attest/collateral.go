package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The vendors' collateral services, as go-sev-guest and go-tdx-guest name
// them in the URLs they ask for.
const (
	amdKDS   = "https://kdsintf.amd.com"
	intelPCS = "https://api.trustedservices.intel.com"
)

// maxCollateral bounds one downloaded document.
const maxCollateral = 4 << 20

// store fetches collateral and keeps it in memory and, with a directory,
// on disk. Offline, it only reads the directory.
type store struct {
	set    Settings
	client *http.Client

	mu  sync.Mutex // mu protects mem
	mem map[string]doc
}

type doc struct {
	header http.Header
	body   []byte
	until  time.Time
}

func newStore(set Settings) *store {
	return &store{set: set, client: &http.Client{Timeout: set.FetchTimeout.D()}, mem: map[string]doc{}}
}

// Path returns where the document of rawURL is kept under dir: the URL
// without its scheme, the query kept after '?'. A node operator copies
// collateral there for a host without internet.
func Path(dir, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("collateral URL %q is not a URL", rawURL)
	}
	rel := u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		rel += "?" + u.RawQuery
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || filepath.IsAbs(clean) {
		return "", fmt.Errorf("collateral URL %q leaves the collateral directory", rawURL)
	}
	return filepath.Join(dir, clean), nil
}

// get returns the document of rawURL.
func (s *store) get(rawURL string) (http.Header, []byte, error) {
	now := time.Now()
	s.mu.Lock()
	d, ok := s.mem[rawURL]
	s.mu.Unlock()
	if ok && now.Before(d.until) {
		return d.header, d.body, nil
	}
	var err error
	if s.set.Offline {
		d, err = s.readDisk(rawURL)
	} else {
		d, err = s.fetch(rawURL)
		if err != nil && s.set.CollateralDir != "" {
			if dd, derr := s.readDisk(rawURL); derr == nil {
				d, err = dd, nil
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	d.until = now.Add(s.set.CacheTTL.D())
	s.mu.Lock()
	s.mem[rawURL] = d
	s.mu.Unlock()
	return d.header, d.body, nil
}

func (s *store) readDisk(rawURL string) (doc, error) {
	p, err := Path(s.set.CollateralDir, rawURL)
	if err != nil {
		return doc{}, err
	}
	body, err := os.ReadFile(p)
	if err != nil {
		return doc{}, fmt.Errorf("collateral for %s is not on disk: put it in %s (%v)", rawURL, p, errors.Unwrap(err))
	}
	var h http.Header
	if hb, err := os.ReadFile(p + ".headers.json"); err == nil {
		if err := json.Unmarshal(hb, &h); err != nil {
			return doc{}, fmt.Errorf("reading %s.headers.json: %v", p, err)
		}
	}
	return doc{header: h, body: body}, nil
}

func (s *store) fetch(rawURL string) (doc, error) {
	target := rawURL
	if s.set.AMDKDSURL != "" && strings.HasPrefix(target, amdKDS) {
		target = strings.TrimSuffix(s.set.AMDKDSURL, "/") + strings.TrimPrefix(target, amdKDS)
	}
	if s.set.IntelPCSURL != "" && strings.HasPrefix(target, intelPCS) {
		target = strings.TrimSuffix(s.set.IntelPCSURL, "/") + strings.TrimPrefix(target, intelPCS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.set.FetchTimeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return doc{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return doc{}, fmt.Errorf("fetching collateral %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCollateral))
	if err != nil {
		return doc{}, fmt.Errorf("fetching collateral %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return doc{}, fmt.Errorf("fetching collateral %s: HTTP %d", rawURL, resp.StatusCode)
	}
	d := doc{header: resp.Header, body: body}
	if s.set.CollateralDir != "" {
		s.writeDisk(rawURL, d)
	}
	return d, nil
}

// writeDisk keeps a fetched document for later offline use; a failure only
// loses the copy.
func (s *store) writeDisk(rawURL string, d doc) {
	p, err := Path(s.set.CollateralDir, rawURL)
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	tmp := p + ".tmp"
	if os.WriteFile(tmp, d.body, 0o644) != nil || os.Rename(tmp, p) != nil {
		return
	}
	if hb, err := json.Marshal(d.header); err == nil {
		_ = os.WriteFile(p+".headers.json", hb, 0o644)
	}
}

// snpGetter adapts the store to go-sev-guest's getter.
type snpGetter struct{ s *store }

func (g snpGetter) Get(url string) ([]byte, error) {
	_, body, err := g.s.get(url)
	return body, err
}

// tdxGetter adapts the store to go-tdx-guest's getter.
type tdxGetter struct{ s *store }

func (g tdxGetter) Get(url string) (map[string][]string, []byte, error) {
	h, body, err := g.s.get(url)
	return h, body, err
}
