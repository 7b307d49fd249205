import './style.css';
import { apiKey, setApiKey } from './api.js';
import { h } from './dom.js';
import { correlationView } from './views/correlation.js';
import { fig1aView } from './views/fig1a.js';
import { pathView } from './views/path.js';
import { planeView } from './views/plane.js';
import { runsView } from './views/runs.js';

/** Hash routes: #/runs (default), #/path?…, #/plane?…, #/correlation, #/fig1a?run=…. */
function route(): void {
  const main = document.querySelector<HTMLElement>('main')!;
  const [name = 'runs', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  for (const link of document.querySelectorAll('nav a[data-route]'))
    link.toggleAttribute('aria-current', link.getAttribute('data-route') === name);
  if (name === 'path') pathView(main, new URLSearchParams(query));
  else if (name === 'plane') planeView(main, new URLSearchParams(query));
  else if (name === 'correlation') correlationView(main);
  else if (name === 'fig1a') fig1aView(main, new URLSearchParams(query));
  else runsView(main);
}

/** The API key field: kept in localStorage and sent as `Authorization: Bearer`; needed when reads need a key. */
function apiKeyField(): HTMLElement {
  const input = h('input', {
    type: 'password',
    id: 'api-key',
    placeholder: 'lp_…',
    autocomplete: 'off',
    size: 24,
    value: apiKey(),
    onchange: (event: Event) => {
      setApiKey((event.target as HTMLInputElement).value);
      route();
    },
  });
  return h(
    'label',
    { class: 'api-key muted', title: 'Sent as "Authorization: Bearer <key>"; stored in this browser only' },
    'API key ',
    input,
  );
}

document.body.replaceChildren(
  h(
    'header',
    {},
    h('h1', {}, 'linpath'),
    h(
      'nav',
      {},
      h('a', { href: '#/runs', 'data-route': 'runs' }, 'Runs'),
      h('a', { href: '#/path', 'data-route': 'path' }, 'Curves'),
      h('a', { href: '#/plane', 'data-route': 'plane' }, 'Plane'),
      h('a', { href: '#/correlation', 'data-route': 'correlation' }, 'Correlation'),
      h('a', { href: '#/fig1a', 'data-route': 'fig1a' }, 'Fig. 1A'),
      h('a', { href: '/graphql' }, 'GraphiQL'),
    ),
    apiKeyField(),
  ),
  h('main'),
);
/** Views that rewrite their own hash when they show something: only a change of view re-renders them. */
const SELF_ROUTED = new Set(['path', 'plane']);
let current = '';
window.addEventListener('hashchange', () => {
  const view = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  if (view !== current || !SELF_ROUTED.has(view)) route();
  current = view;
});
current = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
route();
