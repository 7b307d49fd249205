import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

// GraphiQL, bundled (no CDN): queries over HTTP, subscriptions over graphql-ws at the same URL.
const url = new URL('/graphql', location.href);
// The dashboard's API key (its "API key" field), if any, goes with every request; GraphiQL's own headers win.
const key = localStorage.getItem('linpath.apiKey') ?? '';
const authorization: Record<string, string> = key === '' ? {} : { authorization: `Bearer ${key}` };
const fetcher = createGraphiQLFetcher({
  url: url.href,
  subscriptionUrl: url.href.replace(/^http/, 'ws'),
  headers: authorization,
  wsConnectionParams: authorization,
});
createRoot(document.getElementById('graphiql')!).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery:
      '# linpath: try\n{ runs(first: 10) { edges { node { name architecture testAccuracy barrier { shape frankleHeight } } } } }\n',
  }),
);
