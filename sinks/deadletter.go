package sinks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DeadLetterFile is the name of the file, in the sink's directory, that
// receives the records a destination refused for good (a 4xx other than 408
// and 429), one JSON object per line:
//
//	{"time": "…", "sink": "…", "reason": "HTTP 400: …", "record": {…}}
//
// where record is the record of the user-facing contract. The file is
// appended to and never rotated by opshub: it grows only when a destination
// refuses records, and each refusal is counted in
// opshub_sink_events_total{result="dead_lettered"}.
const DeadLetterFile = "dead-letter.ndjson"

type deadLetter struct {
	path string
	sink string
	mu   sync.Mutex
}

func newDeadLetter(dir, sink string) *deadLetter {
	return &deadLetter{path: filepath.Join(dir, DeadLetterFile), sink: sink}
}

// write appends records with their reasons and syncs the file, so that a
// refused record is either delivered, buffered or here.
func (d *deadLetter) write(recs []bufferedRecord, reasons []string, now time.Time) error {
	var data []byte
	for i, r := range recs {
		reason, _ := json.Marshal(reasons[i])
		sink, _ := json.Marshal(d.sink)
		data = append(data, `{"time":"`...)
		data = now.UTC().AppendFormat(data, time.RFC3339Nano)
		data = append(data, `","sink":`...)
		data = append(data, sink...)
		data = append(data, `,"reason":`...)
		data = append(data, reason...)
		data = append(data, `,"record":`...)
		data = AppendJSON(data, r.rec)
		data = append(data, "}\n"...)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write dead-letter file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync dead-letter file: %w", err)
	}
	return nil
}
