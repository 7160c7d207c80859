// Package buildinfo reports which opshub build is running. The version is set
// at link time by the Makefile; when it is not, the module's build information
// is used so that `go install` builds still say something useful.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is overridden at link time: -ldflags "-X github.com/opshub/opshub/internal/buildinfo.Version=v1.2.3".
var Version = ""

// Revision is the VCS revision, overridden at link time like Version.
var Revision = ""

// Info describes the running build.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	info := Info{Version: Version, Revision: Revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Revision == "" {
				info.Revision = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}
