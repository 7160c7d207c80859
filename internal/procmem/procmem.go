// Package procmem trims this process's resident memory where the process
// itself knows better than the kernel: the pages of its own executable that
// only start-up needed. It changes no memory the program holds, only which
// clean, file-backed pages are mapped; it must never touch a writable
// mapping.
package procmem
