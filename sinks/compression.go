package sinks

import "fmt"

// CheckCompression checks a destination's compression key: none or gzip
// (empty leaves the destination's default).
func CheckCompression(c string) error {
	switch c {
	case "", "none", "gzip":
		return nil
	}
	return fmt.Errorf("compression: must be one of none, gzip, got %q", c)
}
