//go:build linux

package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseExecutablePages unmaps from the process the pages of its own
// executable's read-only segments (code and read-only data) that it has
// touched so far, and returns how many bytes of address space it advised.
//
// Why: a Go binary's package initialisers run once at start and touch code
// and data spread over the whole executable (Kubernetes' client libraries
// register hundreds of types); the kernel maps each of those pages, with
// its neighbours, into the process, and they stay counted in its resident
// set although nothing uses them again. MADV_DONTNEED on a private,
// never-written file mapping only drops the process's page table entries:
// the pages stay in the page cache, and the ones still in use are mapped
// again by the next access (a minor fault, no disk read while the cache
// holds them). Writable mappings (the data segment) are left alone: for
// them the same call would throw away what the program wrote.
func ReleaseExecutablePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("release executable pages: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("release executable pages: %w", err)
	}
	defer f.Close()
	var released int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMapping(sc.Text(), exe)
		if !ok {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("release executable pages: madvise %x-%x: %w", start, end, errno)
		}
		released += int64(end - start)
	}
	if err := sc.Err(); err != nil {
		return released, fmt.Errorf("release executable pages: read /proc/self/maps: %w", err)
	}
	return released, nil
}

// readOnlyMapping parses one line of /proc/self/maps ("start-end perms
// offset dev inode path") and reports the range when it maps path private
// and not writable.
func readOnlyMapping(line, path string) (start, end uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || strings.Join(f[5:], " ") != path {
		return 0, 0, false
	}
	if perms := f[1]; len(perms) != 4 || perms[1] != '-' || perms[3] != 'p' {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return 0, 0, false
	}
	return start, end, true
}
