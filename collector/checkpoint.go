package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// checkpointFile is the name of the checkpoint file in the state directory.
const checkpointFile = "checkpoints.json"

// retainedPerDir bounds how many checkpoints of files that are gone are
// kept per container directory: enough for the kubelet's five files and a
// few rotations more, so that a rotated file compressed later is known.
const retainedPerDir = 16

// checkpoint is where reading of one file stands, as acknowledged by the
// sinks. A file is known by its device and inode while it exists, and by a
// fingerprint of its first bytes when it was copied (copytruncate) or
// compressed (the kubelet gzips rotated files) under another inode.
type checkpoint struct {
	Path   string    `json:"path"`
	Dev    uint64    `json:"dev"`
	Ino    uint64    `json:"ino"`
	FPLen  int       `json:"fpLen"`
	FPHash uint64    `json:"fpHash"`
	Offset int64     `json:"offset"`
	Done   bool      `json:"done,omitempty"` // read to its end and no longer written
	Gone   bool      `json:"gone,omitempty"` // no longer on disk under its inode
	Seen   time.Time `json:"seen"`
}

type checkpointState struct {
	Version int `json:"version"`
	// Created is when this state directory was first used: a compressed
	// rotated file that no checkpoint knows is read only when it is newer.
	Created time.Time    `json:"created"`
	Files   []checkpoint `json:"files"`
}

// checkpointStore reads and atomically writes the checkpoint file.
type checkpointStore struct {
	dir string
}

func (s *checkpointStore) load(now time.Time) (checkpointState, error) {
	st := checkpointState{Version: 1, Created: now}
	b, err := os.ReadFile(filepath.Join(s.dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read checkpoints: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read checkpoints %s: %w", filepath.Join(s.dir, checkpointFile), err)
	}
	return st, nil
}

// save writes st through a temporary file that is synced and renamed, so a
// crash leaves the old or the new checkpoints, never a torn file.
func (s *checkpointStore) save(st checkpointState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	path := filepath.Join(s.dir, checkpointFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write checkpoints %s: %w", path, werr)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// pruneRetained drops checkpoints of gone files whose directory is gone too,
// and all but the newest retainedPerDir gone files of each directory.
func pruneRetained(files []*checkpoint) []*checkpoint {
	perDir := map[string]int{}
	slices.SortStableFunc(files, func(a, b *checkpoint) int { return b.Seen.Compare(a.Seen) })
	out := files[:0]
	for _, c := range files {
		if c.Gone {
			dir := filepath.Dir(c.Path)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			perDir[dir]++
			if perDir[dir] > retainedPerDir {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
