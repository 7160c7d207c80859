package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, gzip bool) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip, deflate")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestFirstLoadBudget: the page and everything it loads come from this
// origin, and the whole first load is under 300 KB compressed.
func TestFirstLoadBudget(t *testing.T) {
	h := Handler()
	resp := get(t, h, "/", false)
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("CSP %q does not keep the page to its origin", resp.Header.Get("Content-Security-Policy"))
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	total := 0
	var assets int
	for _, r := range refs {
		u := r[1]
		if strings.HasPrefix(u, "data:") {
			continue
		}
		if !strings.HasPrefix(u, "/assets/") {
			t.Errorf("the page loads %s from outside its assets", u)
			continue
		}
		resp := get(t, h, u, true)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s: %d, encoding %q", u, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable (the names carry a content hash)", u, resp.Header.Get("Cache-Control"))
		}
		total += len(body)
		assets++
	}
	gz, _ := io.ReadAll(get(t, h, "/", true).Body)
	total += len(gz)
	if assets < 2 {
		t.Fatalf("the page loads %d assets, want the script and the stylesheet", assets)
	}
	t.Logf("first load: %d bytes compressed", total)
	if total > 300_000 {
		t.Errorf("first load is %d bytes compressed, over the 300 KB budget", total)
	}
	if resp := get(t, h, "/assets/missing.js", false); resp.StatusCode != 404 {
		t.Errorf("a missing asset answers %d, want 404", resp.StatusCode)
	}
}
