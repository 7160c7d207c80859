// Package ui is opshub's web UI: the built assets in dist/ (made from src/
// by `make ui`, see docs/ui.md) embedded in the binary, so that `go build`
// alone makes a complete opshub. The UI talks to the same /api/v1 as the
// CLI, with the same tokens.
package ui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// indexTemplate is the page, filled with the entry script and stylesheet
// that dist/entry.json names.
//
//go:embed index.html
var indexTemplate string

// asset is one built file, kept with its gzip form.
type asset struct {
	body, gz    []byte
	contentType string
}

func newAsset(name string, body []byte) asset {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return asset{body: body, gz: buf.Bytes(), contentType: ct}
}

// indexPage is index.html filled with the names in dist/entry.json.
func indexPage() ([]byte, error) {
	b, err := dist.ReadFile("dist/entry.json")
	if err != nil {
		return nil, err
	}
	var entry struct{ JS, CSS string }
	if err := json.Unmarshal(b, &entry); err != nil {
		return nil, err
	}
	t, err := template.New("index.html").Parse(indexTemplate)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	err = t.Execute(&page, entry)
	return page.Bytes(), err
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
		if p == "dist/entry.json" {
			return nil
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "dist")] = newAsset(p, body)
		return nil
	})
	page, perr := indexPage()
	if err = errors.Join(err, perr); err != nil {
		// The files are compiled in: failing to read them is a build bug.
		panic("ui: reading embedded assets: " + err.Error())
	}
	index := newAsset("index.html", page)
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
