import { useEffect, useState } from 'preact/hooks';

// Every view has a URL: /, /services/{project}/{service}[/{tab}],
// /alerts, /spend, /sinks, with the view's state (instance, search, time
// range) in the query string, so a link opens the same view.

function current() {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

const listeners = new Set();

export function navigate(url, { replace = false } = {}) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l(current());
}

addEventListener('popstate', () => {
  for (const l of listeners) l(current());
});

export function useRoute() {
  const [r, setR] = useState(current);
  useEffect(() => {
    listeners.add(setR);
    return () => listeners.delete(setR);
  }, []);
  return r;
}

// withParams returns the current path with params changed (null removes).
export function withParams(changes, path = location.pathname) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') p.delete(k);
    else p.set(k, String(v));
  }
  const s = p.toString();
  return path + (s ? '?' + s : '');
}

// Link is an <a> that changes the view without reloading the page.
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
    window.scrollTo(0, 0);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
