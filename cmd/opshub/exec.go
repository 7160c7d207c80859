package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

// exitInterrupted is a shell's exit code for a command ended by SIGINT.
const exitInterrupted = 130

// sessionFlags are the flags exec, shell and forward share.
type sessionFlags struct {
	instance  string
	container string
}

func (f *sessionFlags) add(cmd *cobra.Command, container bool) {
	cmd.Flags().StringVar(&f.instance, "instance", "", "instance to use (default: the first ready one)")
	if container {
		cmd.Flags().StringVarP(&f.container, "container", "c", "", "container in the instance (default: its only or first one)")
	}
}

// target resolves SERVICE and picks the instance: --instance, else the
// first ready one.
func (f *sessionFlags) target(ctx context.Context, c *client.Client, arg string) (project, service, instance string, err error) {
	project, service, err = resolveService(ctx, c, arg)
	if err != nil {
		return "", "", "", err
	}
	if f.instance != "" {
		return project, service, f.instance, nil
	}
	svc, err := c.Service(ctx, project, service)
	if err != nil {
		return "", "", "", err
	}
	in, err := firstReady(svc)
	if err != nil {
		return "", "", "", err
	}
	return project, service, in, nil
}

// firstReady names the first ready instance of svc, or says why there is
// none.
func firstReady(svc model.Service) (string, error) {
	var states []string
	for _, in := range svc.Instances {
		if in.Ready {
			return in.Name, nil
		}
		states = append(states, in.Name+" "+string(in.Status))
	}
	if len(states) == 0 {
		return "", fmt.Errorf("%s/%s has no instances", svc.Project, svc.Name)
	}
	return "", fmt.Errorf("%s/%s has no ready instance (%s); pick one with --instance", svc.Project, svc.Name, strings.Join(states, ", "))
}

func newExecCommand(g *globals) *cobra.Command {
	var (
		f        sessionFlags
		stdin    bool
		tty      bool
		stdinArg io.Reader
	)
	cmd := &cobra.Command{
		Use:   "exec SERVICE [--instance I] [--container C] [-i] [-t] -- CMD [ARG...]",
		Short: "Run a command in a running instance",
		Long: `Run CMD in a running instance of SERVICE (NAME, or PROJECT/NAME): the first
ready instance unless --instance names one. On a single machine the command
runs as the instance does (its environment, $PORT, volume variables, working
directory, user and cgroup); on Kubernetes through the API server's pods/exec.

Without -t the command's stdout and stderr stay apart; -i sends this
terminal's stdin; -t gives the command a terminal that follows this one's
size. The command's exit code is opshub's (126 when it cannot be run, 127
when it is not found). Needs a token with the exec scope.`,
		Example: `  opshub exec web -- env
  opshub exec web --instance web-7f9c-1 -- cat /etc/hostname
  opshub exec -it web -- /bin/sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, command, err := splitCommand(cmd, args)
			if err != nil {
				return err
			}
			if stdin {
				stdinArg = cmd.InOrStdin()
			}
			return runSession(cmd, g, &f, service, command, stdinArg, tty)
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "send stdin to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	return cmd
}

// splitCommand separates SERVICE from the command after "--".
func splitCommand(cmd *cobra.Command, args []string) (string, []string, error) {
	dash := cmd.ArgsLenAtDash()
	switch {
	case dash == 1 && len(args) > 1:
		return args[0], args[1:], nil
	case dash < 0 && len(args) > 1:
		return args[0], args[1:], nil
	case dash > 1:
		return "", nil, usageErrorf("exactly one SERVICE goes before --, got %s", strings.Join(args[:dash], " "))
	default:
		return "", nil, usageErrorf("no command: give it after --, as in opshub exec %s -- env", args[0])
	}
}

func newShellCommand(g *globals) *cobra.Command {
	var f sessionFlags
	cmd := &cobra.Command{
		Use:   "shell SERVICE [--instance I]",
		Short: "Open an interactive shell in a running instance",
		Long: `Open the instance's $SHELL, else /bin/sh, on a terminal (exec -it), in the
first ready instance of SERVICE unless --instance names one. The shell's exit
code is opshub's. Needs a token with the exec scope.`,
		Example: `  opshub shell web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			command := []string{"/bin/sh", "-c", `exec "${SHELL:-/bin/sh}"`}
			return runSession(cmd, g, &f, args[0], command, cmd.InOrStdin(), true)
		},
	}
	f.add(cmd, true)
	return cmd
}

// runSession runs one exec session and turns its exit code into opshub's.
func runSession(cmd *cobra.Command, g *globals, f *sessionFlags, service string, command []string, stdin io.Reader, tty bool) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	project, name, instance, err := f.target(ctx, c, service)
	if err != nil {
		return err
	}
	opts := client.ExecOptions{
		Project: project, Service: name, Instance: instance, Container: f.container,
		Command: command,
		Stdin:   stdin,
		Stdout:  cmd.OutOrStdout(),
		Stderr:  cmd.ErrOrStderr(),
		TTY:     tty,
	}
	if tty {
		restore, resize, stop := localTerminal(stdin, cmd.OutOrStdout())
		defer stop()
		defer restore()
		opts.Resize = resize
		if sz, ok := terminalSize(cmd.OutOrStdout()); ok {
			opts.Size = sz
		}
	}
	code, err := c.Exec(ctx, opts)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return silentError{exitInterrupted}
		}
		return err
	}
	if code != 0 {
		return silentError{code}
	}
	return nil
}

// fder is an *os.File, or anything else with a file descriptor.
type fder interface{ Fd() uintptr }

func terminalSize(w io.Writer) (client.TermSize, bool) {
	f, ok := w.(fder)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return client.TermSize{}, false
	}
	cols, rows, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 || rows <= 0 {
		return client.TermSize{}, false
	}
	return client.TermSize{Cols: uint16(cols), Rows: uint16(rows)}, true
}

// localTerminal puts a terminal stdin into raw mode, so that keys (Ctrl-C
// too) go to the remote terminal, and reports the terminal's new size on
// every SIGWINCH. restore undoes raw mode; stop ends the resize watch.
func localTerminal(stdin io.Reader, stdout io.Writer) (restore func(), resize <-chan client.TermSize, stop func()) {
	restore = func() {}
	if f, ok := stdin.(fder); ok && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(f.Fd()), old) }
		}
	}
	ch := make(chan client.TermSize, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			select {
			case <-done:
				return
			case <-winch:
				if sz, ok := terminalSize(stdout); ok {
					select { // keep only the newest size
					case <-ch:
					default:
					}
					ch <- sz
				}
			}
		}
	}()
	stop = func() {
		once.Do(func() {
			signal.Stop(winch)
			close(done)
		})
	}
	return restore, ch, stop
}

func newForwardCommand(g *globals) *cobra.Command {
	var (
		f       sessionFlags
		address string
	)
	cmd := &cobra.Command{
		Use:   "forward SERVICE [LOCAL:]REMOTE [--instance I]",
		Short: "Forward a local port to a port of a running instance",
		Long: `Listen on LOCAL (default: the same number as REMOTE; 0 picks a free port) and
carry each connection to port REMOTE of an instance of SERVICE (the first
ready one unless --instance names one), until interrupted. Several
connections may be open at once; each is its own session on the server.
On a single machine REMOTE is a port the instance listens on (the service's
port stands for the instance's own $PORT); on Kubernetes a port of the pod,
through the API server's pods/portforward. Needs a token with the exec scope.`,
		Example: `  opshub forward web 8080
  opshub forward db 15432:5432
  opshub forward web 0:8080 --instance web-7f9c-1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			local, remote, err := parsePorts(args[1])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			project, name, instance, err := f.target(ctx, c, args[0])
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(local)))
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			defer ln.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "Forwarding from %s -> %s/%s %s:%d\n", ln.Addr(), project, name, instance, remote)
			go func() {
				<-ctx.Done()
				ln.Close()
			}()
			var wg sync.WaitGroup
			defer wg.Wait()
			for {
				conn, err := ln.Accept()
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("accept: %w", err)
				}
				wg.Go(func() {
					if err := forwardOne(ctx, c, conn, project, name, instance, remote); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "opshub forward: %v\n", err)
					}
				})
			}
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "local address to listen on")
	return cmd
}

// parsePorts reads [LOCAL:]REMOTE.
func parsePorts(arg string) (local, remote int, err error) {
	l, r, found := strings.Cut(arg, ":")
	if !found {
		r = l
	}
	remote, err = strconv.Atoi(r)
	if err != nil || remote < 1 || remote > 65535 {
		return 0, 0, usageErrorf("remote port %q: must be a number from 1 to 65535", r)
	}
	if !found {
		return remote, remote, nil
	}
	local, err = strconv.Atoi(l)
	if err != nil || local < 0 || local > 65535 {
		return 0, 0, usageErrorf("local port %q: must be a number from 0 to 65535", l)
	}
	return local, remote, nil
}

// forwardOne carries one accepted connection over its own session until
// either side closes.
func forwardOne(ctx context.Context, c *client.Client, conn net.Conn, project, service, instance string, port int) error {
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	remote, err := c.Forward(ctx, project, service, instance, port)
	if err != nil {
		return err
	}
	defer remote.Close()
	done := make(chan error, 2)
	go func() { _, err := io.Copy(remote, conn); done <- err }()
	go func() {
		// A *client.ForwardError says why the instance's side failed;
		// other ends are quiet.
		_, err := io.Copy(conn, remote)
		var fe *client.ForwardError
		if !errors.As(err, &fe) {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("connection to port %d of %s: %w", port, instance, err)
		}
	case <-ctx.Done():
	}
	return nil
}
