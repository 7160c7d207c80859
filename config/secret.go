package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// Secret holds a credential. Every way of printing it (fmt verbs, slog,
// JSON, YAML, text) renders "<secret>", or nothing when it is empty; only
// Value returns the credential itself.
type Secret string

const redacted = "<secret>"

// Value returns the credential.
func (s Secret) Value() string { return string(s) }

// String returns "<secret>", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the credential.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format keeps every fmt verb (%v, %s, %q, %x, %d, …) from printing the credential.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	io.WriteString(f, s.String())
}

// LogValue keeps slog from printing the credential.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText renders "<secret>".
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON renders "<secret>" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML renders "<secret>".
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// maxSecretFile bounds what a *File key may point at; a credential is small,
// and a mistaken path to a device must not be read forever.
const maxSecretFile = 1 << 20

// readSecretFile reads a credential from a file and trims trailing newlines.
// The returned error never contains the file's content.
func readSecretFile(read func(string) ([]byte, error), path string) (Secret, error) {
	b, err := read(path)
	if err != nil {
		return "", fileProblem(err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("is larger than %s", ByteSize(maxSecretFile))
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errors.New("is empty")
	}
	return Secret(s), nil
}

// osReadLimited reads at most one byte more than maxSecretFile.
func osReadLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, errIsDir
	}
	return io.ReadAll(io.LimitReader(f, maxSecretFile+1))
}

var errIsDir = errors.New("is a directory")

// fileProblem says why a file could not be read without repeating its path,
// which the caller names as written in the config.
func fileProblem(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("does not exist")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("is not readable (permission denied)")
	case errors.Is(err, errIsDir):
		return errIsDir
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errors.New("cannot be read: " + pe.Err.Error())
	}
	return errors.New("cannot be read: " + err.Error())
}
