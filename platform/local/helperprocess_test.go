package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
)

// helperEnv switches the test binary into one of the helper processes below
// when it is re-executed with -test.run=^TestHelperProcess$.
const helperEnv = "OPSHUB_LOCAL_TEST_HELPER"

// TestHelperProcess is not a test: it is the body of processes the tests
// start from the test binary itself.
//
//   - "http": an HTTP server on 127.0.0.1:$PORT answering with its
//     $OPSHUB_INSTANCE (and echoing request bodies); GET /close makes it
//     refuse new connections while the process keeps running.
//   - "runtime": a Runtime on $OPSHUB_LOCAL_TEST_DIR supervising two
//     instances of `sh -c 'sleep 1000 & wait'`, running until killed.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "http":
		helperHTTP()
	case "runtime":
		helperRuntime()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
	os.Exit(0)
}

func helperHTTP() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	name := os.Getenv("OPSHUB_INSTANCE")
	srv := &http.Server{}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/close" {
			ln.Close()                      // new connections are refused from now on
			srv.SetKeepAlivesEnabled(false) // and idle ones are closed
		}
		body, _ := io.ReadAll(req.Body)
		fmt.Fprintf(w, "%s %s", name, body)
	})
	fmt.Println("listening on", ln.Addr())
	_ = srv.Serve(ln)
	select {} // keep running after /close, until a signal ends the process
}

func helperRuntime() {
	r, err := New(Options{DataDir: os.Getenv("OPSHUB_LOCAL_TEST_DIR"), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))},
		[]Workload{{Project: "orphans", Name: "sleeper", Command: []string{"/bin/sh", "-c", "sleep 1000 & wait"}, Replicas: 2}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := r.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// helperCommand is the command line that re-executes the test binary as a helper.
func helperCommand() []string {
	return []string{os.Args[0], "-test.run=^TestHelperProcess$"}
}
