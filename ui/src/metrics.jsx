import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { navigate, withParams } from './router.jsx';
import { ErrorNote } from './overview.jsx';
import { bytes, cpuCores, memBytes, useAPI } from './util.js';

const RANGES = [
  ['15m', 'Last 15 min'],
  ['30m', 'Last 30 min'],
  ['1h', 'Last hour'],
];
const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#84cc16'];

const fmtCores = (v) => (v == null ? '-' : v < 0.01 && v > 0 ? (v * 1000).toFixed(1) + 'm' : v.toFixed(3));
const fmtBytes = (v) => (v == null ? '-' : bytes(v));
const fmtRate = (v) => (v == null ? '-' : bytes(v) + '/s');
const fmtNum = (v) => (v == null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(2));

// CHARTS lists each chart: its metric types and how to show their values.
const CHARTS = [
  { id: 'cpu', title: 'CPU (cores)', types: ['cpu'], fmt: fmtCores, limits: 'cpu' },
  { id: 'memory', title: 'Memory (working set)', types: ['memory'], fmt: fmtBytes, limits: 'memory' },
  { id: 'network', title: 'Network', types: ['network-rx', 'network-tx'], fmt: fmtRate },
  { id: 'disk', title: 'Disk I/O', types: ['disk-read', 'disk-write'], fmt: fmtRate },
  { id: 'volume', title: 'Volume usage and capacity', types: ['volume-used', 'volume-capacity'], fmt: fmtBytes },
  { id: 'restarts', title: 'Restarts', types: ['restarts'], fmt: fmtNum },
  { id: 'log-lines', title: 'Log lines/s', types: ['log-lines'], fmt: fmtNum },
];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Chart draws one uPlot chart; hovering shows each series' value in the
// legend.
function Chart({ title, fmt, x, lines }) {
  const el = useRef(null);
  const plot = useRef(null);
  const shape = lines.map((l) => l.label).join('|');
  const points = lines.reduce((n, l) => (l.guide ? n : n + l.values.filter((v) => v != null).length), 0);
  useEffect(() => {
    const node = el.current;
    const fg = cssVar('--muted') || '#888';
    const grid = cssVar('--grid') || 'rgba(128,128,128,.2)';
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts = {
      width: Math.max(280, node.clientWidth),
      height: 200,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 84, values: (u, vals) => vals.map(fmt) }],
      series: [
        { value: (u, v) => (v == null ? '-' : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false })) },
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: l.guide ? 1 : 1.5,
          dash: l.guide ? [6, 4] : undefined,
          spanGaps: false,
          value: (u, v) => fmt(v),
          points: { show: false },
        })),
      ],
    };
    plot.current = new uPlot(opts, [x, ...lines.map((l) => l.values)], node);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(280, node.clientWidth), height: 200 }));
    ro.observe(node);
    return () => {
      ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    if (plot.current) plot.current.setData([x, ...lines.map((l) => l.values)]);
  });
  return (
    <section class="card chart" data-chart={title} data-points={points} aria-label={title}>
      <h3>{title}</h3>
      {points === 0 && <p class="muted nodata">No data in this range.</p>}
      <div ref={el} class="plot" />
    </section>
  );
}

// align puts series with their own timestamps on one x axis.
function align(series) {
  const xs = new Set();
  for (const s of series) for (const [t] of s.points) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const values = series.map((s) => {
    const v = new Array(x.length).fill(null);
    for (const [t, val] of s.points) v[index.get(t)] = val;
    return v;
  });
  return { x, values };
}

function buildCharts(per, combined, svc, instance) {
  const all = [...per.map((s) => ({ ...s, who: s.instance || s.container })), ...combined.map((s) => ({ ...s, who: 'service' }))];
  const { x, values } = align(all);
  const who = [...new Set(all.map((s) => s.who))];
  const color = (w, k) => PALETTE[(who.indexOf(w) * 2 + k) % PALETTE.length];
  return CHARTS.map((c) => {
    const lines = [];
    all.forEach((s, i) => {
      const k = c.types.indexOf(s.type);
      if (k < 0) return;
      const label = (s.who === 'service' ? 'service total' : s.who) + (c.types.length > 1 ? ' ' + s.type.replace(/^[a-z]+-/, '') : '') + (s.volume ? ' ' + s.volume : '');
      lines.push({ label, color: s.who === 'service' ? cssVar('--fg') || '#888' : color(s.who, k), values: values[i] });
    });
    if (c.limits && svc && x.length) {
      for (const inst of svc.instances) {
        if (instance && inst.name !== instance) continue;
        const req = c.limits === 'cpu' ? inst.requests?.cpu : inst.requests?.memory;
        const lim = c.limits === 'cpu' ? cpuCores(inst.limits?.cpu) : memBytes(inst.limits?.memory);
        if (req) lines.push({ label: inst.name + ' request', color: '#10b981', guide: true, values: x.map(() => req) });
        if (lim) lines.push({ label: inst.name + ' limit', color: '#ef4444', guide: true, values: x.map(() => lim) });
      }
    }
    return { ...c, x, lines };
  });
}

export function MetricsTab({ project, service, instance, params, svc }) {
  const since = params.get('since') || '30m';
  const base = { project, service, since, step: '15s', container: instance };
  const per = useAPI('metrics', base, 15000);
  const combined = useAPI(instance ? null : 'metrics', { ...base, aggregate: 'service' }, 15000);
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 60000);
    return () => clearInterval(t);
  }, []);
  const charts = per.data ? buildCharts(per.data.series, instance ? [] : combined.data?.series || [], svc, instance) : [];
  return (
    <div class="metrics">
      <div class="row controls">
        <label>
          <span>Range</span>
          <select value={since} onChange={(e) => navigate(withParams({ since: e.currentTarget.value === '30m' ? null : e.currentTarget.value }), { replace: true })}>
            {RANGES.map(([v, l]) => (
              <option value={v}>{l}</option>
            ))}
          </select>
        </label>
        <span class="muted">15 s resolution, updated every 15 s{instance ? '' : '; each container and the service total'}</span>
      </div>
      <ErrorNote error={per.error} />
      <div class="charts">
        {charts.map((c) => (
          <Chart key={c.id + (instance || '')} title={c.title} fmt={c.fmt} x={c.x} lines={c.lines} />
        ))}
      </div>
    </div>
  );
}
