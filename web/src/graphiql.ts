import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

// GraphiQL, bundled (no CDN): queries over HTTP, subscriptions over graphql-ws at the same URL.
const url = new URL('/graphql', location.href);
const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: url.href.replace(/^http/, 'ws') });
createRoot(document.getElementById('graphiql')!).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: '# linpath: try\n{ runs(first: 10) { edges { node { name architecture testAccuracy barrier { shape frankleHeight } } } } }\n',
  }),
);
