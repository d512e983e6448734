// Connects a tab's member to a leader. Tabs of one origin signed in as the same user
// share one leader: each asks for a Web Lock named after the user; the holder leads and
// hands every message on over a BroadcastChannel of the same name; when it goes away the
// browser gives the lock to the next tab, which takes over (StreamLeader says how, with
// no gap). Outside a page (Node, which has Web Locks and BroadcastChannel since 22, but
// whose clients in one process are not tabs), where either is missing (old browsers), or
// when the token names no user, the client leads alone.
import type { BackoffOptions } from './backoff.js';
import { identityKey, type Identity } from './claims.js';
import type { FromLeader, ToLeader } from './feed-messages.js';
import type { Http } from './http.js';
import { StreamLeader } from './stream-leader.js';
import type { StreamMember } from './stream-member.js';

/** How long a new leader waits for tabs to say where they are before it opens streams. */
const GATHER_MS = 150;

export interface LinkOptions {
  readonly http: Http;
  readonly member: StreamMember;
  readonly backoff?: BackoffOptions | undefined;
  readonly silenceMs?: number | undefined;
  /** The user; undefined: this tab leads alone. */
  readonly identity: Identity | undefined;
}

export interface TabLink {
  readonly shared: boolean;
  close(): void;
}

interface LockManager {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<void>;
}

function lockManager(): LockManager | undefined {
  if (typeof (globalThis as { document?: unknown }).document !== 'object') return undefined;
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  return typeof locks?.request === 'function' ? locks : undefined;
}

const isToLeader = (message: ToLeader | FromLeader): message is ToLeader => message.type === 'state' || message.type === 'loaded' || message.type === 'bye';

export function linkTab(options: LinkOptions): TabLink {
  const locks = lockManager();
  if (options.identity === undefined || locks === undefined || typeof BroadcastChannel !== 'function') return leadAlone(options);
  return share(options, locks, `walcast:${options.http.baseUrl}:${identityKey(options.identity)}`);
}

function leaderOptions(options: LinkOptions, broadcast: (message: FromLeader) => void) {
  return { http: options.http, backoff: options.backoff, silenceMs: options.silenceMs, broadcast };
}

function leadAlone(options: LinkOptions): TabLink {
  const leader = new StreamLeader(leaderOptions(options, (message) => options.member.receive(message)));
  options.member.connect((message) => leader.receive(message));
  leader.start(0);
  return { shared: false, close: () => leader.close() };
}

function share(options: LinkOptions, locks: LockManager, name: string): TabLink {
  const { member } = options;
  const channel = new BroadcastChannel(name);
  const released = new AbortController();
  let leader: StreamLeader | undefined;
  channel.onmessage = (event: MessageEvent<ToLeader | FromLeader>) => {
    const message = event.data;
    if (isToLeader(message)) leader?.receive(message);
    else member.receive(message);
  };
  member.connect((message) => {
    leader?.receive(message);
    channel.postMessage(message);
  });
  // Held until this tab closes the client or goes away (the browser then releases it).
  locks
    .request(name, { signal: released.signal }, async () => {
      if (released.signal.aborted) return;
      leader = new StreamLeader(
        leaderOptions(options, (message) => {
          channel.postMessage(message);
          member.receive(message);
        }),
      );
      leader.start(GATHER_MS);
      await new Promise((resolve) => released.signal.addEventListener('abort', resolve, { once: true }));
      leader.close();
      leader = undefined;
    })
    .catch(() => undefined);
  // A page that goes into the back/forward cache stops needing streams until it is shown again.
  const hidden = () => member.leave();
  const shown = (event: Event) => {
    if ((event as PageTransitionEvent).persisted) member.announce();
  };
  globalThis.addEventListener?.('pagehide', hidden);
  globalThis.addEventListener?.('pageshow', shown);
  return {
    shared: true,
    close: () => {
      globalThis.removeEventListener?.('pagehide', hidden);
      globalThis.removeEventListener?.('pageshow', shown);
      member.leave();
      released.abort();
      channel.close();
    },
  };
}
