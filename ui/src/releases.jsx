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

function shortDigest(d) {
  return d ? d.replace(/^sha256:/, '').slice(0, 12) : '';
}

// Continuous: the state of the service's continuous deployments (GET
// …/continuous, Kubernetes): what each follows, what it deployed last,
// and a pause by a deploy or rollback by hand, with Resume (POST
// …/continuous/resume, scope deploy). Nothing for a service without it.
function Continuous({ path }) {
  const res = useAPI(path + '/continuous', null, 2000);
  const list = res.data?.continuous || [];
  if (list.length === 0) return null;
  const resume = () => post(path + '/continuous/resume');
  return (
    <div class="continuous">
      {list.map((c) => (
        <div class="row" data-container={c.container || c.flow} data-paused={c.paused ? 'true' : 'false'}>
          <span>
            Continuous deployment of {c.container ? 'container ' + c.container : 'flow ' + c.flow}: {c.image}
            {c.tag ? ':' + c.tag : ' (semver ' + c.semver + ')'}{' '}
          </span>
          {c.paused ? (
            <>
              <State word="paused" />
              <span class="summary">
                {' '}
                {c.pausedReason || 'paused'}
                {c.pausedBy ? ' by ' + c.pausedBy : ''}
                {c.pausedAt ? ' at ' + dateTime(c.pausedAt) : ''}{' '}
              </span>
              <ActionButton label="Resume continuous deployment" run={resume} onDone={res.reload} />
            </>
          ) : (
            <State word="following" />
          )}
          <span class="summary">
            {c.deployed ? ' · deployed ' + shortDigest(c.deployed) + (c.revision ? ' as #' + c.revision : '') + (c.outcome ? ' (' + c.outcome + ')' : '') : ''}
            {c.error ? ' · ' + c.error : ''}
          </span>
        </div>
      ))}
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
      <Continuous path={path} />
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
