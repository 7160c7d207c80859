package collector

import (
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"hash/fnv"
)

// Source is what a log file's path says about its container, in the
// kubelet's layout <root>/<namespace>_<pod>_<uid>/<container>/<n>.log. On a
// single machine the local runtime writes <project>_<instance>_<uid>.
type Source struct {
	Namespace string
	Pod       string
	UID       string
	Container string
}

// parsePodDir splits a pod directory name, <namespace>_<pod>_<uid>. Neither
// a namespace nor a pod name may contain '_', so the split is unambiguous.
func parsePodDir(name string) (Source, bool) {
	ns, rest, ok := strings.Cut(name, "_")
	if !ok || ns == "" {
		return Source{}, false
	}
	pod, uid, ok := strings.Cut(rest, "_")
	if !ok || pod == "" || uid == "" {
		return Source{}, false
	}
	return Source{Namespace: ns, Pod: pod, UID: uid}, true
}

// containerDirs calls fn with the path and Source of every container
// directory under root, <root>/<namespace>_<pod>_<uid>/<container>, leaving
// out the pod directories that pod refuses by their entry in root and their
// Source (without a container).
func containerDirs(root string, pod func(fs.DirEntry, Source) bool, fn func(dir string, src Source)) {
	pods, _ := os.ReadDir(root)
	for _, p := range pods {
		src, ok := parsePodDir(p.Name())
		if !ok || !pod(p, src) {
			continue
		}
		pd := filepath.Join(root, p.Name())
		conts, _ := os.ReadDir(pd)
		for _, ct := range conts {
			if !ct.IsDir() {
				continue
			}
			s := src
			s.Container = ct.Name()
			fn(filepath.Join(pd, ct.Name()), s)
		}
	}
}

// fileKind classifies a name in a container's log directory.
type fileKind uint8

const (
	kindOther   fileKind = iota
	kindCurrent          // <n>.log, written now (or the previous run's)
	kindRotated          // <n>.log.<suffix>, no longer written
	kindGzip             // <n>.log.<suffix>.gz, a compressed rotated file
)

// classify tells what a file in a container directory is. Files left by an
// interrupted compression (.tmp) are not logs.
func classify(name string) (fileKind, int) {
	digits, rest, ok := strings.Cut(name, ".log")
	if !ok || digits == "" {
		return kindOther, 0
	}
	run := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return kindOther, 0
		}
		run = run*10 + int(c-'0')
	}
	switch {
	case rest == "":
		return kindCurrent, run
	case rest[0] != '.' || strings.HasSuffix(rest, ".tmp"):
		return kindOther, 0
	case strings.HasSuffix(rest, ".gz"):
		return kindGzip, run
	default:
		return kindRotated, run
	}
}

// fileID is a file's identity while it exists: device and inode.
type fileID struct {
	dev, ino uint64
}

func idOf(fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino}
	}
	return fileID{}
}

// fingerprintBytes is how much of a file's start identifies it. A CRI
// record starts with a nanosecond time, so two files rarely share it.
const fingerprintBytes = 256

// minFingerprint is the least a file must hold for its fingerprint to be
// trusted to find a copy of it.
const minFingerprint = 32

// readPrefix reads up to fingerprintBytes of the start of f, decompressing
// it when gz is set. It reads from offset 0 whatever f's position.
func readPrefix(f *os.File, gz bool) ([]byte, error) {
	buf := make([]byte, fingerprintBytes)
	var r io.Reader = io.NewSectionReader(f, 0, 1<<62)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

func hashPrefix(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
