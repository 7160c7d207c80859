package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// groupRecord describes one live process group, enough to find it again
// after opshub died without stopping it.
type groupRecord struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Instance string `json:"instance"`
	UID      string `json:"uid"`
	PID      int    `json:"pid"`
	PGID     int    `json:"pgid"`
	// StartTime is the leader's start time from /proc/<pid>/stat (clock
	// ticks since boot); it tells the leader from a process that reused its pid.
	StartTime uint64    `json:"startTime"`
	Started   time.Time `json:"started"`
}

// stateDoc is the content of state.json.
type stateDoc struct {
	Version int           `json:"version"`
	PID     int           `json:"pid"` // the opshub that wrote it
	Groups  []groupRecord `json:"groups"`
}

const stateVersion = 1

// stateFile keeps state.json equal to the set of live process groups. Every
// change rewrites the file atomically, so a crash at any moment leaves
// either the previous or the new content.
type stateFile struct {
	path string

	mu     sync.Mutex
	groups map[string]groupRecord // by instance uid
}

func newStateFile(path string) *stateFile {
	return &stateFile{path: path, groups: map[string]groupRecord{}}
}

// readState reads a state file; a missing file is an empty state.
func readState(path string) (stateDoc, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return stateDoc{Version: stateVersion}, nil
	}
	if err != nil {
		return stateDoc{}, fmt.Errorf("read state %s: %w", path, err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return stateDoc{}, fmt.Errorf("read state %s: %w", path, err)
	}
	return doc, nil
}

// put records a live group and writes the file.
func (s *stateFile) put(rec groupRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[rec.UID] = rec
	return s.writeLocked()
}

// remove forgets a group and writes the file.
func (s *stateFile) remove(uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups, uid)
	return s.writeLocked()
}

// write writes the file with the groups known now.
func (s *stateFile) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked()
}

func (s *stateFile) writeLocked() error {
	doc := stateDoc{Version: stateVersion, PID: os.Getpid(), Groups: make([]groupRecord, 0, len(s.groups))}
	for _, g := range s.groups {
		doc.Groups = append(doc.Groups, g)
	}
	slices.SortFunc(doc.Groups, func(a, b groupRecord) int {
		return strings.Compare(a.Project+"/"+a.Instance, b.Project+"/"+b.Instance)
	})
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write state %s: %w", s.path, err)
	}
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("write state %s: %w", s.path, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written and synced, renamed over path, and the directory is
// synced so that the rename itself survives a power cut.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
