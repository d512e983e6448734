// walcast/client: the typed SDK for browsers and Node 20+ (fetch, no Node modules).
//
//   const walcast = createClient<Tables>({ url: 'https://walcast.example.com', token: () => myApp.walcastToken() });
//   const todos = walcast.subscribe({ tables: ['todos'], rooms: ['list-1'] });
//   todos.on('rows', () => render(todos.rows('todos')));
//   await todos.update('todos', row, { done: true });      // shown at once, confirmed or taken back
//   const me = walcast.presence('list-1', { state: { typing: false } });
//
// All subscriptions of a client share one stream (two, when two want one table under
// different filters), and tabs of one origin signed in as the same user share it too.
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { DEFAULT_TENANT_CLAIM, identityOf, type Identity } from './claims.js';
import type { Http } from './http.js';
import { clearStoredEdits, type EditStorage } from './outbox.js';
import { Presence, type PresenceOptions } from './presence.js';
import { StreamMember } from './stream-member.js';
import { Subscription, type AnyTables, type SubscribeOptions, type TableRows } from './subscription.js';
import { linkTab, type TabLink } from './tab-link.js';
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
  /** The claim that names the tenant, as the server's WALCAST_TENANT_CLAIM (default `tenant_id`). */
  readonly tenantClaim?: string;
  /** Share one stream with this user's other tabs of the origin (default true, where the browser can). */
  readonly shareAcrossTabs?: boolean;
  /** A stream silent this long is dropped and resumed (default twice the 15 s keepalive bound). */
  readonly silenceMs?: number;
  /** Rows per snapshot page (default 1000): a large table shows as its pages come. */
  readonly pageSize?: number;
  /** How often an edit answered with a 5xx is retried before it is rejected (default 5). */
  readonly editRetries?: number;
}

export interface WalcastClient<T extends TableRows = AnyTables> {
  subscribe<N extends keyof T & string>(options: SubscribeOptions<N>): Subscription<T, N>;
  presence(room: string, options?: PresenceOptions): Presence;
  /** Sign-out: every unconfirmed edit of this user is dropped, in this page and in storage. */
  clearPendingEdits(): Promise<void>;
  /** Clears pending edits and closes every subscription, presence and stream of this client. */
  signOut(): Promise<void>;
  close(): void;
}

const DEFAULT_PAGE_SIZE = 1_000;

export function createClient<T extends TableRows = AnyTables>(options: ClientOptions): WalcastClient<T> {
  const http: Http = {
    baseUrl: options.url,
    tokens: new TokenSource(options.token),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const tenantClaim = options.tenantClaim ?? DEFAULT_TENANT_CLAIM;
  const identity: Promise<Identity | undefined> = http.tokens.current().then(
    (token) => identityOf(token, tenantClaim),
    () => undefined,
  );
  const member = new StreamMember(() => undefined);
  const subscriptions = new Set<{ close(): void; clearPendingEdits(): void }>();
  const presences = new Set<Presence>();
  const storages = new Set<EditStorage>();
  let link: TabLink | undefined;
  let closed = false;
  void identity.then((user) => {
    if (closed) return;
    link = linkTab({ http, member, backoff, silenceMs: options.silenceMs, identity: options.shareAcrossTabs === false ? undefined : user });
  });

  const clearPendingEdits = async () => {
    for (const subscription of subscriptions) subscription.clearPendingEdits();
    const user = await identity;
    if (user) for (const storage of storages) clearStoredEdits(storage, user);
  };
  const close = () => {
    closed = true;
    for (const subscription of [...subscriptions]) subscription.close();
    for (const presence of [...presences]) void presence.leave();
    link?.close();
  };

  return {
    subscribe: (subscribeOptions) => {
      if (subscribeOptions.persistEdits) storages.add(subscribeOptions.persistEdits.storage);
      const subscription = new Subscription<T, (typeof subscribeOptions.tables)[number]>(
        {
          http,
          member,
          backoff,
          pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
          identity,
          tenantClaim,
          serverErrorRetries: options.editRetries,
          closed: (done) => subscriptions.delete(done as Subscription),
        },
        subscribeOptions,
      );
      subscriptions.add(subscription);
      return subscription;
    },
    presence: (room, presenceOptions) => {
      const presence = new Presence(http, room, presenceOptions);
      presences.add(presence);
      return presence;
    },
    clearPendingEdits,
    signOut: async () => {
      await clearPendingEdits();
      close();
    },
    close,
  };
}

export { WalcastClientError, WalcastConflictError } from './errors.js';
export type { Subscription, SubscribeOptions, SubscriptionStatus, WhereOption, AnyTables, TableRows, RowOf, NameOf } from './subscription.js';
export type { Presence, PresenceOptions } from './presence.js';
export type { BackoffOptions } from './backoff.js';
export type { EditStorage, PersistOptions } from './outbox.js';
export type { WindowOptions } from './table-copy.js';
export type { TokenProvider } from './tokens.js';
export type { ChangeEvent, JsonValue, Member, Row } from './types.js';
