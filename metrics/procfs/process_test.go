package procfs

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// startGroup starts a sleeping child in a process group of its own and
// returns its pid, which is the group's id.
func startGroup(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// diskUsage adds up the blocks of the files under dir, as du does.
func diskUsage(t *testing.T, dir string) uint64 {
	t.Helper()
	var total uint64
	err := filepath.Walk(dir, func(_ string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		total += uint64(info.Sys().(*syscall.Stat_t).Blocks) * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
