import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { get, tail } from './api.js';
import { navigate, withParams } from './router.jsx';
import { clock, dateTime } from './util.js';

// The page keeps at most MAX_LINES lines; older ones drop off the top.
export const MAX_LINES = 10000;
const ROW = 20; // px, every row is one line high so that only visible rows are drawn
const OVERSCAN = 10;

const RANGES = [
  ['live', 'Live'],
  ['5m', 'Last 5 min'],
  ['15m', 'Last 15 min'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['custom', 'Custom…'],
];

// toLocalInput renders a time for <input type=datetime-local>.
function toLocalInput(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// filterParams maps the view's search onto the API's filters.
function filterParams(params) {
  const q = params.get('q') || '';
  const ex = params.get('exclude') || '';
  const regex = params.get('mode') === 'regex';
  return regex
    ? { regexIncludes: q, regexNotIncludes: ex }
    : { textIncludes: q, textNotIncludes: ex };
}

// Highlight marks the matches of the search in the visible text.
function Highlight({ text, search, regex }) {
  if (!search) return text;
  let re;
  try {
    re = new RegExp(regex ? search : search.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g');
  } catch {
    return text;
  }
  const out = [];
  let last = 0;
  let m;
  let guard = 0;
  while ((m = re.exec(text)) && guard++ < 50) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    out.push(text.slice(last, m.index), <mark>{m[0]}</mark>);
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

function LogRows({ lines, version, showInstance, search, regex, follow, setFollow, onPick }) {
  const box = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (follow) el.scrollTop = el.scrollHeight;
    setView({ top: el.scrollTop, height: el.clientHeight });
  }, [version, follow]);
  useEffect(() => {
    const el = box.current;
    const onResize = () => setView({ top: el.scrollTop, height: el.clientHeight });
    addEventListener('resize', onResize);
    return () => removeEventListener('resize', onResize);
  }, []);
  const onScroll = (e) => {
    const el = e.currentTarget;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW * 2;
    if (bottom !== atBottom.current) {
      atBottom.current = bottom;
      setFollow(bottom);
    }
    setView({ top: el.scrollTop, height: el.clientHeight });
  };
  const first = Math.max(0, Math.floor(view.top / ROW) - OVERSCAN);
  const last = Math.min(lines.length, Math.ceil((view.top + view.height) / ROW) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = lines[i];
    rows.push(
      <div class={'line ' + l.stream} style={{ top: i * ROW + 'px' }} title={l.log} data-stream={l.stream} onClick={() => onPick(l)}>
        <time dateTime={l.ts}>{clock(l.ts)}</time>
        {showInstance && <span class="inst">{l.instance}</span>}
        <span class="stream" aria-label={l.stream}>
          {l.stream === 'stderr' ? 'err' : 'out'}
        </span>
        <span class="text">
          <Highlight text={l.log} search={search} regex={regex} />
        </span>
      </div>,
    );
  }
  return (
    <div class="log-box" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Log lines" aria-live="off">
      <div class="log-inner" style={{ height: lines.length * ROW + 'px' }}>
        {rows}
      </div>
    </div>
  );
}

export function LogsTab({ project, service, instance, params }) {
  const range = params.get('range') || (params.get('from') ? 'custom' : 'live');
  const from = params.get('from') || '';
  const to = params.get('to') || '';
  const q = params.get('q') || '';
  const exclude = params.get('exclude') || '';
  const mode = params.get('mode') === 'regex' ? 'regex' : 'text';
  const linesRef = useRef([]);
  const [version, setVersion] = useState(0);
  const [status, setStatus] = useState({ state: 'loading', error: null });
  const [follow, setFollow] = useState(true);
  const [paused, setPaused] = useState(false);
  const pending = useRef([]);
  // Paused, new lines wait in pending (bounded too) and the view holds still.
  const pausedRef = useRef(false);
  const flushRef = useRef(() => {});
  const togglePause = () => {
    pausedRef.current = !paused;
    setPaused(!paused);
    if (paused) flushRef.current();
  };
  const frame = useRef(0);
  const [draft, setDraft] = useState({ q, exclude, mode });
  // A clicked line is shown whole (a row shows one screen line).
  const [picked, setPicked] = useState(null);
  useEffect(() => setDraft({ q, exclude, mode }), [q, exclude, mode]);

  useEffect(() => {
    linesRef.current = [];
    pending.current = [];
    setVersion((v) => v + 1);
    const ctl = new AbortController();
    const base = { project, service, container: instance, ...filterParams(params) };
    const flush = () => {
      frame.current = 0;
      const all = linesRef.current;
      for (const l of pending.current) all.push(l);
      pending.current = [];
      if (all.length > MAX_LINES) all.splice(0, all.length - MAX_LINES);
      setVersion((v) => v + 1);
    };
    flushRef.current = flush;
    const add = (batch) => {
      const p = pending.current;
      for (const l of batch) p.push(l);
      if (p.length > MAX_LINES) p.splice(0, p.length - MAX_LINES);
      if (!frame.current && !pausedRef.current) frame.current = requestAnimationFrame(flush);
    };
    if (range === 'custom') {
      setStatus({ state: 'loading', error: null });
      const p = { ...base, limit: 5000, direction: 'backward' };
      if (from) p.from = new Date(from).toISOString();
      if (to) p.to = new Date(to).toISOString();
      get('logs', p, ctl.signal)
        .then((recs) => {
          add(recs.reverse());
          setStatus({ state: 'range', error: null });
        })
        .catch((err) => !ctl.signal.aborted && setStatus({ state: 'error', error: err }));
    } else {
      // The tail survives a restart of opshub or a dropped connection: it
      // reconnects from a second before the newest line it has, leaving
      // out the lines it already shows.
      const first = { ...base, limit: range === 'live' ? 100 : 5000 };
      if (range !== 'live') first.since = range;
      const key = (l) => l.ts + '|' + l.instance + '|' + l.stream + '|' + l.log;
      const follow = async () => {
        for (let again = false; !ctl.signal.aborted; again = true) {
          let p = first;
          let add2 = add;
          if (again) {
            const have = linesRef.current.concat(pending.current).slice(-MAX_LINES);
            const newest = have.reduce((m, l) => Math.max(m, Date.parse(l.ts)), 0);
            const known = new Set(have.map(key));
            add2 = (batch) => add(batch.filter((l) => !known.has(key(l))));
            p = newest ? { ...base, from: new Date(newest - 1000).toISOString(), limit: 5000 } : first;
          }
          try {
            setStatus({ state: 'live', error: null });
            await tail(p, add2, ctl.signal);
            if (!ctl.signal.aborted) setStatus({ state: 'reconnecting', error: null });
          } catch (err) {
            if (ctl.signal.aborted) return;
            setStatus({ state: 'reconnecting', error: err });
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
      };
      follow();
    }
    return () => {
      ctl.abort();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [project, service, instance, range, from, to, q, exclude, mode]);

  const apply = (e) => {
    e.preventDefault();
    navigate(withParams({ q: draft.q, exclude: draft.exclude, mode: draft.mode === 'regex' ? 'regex' : null }), { replace: true });
  };
  const setRange = (r) => {
    if (r === 'custom') {
      const now = Date.now();
      navigate(withParams({ range: 'custom', from: toLocalInput(from || now - 15 * 60e3), to: toLocalInput(to || now) }));
    } else navigate(withParams({ range: r === 'live' ? null : r, from: null, to: null }));
    if (paused) togglePause();
  };
  const lines = linesRef.current;
  let regexError = null;
  if (mode === 'regex' && q) {
    try {
      new RegExp(q);
    } catch (err) {
      regexError = err.message;
    }
  }
  const stateText = {
    loading: 'Loading…',
    live: range === 'live' ? 'Live: following new lines' : `Live: the last ${range}, then new lines`,
    range: 'Custom range: the tail is paused',
    reconnecting: 'Disconnected: reconnecting every 2 s',
    error: '',
  }[status.state];
  return (
    <div class="logs">
      <form class="log-controls" onSubmit={apply} role="search">
        <label class="grow">
          <span>Search</span>
          <input
            type="search"
            name="q"
            placeholder={draft.mode === 'regex' ? 'regular expression' : 'text'}
            value={draft.q}
            onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })}
          />
        </label>
        <label class="grow">
          <span>Exclude</span>
          <input
            type="search"
            name="exclude"
            value={draft.exclude}
            onInput={(e) => setDraft({ ...draft, exclude: e.currentTarget.value })}
          />
        </label>
        <label>
          <span>Match</span>
          <select name="mode" value={draft.mode} onChange={(e) => setDraft({ ...draft, mode: e.currentTarget.value })}>
            <option value="text">Text</option>
            <option value="regex">Regex</option>
          </select>
        </label>
        <button type="submit" class="primary">
          Apply
        </button>
        <label>
          <span>Range</span>
          <select name="range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {RANGES.map(([v, l]) => (
              <option value={v}>{l}</option>
            ))}
          </select>
        </label>
        {range === 'custom' && (
          <>
            <label>
              <span>From</span>
              <input type="datetime-local" step="1" value={toLocalInput(from)} onChange={(e) => navigate(withParams({ from: e.currentTarget.value }))} />
            </label>
            <label>
              <span>To</span>
              <input type="datetime-local" step="1" value={toLocalInput(to)} onChange={(e) => navigate(withParams({ to: e.currentTarget.value }))} />
            </label>
          </>
        )}
        {range !== 'custom' && (
          <button type="button" onClick={togglePause} aria-pressed={paused}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        )}
      </form>
      {regexError && <p class="error">{regexError}</p>}
      <div class="log-status" aria-live="polite">
        <span class={'pill ' + status.state}>{paused && status.state === 'live' ? 'Paused: new lines wait until you resume' : stateText}</span>
        <span class="muted count">
          {lines.length} lines{lines.length >= MAX_LINES ? ` (the newest ${MAX_LINES} are kept)` : ''}
        </span>
        {range === 'custom' && from && (
          <span class="muted">
            {dateTime(from)} – {to ? dateTime(to) : 'now'}
          </span>
        )}
        {!follow && status.state === 'live' && (
          <button class="link" type="button" onClick={() => setFollow(true)}>
            Jump to newest
          </button>
        )}
      </div>
      {status.error && (
        <p class="error" role="alert">
          {status.error.message}
        </p>
      )}
      {picked && (
        <div class="line-detail card" role="region" aria-label="Selected line">
          <div class="row">
            <time dateTime={picked.ts}>{dateTime(picked.ts)}</time>
            <span class="inst">{picked.instance}</span>
            <span class={'stream ' + picked.stream}>{picked.stream}</span>
            <button type="button" class="link" onClick={() => setPicked(null)}>
              Close
            </button>
          </div>
          <pre>{picked.log}</pre>
        </div>
      )}
      <LogRows
        onPick={setPicked}
        lines={lines}
        version={version}
        showInstance={!instance}
        search={q}
        regex={mode === 'regex'}
        follow={follow}
        setFollow={setFollow}
      />
    </div>
  );
}
