// Package ui is opshub's web UI: the built assets in dist/ (made from src/
// by `make ui`, see docs/ui.md) embedded in the binary, so that `go build`
// alone makes a complete opshub. The UI talks to the same /api/v1 as the
// CLI, with the same tokens.
package ui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// asset is one built file, kept with its gzip form.
type asset struct {
	body, gz    []byte
	contentType string
}

// Handler serves the UI: hashed assets under /assets/ (cached for good),
// and index.html for every other path, so that each view's URL (a deep
// link such as /services/demo/web/logs?instance=web-0) loads the page.
func Handler() http.Handler {
	files := map[string]asset{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		files[strings.TrimPrefix(p, "dist")] = asset{body: body, gz: buf.Bytes(), contentType: ct}
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a build bug.
		panic("ui: reading embedded assets: " + err.Error())
	}
	index := files["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the web UI answers GET only", http.StatusMethodNotAllowed)
			return
		}
		a, ok := files[r.URL.Path]
		switch {
		case ok && strings.HasPrefix(r.URL.Path, "/assets/"):
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		case strings.HasPrefix(r.URL.Path, "/assets/"):
			http.NotFound(w, r)
			return
		default:
			a = index
			w.Header().Set("Cache-Control", "no-cache")
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// Everything comes from this origin; uPlot sizes its parts with
		// inline styles.
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.Add("Vary", "Accept-Encoding")
		body := a.body
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}
