package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/synctest"
	"time"
)

// volumeFiles lists the sizes of the files in dir by name.
func volumeFiles(t *testing.T, dir string) (names []string, sizes map[string]int64, total int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sizes = map[string]int64{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
		sizes[e.Name()] = info.Size()
		total += info.Size()
	}
	sort.Strings(names)
	return names, sizes, total
}

func TestVolumeWrite(t *testing.T) {
	dir := t.TempDir()
	v := newVolume(dir, "web-1")
	if err := v.write(context.Background(), 5<<19); err != nil { // 2.5 MiB
		t.Fatal(err)
	}
	if err := v.close(); err != nil {
		t.Fatal(err)
	}
	names, sizes, total := volumeFiles(t, dir)
	if total != 5<<19 || v.written.Load() != 5<<19 {
		t.Errorf("wrote %d bytes (counted %d), want %d", total, v.written.Load(), 5<<19)
	}
	if len(names) != 1 || names[0] != "opshub-demo-web-1-000001.dat" {
		t.Errorf("files %v, want one opshub-demo-web-1-000001.dat", names)
	}
	data, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:len(filler)]) != filler || int64(len(data)) != sizes[names[0]] {
		t.Errorf("file starts with %q", data[:len(filler)])
	}
}

func TestVolumeRotatesAndResumes(t *testing.T) {
	dir := t.TempDir()
	v := newVolume(dir, "web/1")
	v.fileMax = 1 << 20
	if err := v.write(context.Background(), 5<<19); err != nil {
		t.Fatal(err)
	}
	v.close()

	// A restarted instance tops up its last file, then starts a new one.
	again := newVolume(dir, "web/1")
	again.fileMax = 1 << 20
	if err := again.write(context.Background(), 3<<18); err != nil { // 0.75 MiB
		t.Fatal(err)
	}
	again.close()

	names, sizes, total := volumeFiles(t, dir)
	if want := int64(5<<19 + 3<<18); total != want {
		t.Errorf("total %d bytes, want %d", total, want)
	}
	want := map[string]int64{
		"opshub-demo-web_1-000001.dat": 1 << 20,
		"opshub-demo-web_1-000002.dat": 1 << 20,
		"opshub-demo-web_1-000003.dat": 1 << 20,
		"opshub-demo-web_1-000004.dat": 1 << 18,
	}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", sizes, want)
	}
	for name, size := range want {
		if sizes[name] != size {
			t.Errorf("%s is %d bytes, want %d", name, sizes[name], size)
		}
	}
	if again.written.Load() != 3<<18 {
		t.Errorf("the second volume counted %d bytes, want %d", again.written.Load(), 3<<18)
	}
}

func TestVolumeWriteFailsWithoutDirectory(t *testing.T) {
	v := newVolume(filepath.Join(t.TempDir(), "missing"), "web-1")
	if err := v.write(context.Background(), 10); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// TestVolumeRate runs the volume loop on a fake clock: an initial write,
// then exactly rate × elapsed bytes.
func TestVolumeRate(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		var errOut syncBuffer
		v := newVolume(dir, "web-1")
		k := newKnobs(settings{volumeRate: 1 << 20})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			v.run(ctx, k, 1000, newStream("stderr", "web-1", &errOut))
		}()

		time.Sleep(2*time.Second + 50*time.Millisecond)
		synctest.Wait()
		if got, want := v.written.Load(), int64(1000+2<<20); got != want {
			t.Errorf("after 2s at 1Mi/s: %d bytes, want %d", got, want)
		}
		k.update(func(s *settings) { s.volumeRate = 0 })
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := v.written.Load(), int64(1000+2<<20); got != want {
			t.Errorf("at rate 0: %d bytes, want still %d", got, want)
		}
		cancel()
		<-done
		v.close()
		if errOut.String() != "" {
			t.Errorf("stderr: %s", errOut.String())
		}
	})
	if _, _, total := volumeFiles(t, dir); total != 1000+2<<20 {
		t.Errorf("files hold %d bytes, want %d", total, 1000+2<<20)
	}
}
