import { post } from './api.js';
import { ErrorNote, State, Table } from './overview.jsx';
import { ActionButton } from './pages.jsx';
import { ago, dateTime, human, useAPI } from './util.js';

// The Releases tab: the history GET …/releases answers (newest first),
// refreshed every 2 s while a release progresses, and rollback (POST
// …/rollback, scope deploy).

function specText(spec) {
  const parts = [];
  if (spec.version) parts.push('version ' + spec.version);
  if (spec.image) parts.push(spec.image);
  for (const [c, img] of Object.entries(spec.images || {})) parts.push(c + ': ' + img);
  if (spec.command?.length) parts.push(spec.command.join(' '));
  const env = Object.keys(spec.env || {});
  if (env.length) parts.push(env.length + ' env ' + (env.length === 1 ? 'variable' : 'variables'));
  return parts.join(' · ') || '-';
}

function triggerText(t) {
  let s = t.kind;
  if (t.by) s += ' by ' + t.by;
  if (t.flowRun) s += ' (flow run ' + t.flowRun + ')';
  return s;
}

function Progress({ rel }) {
  const p = rel.progress || {};
  if (rel.state !== 'progressing') {
    // A release that ended keeps the counts of its last step.
    return <span class="muted">{p.desired ? p.ready + '/' + p.desired + ' ready' : '-'}</span>;
  }
  const pct = p.desired > 0 ? Math.round((100 * p.ready) / p.desired) : 0;
  return (
    <div class="progress">
      <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax={p.desired} aria-valuenow={p.ready}>
        <span style={{ width: pct + '%' }} />
      </div>
      <div class="summary">
        {p.updated}/{p.desired} updated, {p.ready} ready, {p.old} old
        {p.waiting ? '; waiting on ' + p.waiting : ''}
        {rel.deadline ? '; fails in ' + ago(Date.now(), new Date(rel.deadline).getTime()) : ''}
      </div>
    </div>
  );
}

export function ReleasesTab({ project, service }) {
  const path = 'services/' + encodeURIComponent(project) + '/' + encodeURIComponent(service);
  const res = useAPI(path + '/releases', null, 2000);
  const list = res.data?.releases || [];
  const rollback = (revision) => () => post(path + '/rollback', revision ? { revision } : undefined);
  const now = Date.now();
  return (
    <div class="releases">
      <ErrorNote error={res.error} />
      {res.data && list.length === 0 && <p class="muted">No releases are recorded for this service.</p>}
      {list.length > 0 && (
        <>
          <div class="row">
            <ActionButton label="Roll back to the previous good release" run={rollback(0)} onDone={res.reload} />
          </div>
          <Table cols={['Revision', 'Trigger', 'State', 'Spec', 'Started', 'Took', 'Progress', 'Reason', '']} class="release-list">
            {list.map((r, i) => (
              <tr key={r.revision} data-revision={r.revision} data-state={r.state}>
                <td>
                  #{r.revision}
                  {r.rollbackOf ? <div class="summary">rollback to #{r.rollbackOf}</div> : null}
                </td>
                <td class="trigger">{triggerText(r.trigger)}</td>
                <td>
                  <State word={r.state} />
                </td>
                <td class="spec">{specText(r.spec)}</td>
                <td title={dateTime(r.started)}>{ago(r.started, now)} ago</td>
                <td title={r.finished ? dateTime(r.finished) : ''}>
                  {r.finished ? human(new Date(r.finished) - new Date(r.started)) : ago(r.started, now) + ' so far'}
                </td>
                <td>
                  <Progress rel={r} />
                </td>
                <td class="reason">{r.reason || '-'}</td>
                <td class="action-cell">
                  {i > 0 && <ActionButton label={'Roll back to #' + r.revision} run={rollback(r.revision)} onDone={res.reload} />}
                </td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </div>
  );
}
