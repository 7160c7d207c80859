// Command gen writes opshub's Grafana dashboards, and the copies the Helm
// chart and the kustomize component install, under a repository root;
// `make dashboards` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/opshub/opshub/dashboards"
)

func main() { os.Exit(run()) }

func run() int {
	root := flag.String("root", ".", "the repository root to write under")
	flag.Parse()
	if err := dashboards.Write(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	return 0
}
