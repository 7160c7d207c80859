import { useState } from 'preact/hooks';
import { post } from './api.js';
import { Link, navigate, withParams } from './router.jsx';
import { ErrorNote, State, Table, serviceHref } from './overview.jsx';
import { ago, bytes, dateTime, money, useAPI } from './util.js';

// ActionButton runs an API action and shows what the API answered (a
// token without the scope gets the API's 403 message).
export function ActionButton({ label, run, onDone }) {
  const [state, setState] = useState({ busy: false, error: null, ok: false });
  const click = async () => {
    setState({ busy: true, error: null, ok: false });
    try {
      await run();
      setState({ busy: false, error: null, ok: true });
      onDone && onDone();
    } catch (err) {
      setState({ busy: false, error: err, ok: false });
    }
  };
  return (
    <span class="action">
      <button type="button" onClick={click} disabled={state.busy}>
        {label}
      </button>
      {state.ok && <span class="ok"> done</span>}
      {state.error && (
        <span class="error" role="alert">
          {' '}
          {state.error.message}
        </span>
      )}
    </span>
  );
}

export function AlertsPage() {
  const alerts = useAPI('alerts', null, 5000);
  const deliveries = useAPI('deliveries', null, 5000);
  const list = alerts.data?.alerts || [];
  return (
    <div>
      <h1>Alerts and deliveries</h1>
      <section class="card" aria-labelledby="h-al">
        <h2 id="h-al">Alerts</h2>
        <ErrorNote error={alerts.error} />
        {alerts.data && list.length === 0 && <p class="muted">No alerts.</p>}
        {list.length > 0 && (
          <Table cols={['Status', 'Event', 'Service', 'Since', 'Summary']}>
                {list.map((a) => (
                  <tr>
                    <td>
                      <State word={a.status} />
                    </td>
                    <td>{a.event}</td>
                    <td>
                      {a.service ? (
                        <Link href={serviceHref(a.project, a.service, 'logs', a.instance ? { instance: a.instance } : null)}>
                          {a.project}/{a.service}
                          {a.instance ? ' ' + a.instance : ''}
                        </Link>
                      ) : (
                        '-'
                      )}
                    </td>
                    <td title={dateTime(a.since)}>{ago(a.since)} ago</td>
                    <td>{a.summary}</td>
                  </tr>
                ))}
              </Table>
        )}
      </section>
      <section class="card" aria-labelledby="h-del">
        <h2 id="h-del">Deliveries</h2>
        <ErrorNote error={deliveries.error} />
        {deliveries.data?.integrations?.length > 0 && (
          <ul class="plain integrations">
            {deliveries.data.integrations.map((i) => (
              <li>
                <State word={i.state} /> <strong>{i.name}</strong> <span class="muted">{i.type}</span> {i.reason && <span class="muted">: {i.reason}</span>}
              </li>
            ))}
          </ul>
        )}
        {deliveries.data && deliveries.data.deliveries.length === 0 && <p class="muted">No deliveries.</p>}
        {deliveries.data?.deliveries?.length > 0 && (
          <Table cols={['Time', 'Integration', 'Event', 'State', 'Attempts', 'Last status', 'Action']} class="deliveries">
                {deliveries.data.deliveries.map((d) => (
                  <tr data-delivery={d.id}>
                    <td title={dateTime(d.time)}>{ago(d.time)} ago</td>
                    <td>{d.integration}</td>
                    <td>{d.event}</td>
                    <td>
                      <State word={d.state} />
                      {d.lastError && <div class="summary">{d.lastError}</div>}
                    </td>
                    <td>{d.attempts}</td>
                    <td>{d.lastStatus || '-'}</td>
                    <td>
                      <ActionButton label="Resend" run={() => post('deliveries/' + encodeURIComponent(d.id) + '/resend')} onDone={deliveries.reload} />
                    </td>
                  </tr>
                ))}
              </Table>
        )}
      </section>
    </div>
  );
}

const BYS = ['project,service,resource', 'project', 'project,service', 'project,resource', 'resource'];

export function SpendPage() {
  const by = new URLSearchParams(location.search).get('by') || BYS[0];
  const spend = useAPI('spend', { by }, 60000);
  const d = spend.data;
  const dims = by.split(',');
  return (
    <div>
      <h1>Spend</h1>
      <ErrorNote error={spend.error} />
      {d && (
        <section class="card">
          <dl class="figures">
            <div>
              <dt>Month to date</dt>
              <dd class="big">{money(d.total, d.currency)}</dd>
            </div>
            <div>
              <dt>Forecast for the month</dt>
              <dd class="big">{money(d.forecast, d.currency)}</dd>
            </div>
            <div>
              <dt>Period</dt>
              <dd>
                {dateTime(d.from)} – {dateTime(d.to)}
              </dd>
            </div>
          </dl>
          <label>
            <span>Break down by </span>
            <select value={by} onChange={(e) => navigate(withParams({ by: e.currentTarget.value === BYS[0] ? null : e.currentTarget.value }), { replace: true })}>
              {BYS.map((b) => (
                <option value={b}>{b.replaceAll(',', ', ')}</option>
              ))}
            </select>
          </label>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  {dims.map((k) => (
                    <th scope="col">{k}</th>
                  ))}
                  <th scope="col" class="num">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.rows.map((r) => (
                  <tr>
                    {dims.map((k) => (
                      <td>{r[k] || '-'}</td>
                    ))}
                    <td class="num">{money(r.cost, d.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}

export function SinksPage() {
  const sinks = useAPI('sinks', null, 3000);
  const list = sinks.data?.sinks || [];
  return (
    <div>
      <h1>Log sinks</h1>
      <ErrorNote error={sinks.error} />
      {sinks.data && list.length === 0 && <p class="muted">No sinks are configured.</p>}
      {list.length > 0 && (
        <Table cols={['Sink', 'State', 'Buffer', ['Sent', 'num'], ['Retried', 'num'], ['Dead-lettered', 'num'], 'Last delivery', 'Action']} card>
              {list.map((s) => (
                <tr data-sink={s.name}>
                  <td>
                    <strong>{s.name}</strong> <span class="muted">{s.type}</span>
                  </td>
                  <td>
                    <State word={s.state} />
                    {s.lastError && <div class="summary">{s.lastError}</div>}
                  </td>
                  <td>
                    {bytes(s.bufferBytes)} of {bytes(s.bufferMaxBytes)} ({s.bufferEvents} events)
                  </td>
                  <td class="num">{s.sent}</td>
                  <td class="num">{s.retried}</td>
                  <td class="num">{s.deadLettered}</td>
                  <td>{s.lastDelivery ? ago(s.lastDelivery) + ' ago' : '-'}</td>
                  <td>
                    {s.state === 'paused' ? (
                      <ActionButton label="Resume" run={() => post('sinks/' + encodeURIComponent(s.name) + '/resume')} onDone={sinks.reload} />
                    ) : (
                      <ActionButton label="Pause" run={() => post('sinks/' + encodeURIComponent(s.name) + '/pause')} onDone={sinks.reload} />
                    )}
                  </td>
                </tr>
              ))}
            </Table>
      )}
    </div>
  );
}
