import { Link } from './router.jsx';
import { ago, money, serviceState, stateClass, useAPI } from './util.js';

export function State({ word }) {
  return <span class={'state ' + stateClass(word)}>{word}</span>;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

export function serviceHref(project, service, tab, params) {
  let href = '/services/' + encodeURIComponent(project) + '/' + encodeURIComponent(service);
  if (tab) href += '/' + tab;
  const q = new URLSearchParams(params || {}).toString();
  return q ? href + '?' + q : href;
}

function Services({ svcs }) {
  const projects = [...new Set(svcs.map((s) => s.project))];
  return (
    <div class="table-wrap">
      <table class="services">
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">State</th>
            <th scope="col">Ready</th>
            <th scope="col">Instances</th>
            <th scope="col">Restarts</th>
          </tr>
        </thead>
        {projects.map((p) => (
          <tbody>
            <tr class="project-row">
              <th colSpan={5} scope="rowgroup">
                {p}
              </th>
            </tr>
            {svcs
              .filter((s) => s.project === p)
              .map((s) => {
                const ready = s.instances.filter((i) => i.ready).length;
                const restarts = s.instances.reduce((n, i) => n + i.restarts, 0);
                const state = serviceState(s);
                return (
                  <tr data-service={s.project + '/' + s.name}>
                    <td>
                      <Link href={serviceHref(s.project, s.name)}>{s.name}</Link>
                    </td>
                    <td>
                      <State word={state} />
                    </td>
                    <td>
                      {ready}/{s.replicas}
                    </td>
                    <td class="instances-cell">
                      {s.instances.map((i) => (
                        <span class={'dot ' + stateClass(i.status === 'Running' && !i.ready ? 'not ready' : i.status)} title={i.name + ': ' + i.status} />
                      ))}
                      <span class="muted"> {s.instances.length}</span>
                    </td>
                    <td>{restarts}</td>
                  </tr>
                );
              })}
          </tbody>
        ))}
      </table>
    </div>
  );
}

export function Overview() {
  const svcs = useAPI('services', null, 3000);
  const attention = useAPI('attention', null, 3000);
  const alerts = useAPI('alerts', null, 5000);
  const spend = useAPI('spend', null, 60000);
  const sinks = useAPI('sinks', null, 5000);
  const firing = (alerts.data?.alerts || []).filter((a) => a.status === 'firing');
  return (
    <div class="overview">
      <h1>Overview</h1>
      <div class="grid">
        <section class="card wide" aria-labelledby="h-services">
          <h2 id="h-services">Services</h2>
          <ErrorNote error={svcs.error} />
          {svcs.data && (svcs.data.services.length ? <Services svcs={svcs.data.services} /> : <p class="muted">No services.</p>)}
        </section>
        <section class="card" aria-labelledby="h-attention">
          <h2 id="h-attention">Needs attention</h2>
          <ErrorNote error={attention.error} />
          {attention.data &&
            (attention.data.attention.length ? (
              <ul class="attention">
                {attention.data.attention.map((a) => (
                  <li>
                    <Link href={serviceHref(a.project, a.service, 'logs', a.instance ? { instance: a.instance } : null)}>
                      {a.project}/{a.service}
                      {a.instance ? ' ' + a.instance : ''}
                    </Link>
                    : {a.reason}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">Nothing needs attention.</p>
            ))}
        </section>
        <section class="card" aria-labelledby="h-alerts">
          <h2 id="h-alerts">
            <Link href="/alerts">Firing alerts</Link>
          </h2>
          <ErrorNote error={alerts.error} />
          {alerts.data &&
            (firing.length ? (
              <ul class="plain">
                {firing.map((a) => (
                  <li>
                    <State word={a.severity || 'firing'} /> <strong>{a.event}</strong>{' '}
                    {a.service && <Link href={serviceHref(a.project, a.service, 'logs', a.instance ? { instance: a.instance } : null)}>{a.project}/{a.service}</Link>}{' '}
                    <span class="muted">for {ago(a.since)}</span>
                    <div class="summary">{a.summary}</div>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No alert is firing.</p>
            ))}
        </section>
        <section class="card" aria-labelledby="h-spend">
          <h2 id="h-spend">
            <Link href="/spend">Spend this month</Link>
          </h2>
          {spend.error ? (
            <p class="muted">{spend.error.message}</p>
          ) : (
            spend.data && (
              <dl class="figures">
                <div>
                  <dt>Month to date</dt>
                  <dd class="big">{money(spend.data.total, spend.data.currency)}</dd>
                </div>
                <div>
                  <dt>Forecast for the month</dt>
                  <dd class="big">{money(spend.data.forecast, spend.data.currency)}</dd>
                </div>
              </dl>
            )
          )}
        </section>
        <section class="card" aria-labelledby="h-sinks">
          <h2 id="h-sinks">
            <Link href="/sinks">Log sinks</Link>
          </h2>
          <ErrorNote error={sinks.error} />
          {sinks.data &&
            (sinks.data.sinks.length ? (
              <ul class="plain">
                {sinks.data.sinks.map((s) => (
                  <li>
                    <State word={s.state} /> <strong>{s.name}</strong> <span class="muted">{s.type}</span>
                    {s.lastError && <div class="summary">{s.lastError}</div>}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No sinks are configured.</p>
            ))}
        </section>
      </div>
    </div>
  );
}

// Table is a scrollable table with a header row; cols are labels or
// [label, class] pairs, children the body rows.
export function Table({ cols, class: cls, card, children }) {
  return (
    <div class={card ? 'table-wrap card' : 'table-wrap'}>
      <table class={cls}>
        <thead>
          <tr>
            {cols.map((c) =>
              Array.isArray(c) ? (
                <th scope="col" class={c[1]}>
                  {c[0]}
                </th>
              ) : (
                <th scope="col">{c}</th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
