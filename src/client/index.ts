// walcast/client: the typed SDK for browsers and Node 20+ (fetch, no Node modules).
//
//   const walcast = createClient({ url: 'https://walcast.example.com', token: () => myApp.walcastToken() });
//   const todos = walcast.subscribe({ tables: ['todos'], rooms: ['list-1'] });
//   todos.on('rows', () => render(todos.rows('todos')));
//   await todos.update('todos', row, { done: true });      // shown at once, confirmed or taken back
//   const me = walcast.presence('list-1', { state: { typing: false } });
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { Http } from './http.js';
import { Presence, type PresenceOptions } from './presence.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { TokenSource, type TokenProvider } from './tokens.js';

export interface ClientOptions {
  /** Where walcast answers, e.g. `https://walcast.example.com` or `/realtime` (same origin). */
  readonly url: string;
  /** A token (JWT), or a function that returns one; a function is asked again when it expires. */
  readonly token: TokenProvider;
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Reconnect and retry delays (exponential with full jitter). */
  readonly backoff?: BackoffOptions;
}

export interface WalcastClient {
  subscribe(options: SubscribeOptions): Subscription;
  presence(room: string, options?: PresenceOptions): Presence;
}

export function createClient(options: ClientOptions): WalcastClient {
  const http: Http = {
    baseUrl: options.url,
    tokens: new TokenSource(options.token),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  return {
    subscribe: (subscribeOptions) => new Subscription(http, subscribeOptions, backoff),
    presence: (room, presenceOptions) => new Presence(http, room, presenceOptions),
  };
}

export { WalcastClientError, WalcastConflictError } from './errors.js';
export type { Subscription, SubscribeOptions, SubscriptionStatus } from './subscription.js';
export type { Presence, PresenceOptions } from './presence.js';
export type { BackoffOptions } from './backoff.js';
export type { EditStorage, PersistOptions } from './outbox.js';
export type { TokenProvider } from './tokens.js';
export type { ChangeEvent, JsonValue, Member, Row } from './types.js';
