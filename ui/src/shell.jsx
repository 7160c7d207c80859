import { useEffect, useRef, useState } from 'preact/hooks';
import '@xterm/xterm/css/xterm.css';
import { bearer, refusal } from './api.js';
import { instanceState } from './util.js';

// The Shell tab: `opshub shell` in the browser. One WebSocket to the exec
// endpoint (subprotocol opshub.exec.v1, docs/exec.md "The wire"), the
// token offered as a second subprotocol since a browser cannot send an
// Authorization header with a WebSocket.

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const EXIT = 3;
const RESIZE = 4;

// The shell `opshub shell` runs: the instance's $SHELL, else /bin/sh.
const SHELL = ['/bin/sh', '-c', 'exec "${SHELL:-/bin/sh}"'];

function base64url(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function frame(stream, payload) {
  const out = new Uint8Array(1 + payload.length);
  out[0] = stream;
  out.set(payload, 1);
  return out;
}

// running says whether exec can reach the instance (the server refuses
// others with 409).
const running = (i) => i.status === 'Running' || i.status === 'Starting';

export function ShellTab({ project, service, instance, svc }) {
  const candidates = svc ? svc.instances.filter(running) : [];
  // The picked container, else the first ready one, as `opshub shell` does.
  const target = instance || (candidates.find((i) => i.ready) || candidates[0])?.name || '';
  const [session, setSession] = useState(0); // 0: none started
  if (!svc) return <p class="muted">Loading…</p>;
  if (!target) return <p class="muted">No instance of this service is running, so there is nothing to open a shell in.</p>;
  const inst = svc.instances.find((i) => i.name === target);
  return (
    <div class="shell">
      <div class="shell-head">
        {session === 0 ? (
          <button type="button" class="primary" onClick={() => setSession(1)}>
            Open a shell in {target}
          </button>
        ) : (
          <button type="button" onClick={() => setSession((n) => n + 1)}>
            New session
          </button>
        )}
        <span class="muted">
          {' '}
          {target} is {inst ? instanceState(inst) : 'gone'}. Every session is logged on the server (token, instance, start, end,
          exit code).
          {!instance && candidates.length > 1 && ' Pick another instance with the Container menu.'}
        </span>
      </div>
      {session > 0 && <TerminalSession key={session + '/' + target} project={project} service={service} instance={target} />}
    </div>
  );
}

function TerminalSession({ project, service, instance }) {
  const box = useRef(null);
  const [status, setStatus] = useState({ word: 'connecting', text: 'Connecting…' });
  useEffect(() => {
    // xterm.js is loaded with the tab, not with the page.
    let stop = () => {};
    let cancelled = false;
    Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]).then(
      ([{ Terminal }, { FitAddon }]) => {
        if (!cancelled) stop = connect(Terminal, FitAddon);
      },
      (err) => setStatus({ word: 'refused', text: 'The terminal could not be loaded: ' + err.message }),
    );
    return () => {
      cancelled = true;
      stop();
    };
  }, [project, service, instance]);

  function connect(Terminal, FitAddon) {
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace",
      fontSize: 13,
      scrollback: 5000,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    // For tests and for whoever inspects the page: the terminal's text.
    box.current.terminal = term;

    const path =
      'services/' + [project, service].map(encodeURIComponent).join('/') + '/instances/' + encodeURIComponent(instance) + '/exec';
    const q = new URLSearchParams();
    for (const c of SHELL) q.append('command', c);
    q.set('stdin', '1');
    q.set('tty', '1');
    q.set('cols', String(term.cols));
    q.set('rows', String(term.rows));
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = ['opshub.exec.v1'];
    const tok = bearer();
    if (tok) protocols.push('opshub.token.' + base64url(tok));
    const ws = new WebSocket(scheme + '//' + location.host + '/api/v1/' + path + '?' + q, protocols);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    let opened = false;
    let exitCode = null;
    const send = (stream, payload) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame(stream, payload));
    };
    ws.onopen = () => {
      opened = true;
      setStatus({ word: 'connected', text: 'Connected to ' + instance });
      term.focus();
    };
    ws.onmessage = (e) => {
      const msg = new Uint8Array(e.data);
      if (msg.length === 0) return;
      const body = msg.subarray(1);
      if (msg[0] === STDOUT || msg[0] === STDERR) term.write(body);
      else if (msg[0] === EXIT) {
        try {
          exitCode = JSON.parse(new TextDecoder().decode(body)).exitCode;
        } catch {
          exitCode = -1;
        }
      }
    };
    ws.onclose = async (e) => {
      if (exitCode !== null) {
        setStatus({ word: 'ended', text: 'The shell exited with code ' + exitCode + '.' });
      } else if (!opened) {
        // A refused upgrade shows no answer to the page: ask the API.
        const why = await refusal(path);
        setStatus({ word: 'refused', text: why || 'The session could not be opened (the instance may have stopped).' });
      } else {
        setStatus({ word: 'ended', text: 'The session ended' + (e.reason ? ': ' + e.reason : '.') });
      }
    };
    const input = term.onData((d) => send(STDIN, enc.encode(d)));
    const binary = term.onBinary((d) => send(STDIN, Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
    const resized = term.onResize(({ cols, rows }) => send(RESIZE, enc.encode(JSON.stringify({ cols, rows }))));
    // The terminal follows its box: the window's size and the layout.
    const watch = new ResizeObserver(() => fit.fit());
    watch.observe(box.current);
    return () => {
      watch.disconnect();
      input.dispose();
      binary.dispose();
      resized.dispose();
      ws.onclose = null;
      ws.close();
      term.dispose();
    };
  }
  return (
    <div class="terminal-card card">
      <p class={'shell-status ' + status.word} role="status">
        {status.text}
      </p>
      <div class="terminal" ref={box} aria-label={'Shell in ' + instance} />
    </div>
  );
}
