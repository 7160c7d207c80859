package sinktest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/opshub/opshub/model"
)

// LogReceiver is an HTTP endpoint for the http sink with encoding json
// (NDJSON, one record a line) that can be taken down: then it answers 503.
// It keeps the records of every request it accepted, in arrival order; a
// request with a line that is not a record is refused with 400 and nothing
// of it kept.
type LogReceiver struct {
	URL string

	mu   sync.Mutex
	down bool
	got  []model.LogRecord
}

// StartLogReceiver starts a LogReceiver, up, on loopback; it stops when
// the test ends.
func StartLogReceiver(t testing.TB) *LogReceiver {
	t.Helper()
	r := &LogReceiver{}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *LogReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	sc := bufio.NewScanner(req.Body)
	sc.Buffer(nil, 1<<20)
	var got []model.LogRecord
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec model.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, rec)
	}
	if err := sc.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, got...)
}

// SetDown takes the endpoint down (503 to every request) or back up.
func (r *LogReceiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// Records returns the records accepted so far, in arrival order.
func (r *LogReceiver) Records() []model.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}
