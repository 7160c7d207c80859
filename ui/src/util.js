import { useEffect, useState, useRef } from 'preact/hooks';
import { get } from './api.js';

// ago renders the time since t the way `opshub status` does: 45s, 3m20s.
export function ago(t, now = Date.now()) {
  if (!t) return '-';
  return human(now - new Date(t).getTime());
}

export function human(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m >= 10 || s % 60 === 0 ? m + 'm' : m + 'm' + (s % 60) + 's';
  const h = Math.floor(m / 60);
  if (h < 48) return h >= 10 || m % 60 === 0 ? h + 'h' : h + 'h' + (m % 60) + 'm';
  return Math.floor(h / 24) + 'd' + (h % 24) + 'h';
}

export function clock(t) {
  const d = new Date(t);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function dateTime(t) {
  if (!t) return '-';
  const d = new Date(t);
  return d.toLocaleString(undefined, { hour12: false });
}

export function bytes(n) {
  if (n == null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

export function money(n, currency) {
  if (n == null) return '-';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD' }).format(n);
  } catch {
    return n.toFixed(2) + ' ' + (currency || '');
  }
}

export function exitText(e) {
  if (!e) return '-';
  let s = e.signal ? e.signal : 'code ' + e.code;
  if (e.reason) s += ' (' + e.reason + ')';
  return s;
}

// cpuCores reads a Kubernetes quantity of CPU ("500m", "2") as cores.
export function cpuCores(q) {
  if (!q) return null;
  if (typeof q === 'number') return q;
  if (q.endsWith('m')) return parseFloat(q) / 1000;
  return parseFloat(q);
}

// memBytes reads a Kubernetes quantity of memory ("256Mi", "1G") as bytes.
export function memBytes(q) {
  if (!q) return null;
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)([KMGTP]i?)?$/.exec(q);
  if (!m) return null;
  const pow = { K: 1, M: 2, G: 3, T: 4, P: 5 };
  const u = m[2] || '';
  const base = u.endsWith('i') ? 1024 : 1000;
  return parseFloat(m[1]) * (u ? Math.pow(base, pow[u[0]]) : 1);
}

// useAPI loads /api/v1/<path> and reloads it every `every` ms (0: once).
// It returns {data, error, reload}.
export function useAPI(path, params, every = 0) {
  const [state, setState] = useState({ data: null, error: null });
  const key = path + JSON.stringify(params || {});
  const tick = useRef(0);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (!path) return undefined;
    const ctl = new AbortController();
    let timer;
    const load = async () => {
      const n = ++tick.current;
      try {
        const data = await get(path, params, ctl.signal);
        if (n === tick.current) setState({ data, error: null });
      } catch (err) {
        if (ctl.signal.aborted) return;
        if (n === tick.current) setState((s) => ({ data: s.data, error: err }));
      }
      if (every > 0 && !ctl.signal.aborted) timer = setTimeout(load, every);
    };
    load();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [key, every, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

// instanceState is the word shown for an instance: its status, and "not
// ready" for a running one that is not.
export function instanceState(i) {
  if (i.status === 'Running' && !i.ready) return 'Running (not ready)';
  return i.status;
}

// serviceState sums a service up: crashing, deploying (instances starting
// or more than wanted), ready, or degraded.
export function serviceState(s) {
  const ready = s.instances.filter((i) => i.ready).length;
  // Between two crashes an instance runs for a moment: one that exited
  // with an error in the last ten minutes still counts as crashing.
  const recent = (i) =>
    i.restarts > 0 && i.lastExit && i.lastExit.reason !== 'Completed' && Date.now() - new Date(i.lastExit.time).getTime() < 10 * 60e3;
  if (s.instances.some((i) => i.status === 'Crashing' || recent(i))) return 'crashing';
  if (s.instances.some((i) => i.status === 'Failed')) return 'failed';
  if (s.instances.length > 0 && s.instances.every((i) => i.status === 'Terminated')) return 'completed';
  if (s.instances.some((i) => i.status === 'Staging' || i.status === 'Starting' || i.surge) || s.instances.length > s.replicas)
    return 'deploying';
  if (s.replicas === 0) return 'stopped';
  if (ready >= s.replicas) return 'ready';
  return 'degraded';
}

export function stateClass(word) {
  const w = String(word).toLowerCase();
  if (/crash|fail|degraded|not ready|error|firing|disabled/.test(w)) return 'bad';
  if (/deploy|start|stag|terminating|paused|retry|pending|progress/.test(w)) return 'warn';
  if (/ready|running|success|succeeded|delivered|completed|terminated|resolved|ok|active/.test(w)) return 'good';
  return 'muted';
}
