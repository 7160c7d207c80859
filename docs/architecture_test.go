// Package docs holds the project's documentation; its test keeps the
// package table of architecture.md true to the code.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/opshub/opshub/"

// TestArchitectureTableMatchesImports compares the "imports" column of the
// package table in architecture.md with what `go list` says each package
// imports (tests left out), for the packages of this module: every import
// must be listed, and every listed package must be imported. A row may name
// several packages (`sinks/{http,file}`), a listed import may be a family
// (`sinks/*`: any package below sinks), and "everything" allows any import.
func TestArchitectureTableMatchesImports(t *testing.T) {
	actual := goListImports(t)
	rows := tableRows(t, "architecture.md")
	if len(rows) == 0 {
		t.Fatal("no package table found in architecture.md")
	}
	for _, r := range rows {
		var imported []string
		for _, pkg := range r.packages {
			imports, ok := actual[pkg]
			if !ok {
				t.Errorf("architecture.md lists package %s, which does not exist", pkg)
				continue
			}
			imported = append(imported, imports...)
			if r.everything {
				continue
			}
			for _, imp := range imports {
				if !r.allows(imp) {
					t.Errorf("architecture.md: %s imports %s, which its row does not list", pkg, imp)
				}
			}
		}
		for _, claim := range r.claims {
			if !slices.ContainsFunc(imported, func(imp string) bool { return matches(claim, imp) }) {
				t.Errorf("architecture.md: the row of %s lists %s, which none of its packages imports", strings.Join(r.packages, ", "), claim)
			}
		}
	}
}

type row struct {
	packages   []string
	claims     []string // module packages listed as imports
	everything bool
}

func (r row) allows(imp string) bool {
	return slices.ContainsFunc(r.claims, func(c string) bool { return matches(c, imp) })
}

// matches reports whether a listed import names pkg: the package itself,
// or for "dir/*" a package below dir.
func matches(claim, pkg string) bool {
	if dir, ok := strings.CutSuffix(claim, "/*"); ok {
		return strings.HasPrefix(pkg, dir+"/")
	}
	return claim == pkg
}

var (
	cellPackage = regexp.MustCompile("^`([^`]+)`$")
	braces      = regexp.MustCompile(`^(.*)\{([^}]+)\}(.*)$`)
	firstWord   = regexp.MustCompile(`^[A-Za-z0-9_./*{},-]+`)
)

// tableRows reads the rows of the table whose header is
// "| package | owns | imports |".
func tableRows(t *testing.T, file string) []row {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := modulePackages(t)
	var rows []row
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "| package | owns | imports |") {
			in = true
			continue
		}
		if !in || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		m := cellPackage.FindStringSubmatch(strings.TrimSpace(cells[0]))
		if m == nil {
			continue
		}
		r := row{packages: expand(m[1])}
		for _, item := range splitTop(cells[len(cells)-1]) {
			w := firstWord.FindString(strings.TrimSpace(item))
			switch {
			case w == "everything":
				r.everything = true
			case strings.HasSuffix(w, "/*"):
				r.claims = append(r.claims, w)
			default:
				for _, p := range expand(w) {
					if known[p] {
						r.claims = append(r.claims, p)
					}
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// expand turns `sinks/{http,file}` into sinks/http and sinks/file.
func expand(s string) []string {
	m := braces.FindStringSubmatch(s)
	if m == nil {
		return []string{s}
	}
	var out []string
	for _, part := range strings.Split(m[2], ",") {
		out = append(out, path.Clean(m[1]+strings.TrimSpace(part)+m[3]))
	}
	return out
}

// splitTop splits a cell at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(', '{':
			depth++
		case ')', '}':
			depth--
		case ',', ';':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// goListImports maps each package of the module (path below the module)
// to the module packages it imports, tests left out (with the e2e build tag,
// so that the end-to-end suite is listed).
func goListImports(t *testing.T) map[string][]string {
	t.Helper()
	// A package of tests only (test/e2e) is described by what its tests
	// import.
	out := goList(t, `{{.ImportPath}} {{if .Imports}}{{join .Imports " "}}{{else}}{{join .TestImports " "}} {{join .XTestImports " "}}{{end}}`)
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		m[pkg] = nil
		for _, imp := range fields[1:] {
			if p, ok := strings.CutPrefix(imp, module); ok {
				m[pkg] = append(m[pkg], p)
			}
		}
	}
	return m
}

func modulePackages(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for pkg := range goListImports(t) {
		known[pkg] = true
	}
	return known
}

func goList(t *testing.T, format string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "e2e", "-f", format, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return string(out)
}
