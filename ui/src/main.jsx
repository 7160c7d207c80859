import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setToken, whenUnauthorized } from './api.js';
import { Link, useRoute } from './router.jsx';
import { Overview } from './overview.jsx';
import { ServicePage } from './service.jsx';
import { AlertsPage, SpendPage, SinksPage } from './pages.jsx';
import './style.css';

// TokenPrompt asks for an API token when the API answers 401. The token
// is kept in sessionStorage: for this tab, until it is closed.
function TokenPrompt({ reason, onDone }) {
  const [value, setValue] = useState('');
  const submit = (e) => {
    e.preventDefault();
    setToken(value.trim());
    onDone();
  };
  return (
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title">
      <form class="card token-form" onSubmit={submit}>
        <h2 id="token-title">API token</h2>
        <p>
          This opshub requires a token (<code>server.tokens</code>). It is kept for this browser session only.
        </p>
        {reason && <p class="error">{reason}</p>}
        <label for="token-input">Token</label>
        <input
          id="token-input"
          type="password"
          autocomplete="off"
          autofocus
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <div class="row">
          <button type="submit" class="primary" disabled={!value.trim()}>
            Sign in
          </button>
        </div>
      </form>
    </div>
  );
}

const NAV = [
  ['/', 'Overview'],
  ['/alerts', 'Alerts'],
  ['/spend', 'Spend'],
  ['/sinks', 'Sinks'],
];

function App() {
  const route = useRoute();
  const [asking, setAsking] = useState(null);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => whenUnauthorized((reason) => setAsking(reason)), []);
  const parts = route.path.split('/').filter(Boolean).map(decodeURIComponent);
  let page;
  if (parts.length === 0) page = <Overview />;
  else if (parts[0] === 'services' && parts.length >= 3)
    page = <ServicePage project={parts[1]} service={parts[2]} tab={parts[3] || 'logs'} params={route.params} />;
  else if (parts[0] === 'alerts') page = <AlertsPage />;
  else if (parts[0] === 'spend') page = <SpendPage />;
  else if (parts[0] === 'sinks') page = <SinksPage />;
  else page = <p class="error">No page at {route.path}.</p>;
  // A service page belongs to no section of the navigation.
  const section = parts[0] === 'services' ? null : '/' + (parts[0] || '');
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          opshub
        </Link>
        <nav aria-label="Sections">
          {NAV.map(([href, label]) => (
            <Link href={href} aria-current={section === href ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <button
          class="link signout"
          onClick={() => {
            setToken('');
            setEpoch((e) => e + 1);
          }}
        >
          Forget token
        </button>
      </header>
      <main id="main" key={epoch}>
        {page}
      </main>
      {asking !== null && (
        <TokenPrompt
          reason={asking}
          onDone={() => {
            setAsking(null);
            setEpoch((e) => e + 1);
          }}
        />
      )}
    </>
  );
}

render(<App />, document.getElementById('app'));
