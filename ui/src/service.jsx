import { Link, navigate, withParams } from './router.jsx';
import { ErrorNote, State, Table, serviceHref } from './overview.jsx';
import { LogsTab } from './logs.jsx';
import { MetricsTab } from './metrics.jsx';
import { ReleasesTab } from './releases.jsx';
import { ShellTab } from './shell.jsx';
import { ago, dateTime, exitText, instanceState, serviceState, stateClass, useAPI } from './util.js';

const TABS = [
  ['logs', 'Logs'],
  ['metrics', 'Metrics'],
  ['health', 'Health checks'],
  ['autoscaling', 'Autoscaling'],
  ['releases', 'Releases'],
  ['shell', 'Shell'],
];

function Instances({ svc, now }) {
  return (
    <Table cols={['Instance', 'Status', 'Restarts', 'Last exit', 'Age']} class="instances">
          {svc.instances.map((i) => (
            <tr data-instance={i.name}>
              <td>{i.name}</td>
              <td>
                <State word={instanceState(i)} />
                {i.status === 'Crashing' && i.nextRestart && (
                  <span class="muted">
                    {' '}
                    back-off {i.backoff}, restart in {ago(now, new Date(i.nextRestart).getTime())}
                  </span>
                )}
              </td>
              <td>{i.restarts}</td>
              <td class="last-exit">{i.lastExit ? exitText(i.lastExit) + ' ' + ago(i.lastExit.time, now) + ' ago' : '-'}</td>
              <td>{i.startedAt ? ago(i.startedAt, now) : '-'}</td>
            </tr>
          ))}
        </Table>
  );
}

function HealthTab({ svc, instance }) {
  const shown = svc.instances.filter((i) => !instance || i.name === instance);
  if (!shown.some((i) => i.probes.length)) return <p class="muted">No health checks are configured for this service.</p>;
  return (
    <div class="health">
      {shown.map((i) => (
        <section class="card" aria-label={'Probes of ' + i.name}>
          <h3>{i.name}</h3>
          {i.probes.length === 0 && <p class="muted">No probes.</p>}
          {i.probes.map((p) => (
            <div class="probe" data-probe={p.type}>
              <div class="probe-head">
                <strong>{p.type}</strong> <span class="muted">{p.handler}</span> <State word={p.result} />
              </div>
              <dl class="facts">
                <div>
                  <dt>In a row</dt>
                  <dd>{p.consecutive}</dd>
                </div>
                <div>
                  <dt>Latency</dt>
                  <dd>{p.lastProbe ? p.latencyMs.toFixed(p.latencyMs < 10 ? 1 : 0) + ' ms' : '-'}</dd>
                </div>
                <div>
                  <dt>Last transition</dt>
                  <dd title={dateTime(p.lastTransition)}>{p.lastTransition ? ago(p.lastTransition) + ' ago' : '-'}</dd>
                </div>
                <div>
                  <dt>Last failure</dt>
                  <dd>{p.lastFailure ? ago(p.lastFailure.time) + ' ago: ' + p.lastFailure.message : '-'}</dd>
                </div>
              </dl>
              {p.history && p.history.length > 0 && (
                <div class="history" role="img" aria-label={`last ${p.history.length} runs of the ${p.type} probe`}>
                  {p.history.map((h) => (
                    <span
                      class={'run ' + (h.result === 'failure' ? 'bad' : h.result === 'warning' ? 'warn' : 'good')}
                      title={`${dateTime(h.time)}: ${h.result}, ${h.latencyMs.toFixed(1)} ms`}
                    />
                  ))}
                </div>
              )}
            </div>
          ))}
        </section>
      ))}
    </div>
  );
}

function AutoscalingTab({ project, service }) {
  const res = useAPI('autoscaling', null, 15000);
  const decisions = (res.data?.decisions || []).filter((d) => d.project === project && d.service === service);
  return (
    <div>
      <ErrorNote error={res.error} />
      {res.data && decisions.length === 0 && <p class="muted">No autoscaling decisions for this service (no policy, or none made yet).</p>}
      {decisions.length > 0 && (
        <Table cols={['Time', 'Replicas', 'Metrics', 'Why']}>
              {decisions
                .slice()
                .reverse()
                .map((d) => (
                  <tr>
                    <td title={dateTime(d.time)}>{ago(d.time)} ago</td>
                    <td>
                      {d.current} → {d.desired}
                    </td>
                    <td>
                      {(d.metrics || []).map((m) => (
                        <div>
                          {m.resource}: {m.utilization != null ? Math.round(m.utilization) + '%' : '-'} of {m.target}% target
                        </div>
                      ))}
                    </td>
                    <td>
                      {d.reason}
                      <div class="summary">
                        {d.limit ? 'limited by ' + d.limit + '; ' : ''}
                        {d.minReplicas}–{d.maxReplicas} replicas
                      </div>
                    </td>
                  </tr>
                ))}
            </Table>
      )}
    </div>
  );
}

export function ServicePage({ project, service, tab, params }) {
  const res = useAPI('services/' + encodeURIComponent(project) + '/' + encodeURIComponent(service), null, 3000);
  const svc = res.data?.services?.[0];
  const instance = params.get('instance') || '';
  const now = Date.now();
  const tabs = TABS;
  const href = (t) => serviceHref(project, service, t, instance ? { instance } : null);
  return (
    <div class="service">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Overview</Link> / {project} /
      </nav>
      <div class="service-head">
        <h1>{service}</h1>
        {svc && <State word={serviceState(svc)} />}
        {svc && (
          <span class="muted">
            {svc.instances.filter((i) => i.ready).length}/{svc.replicas} ready
          </span>
        )}
        <label class="picker">
          <span>Container</span>
          <select
            value={instance}
            onChange={(e) => navigate(withParams({ instance: e.currentTarget.value || null }))}
          >
            <option value="">All containers</option>
            {svc?.instances.map((i) => (
              <option value={i.name}>
                {i.name} ({instanceState(i)})
              </option>
            ))}
            {instance && svc && !svc.instances.some((i) => i.name === instance) && <option value={instance}>{instance} (gone)</option>}
          </select>
        </label>
      </div>
      <ErrorNote error={res.error} />
      {svc && <Instances svc={svc} now={now} />}
      <nav class="tabs" aria-label="Service views">
        {tabs.map(([t, label]) => (
          <Link href={href(t)} aria-current={t === tab ? 'page' : undefined} class="tab">
            {label}
          </Link>
        ))}
      </nav>
      <div class="tab-body">
        {tab === 'logs' && <LogsTab project={project} service={service} instance={instance} params={params} />}
        {tab === 'metrics' && <MetricsTab project={project} service={service} instance={instance} params={params} svc={svc} />}
        {tab === 'health' && svc && <HealthTab svc={svc} instance={instance} />}
        {tab === 'autoscaling' && <AutoscalingTab project={project} service={service} />}
        {tab === 'releases' && <ReleasesTab project={project} service={service} />}
        {tab === 'shell' && <ShellTab project={project} service={service} instance={instance} svc={svc} />}
        {!tabs.some(([t]) => t === tab) && <p class="error">No tab {tab}.</p>}
      </div>
    </div>
  );
}
