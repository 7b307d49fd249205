import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { isLinpathError, tooManyRequests } from '../../errors.js';
import type { GraphQLContext } from '../context.js';
import { presentedKey, type RequestAuth } from './auth.js';
import { EventLoopSlices } from './event-loop-slices.js';
import { codedGraphQLError, guardSocketOperation, type GuardSettings } from './request-guard.js';

/** The longest run of subscription updates between two turns of the event loop, for every socket together. */
export const UPDATE_SLICE_MS = 10;

/** Close code of a socket whose client reads too slowly (RFC 6455 1013: try again later). */
export const SLOW_CONSUMER_CLOSE_CODE = 1013;

export interface SocketOperationDeps {
  schema: GraphQLSchema;
  guard: GuardSettings;
  /** Who sends an operation: the key presented in connectionParams, from the socket's client. */
  authenticate(key: string | undefined, socket: Extra): Promise<RequestAuth>;
  /** The context of an operation of this socket (its waits end when the socket closes). */
  context(auth: RequestAuth, socket: Extra): GraphQLContext;
  /** The error boundary of HTTP requests (errors.ts), applied to every error a socket sends. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  logger: Logger;
  /** LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET */
  maxSubscriptionsPerSocket: number;
  /** LINPATH_MAX_SOCKET_BUFFER_BYTES */
  maxSocketBufferBytes: number;
}

/**
 * graphql-ws's hooks, so that an operation over a WebSocket meets the boundary an HTTP request meets: the
 * same authentication (per operation: a key revoked while the socket is open stops working), the same guard
 * (token, root-field, depth and cost limits), and the same error formatting (every error has a code; no SQL,
 * stack or internal message reaches the client). Beyond HTTP's: at most `maxSubscriptionsPerSocket`
 * operations at once per socket, and a socket whose unsent data passes `maxSocketBufferBytes` is closed
 * instead of buffering without end. The updates of all sockets share the event loop in slices of
 * UPDATE_SLICE_MS (event-loop-slices.ts), and so do their new operations, so that sockets subscribing or
 * replaying many events at once cannot starve HTTP requests.
 */
export function socketOperations(deps: SocketOperationDeps): ServerOptions<Record<string, unknown>, Extra> {
  const slices = new EventLoopSlices(UPDATE_SLICE_MS);
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((error) => deps.formatError(error.toJSON(), error));
  return {
    schema: deps.schema,
    onSubscribe: async (ctx, _id, payload) => {
      // Parsing and validating an operation shares the loop too: a burst of sockets subscribing at once is
      // worked through in slices, not in one run of hundreds of documents.
      await slices.turn();
      try {
        // graphql-ws records the operation before this hook runs: the count includes it.
        const running = Object.keys(ctx.subscriptions).length;
        if (running > deps.maxSubscriptionsPerSocket) {
          throw tooManyRequests(
            `expected at most ${deps.maxSubscriptionsPerSocket} operations at once on one WebSocket ` +
              `(LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET), got ${running}; complete one first`,
          );
        }
        const auth = await deps.authenticate(presentedKey(ctx.connectionParams), ctx.extra);
        return guardSocketOperation(deps.schema, payload, auth, deps.guard, deps.context(auth, ctx.extra));
      } catch (error) {
        // Formatted by onError below: a linpath error keeps its code, anything else is logged and masked.
        return [isLinpathError(error) ? codedGraphQLError(error) : asGraphQLError(error)];
      }
    },
    onNext: async (ctx, _id, _payload, _args, result) => {
      await slices.turn();
      const socket = ctx.extra.socket;
      if (socket.bufferedAmount > deps.maxSocketBufferBytes) {
        deps.logger.warn(
          { client: ctx.extra.request.socket.remoteAddress, buffered: socket.bufferedAmount },
          'closing a WebSocket that reads too slowly (LINPATH_MAX_SOCKET_BUFFER_BYTES)',
        );
        socket.close(SLOW_CONSUMER_CLOSE_CODE, 'reads too slowly: LINPATH_MAX_SOCKET_BUFFER_BYTES');
      }
      if (result.errors === undefined) return undefined;
      return { ...result, errors: format(result.errors) };
    },
    onError: (_ctx, _id, _payload, errors) => format(errors),
  };
}

/** Anything else thrown, as a GraphQL error with it as the cause, which the boundary logs and masks. */
function asGraphQLError(error: unknown): GraphQLError {
  const original = error instanceof Error ? error : new Error(String(error));
  return new GraphQLError(original.message, { originalError: original });
}
