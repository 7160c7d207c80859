package vars

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LookPath finds a program without a slash in an instance's PATH (pathEnv)
// as the runtime starts it and exec probes and exec sessions run it: a name
// with a slash is taken as it is, and relative PATH entries are skipped
// (they would depend on opshub's working directory).
func LookPath(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(dir) {
			continue
		}
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("program %q: not found in PATH", name)
}
