import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

/** A GraphQL error answer, with linpath's code (BAD_USER_INPUT, NOT_FOUND, …) of the first error. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Answer<R> {
  data?: R | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

const ENDPOINT = '/graphql';

/** Where the dashboard keeps the API key the user entered (this browser only). */
const KEY_STORAGE = 'linpath.apiKey';

/** The API key sent with every request; empty: none (reads are open unless LINPATH_AUTH_READS=key). */
export const apiKey = (): string => localStorage.getItem(KEY_STORAGE) ?? '';

export function setApiKey(key: string): void {
  const trimmed = key.trim();
  if (trimmed === '') localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, trimmed);
  // The socket authenticates each operation with the key of its connection: reconnect with the new one.
  void client?.dispose();
  client = undefined;
}

const authorization = (): Record<string, string> => (apiKey() === '' ? {} : { authorization: `Bearer ${apiKey()}` });

const raise = (errors: NonNullable<Answer<unknown>['errors']>): never => {
  const [first] = errors;
  throw new ApiError(
    first === undefined ? 'unknown error' : `${first.extensions?.code ?? 'ERROR'}: ${first.message}`,
    first?.extensions?.code,
  );
};

/** A query or mutation over HTTP POST; throws ApiError for GraphQL errors. */
export async function request<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...authorization() },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const answer = (await response.json()) as Answer<R>;
  if (answer.errors !== undefined && answer.errors.length > 0) raise(answer.errors);
  if (answer.data == null) throw new ApiError(`HTTP ${response.status} without data`, undefined);
  return answer.data;
}

let client: Client | undefined;
const socket = (): Client =>
  (client ??= createClient({
    url: new URL(ENDPOINT, location.href).href.replace(/^http/, 'ws'),
    lazy: true,
    retryAttempts: 5,
    connectionParams: () => authorization(),
  }));

/** A subscription over graphql-ws (same URL); returns a function that ends it. */
export function subscribe<R, V extends Record<string, unknown>>(
  document: TypedDocumentNode<R, V>,
  variables: V,
  handlers: { next(data: R): void; error(error: Error): void; complete(): void },
): () => void {
  return socket().subscribe<R>(
    { query: print(document), variables },
    {
      next: (answer) => {
        if (answer.errors !== undefined && answer.errors.length > 0) {
          try {
            raise(answer.errors as NonNullable<Answer<unknown>['errors']>);
          } catch (error) {
            handlers.error(error as Error);
          }
          return;
        }
        if (answer.data != null) handlers.next(answer.data);
      },
      error: (error) => handlers.error(error instanceof Error ? error : new Error(describeSocketError(error))),
      complete: handlers.complete,
    },
  );
}

function describeSocketError(error: unknown): string {
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  if (typeof CloseEvent !== 'undefined' && error instanceof CloseEvent)
    return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`;
  return String(error);
}
