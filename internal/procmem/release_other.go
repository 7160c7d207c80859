//go:build !linux

package procmem

// ReleaseExecutablePages does nothing where /proc/self/maps and
// MADV_DONTNEED's semantics for file mappings are not Linux's.
func ReleaseExecutablePages() (int64, error) { return 0, nil }
