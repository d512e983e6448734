// A tab's side of the shared streams: says what its subscriptions need, skips the event
// IDs it already applied (a stream reopened from an earlier point, or a new leader,
// brings some again), and hands each message to the subscriptions it concerns. It tells
// a subscription when the stream carrying its table is open and whether it must read the
// table (again): the snapshot is read only after that, so the hand-off stays exact.
import { SSE_EVENT } from '../wire/names.js';
import type { StreamStatus } from './event-stream.js';
import type { ErrorData, FromLeader, ToLeader } from './feed-messages.js';
import { alreadySeen, leavesGap, type Position } from './position.js';
import type { Interest, InterestKey } from './stream-plan.js';
import { interestKey } from './stream-plan.js';

export interface MemberListener {
  /** Its tables and their filters. */
  readonly interests: readonly Interest[];
  readonly rooms: readonly string[];
  /** The stream carrying `table` is open; `reload`: what was read before is not enough. */
  covered(table: string, reload: boolean): void;
  /** A message of the stream for one of its tables (`table`), or its rooms (undefined). */
  message(table: string | undefined, event: string, data: unknown): void;
  streamStatus(table: string, status: StreamStatus, error: ErrorData | undefined): void;
}

interface Coverage {
  readonly generation: number;
  status: StreamStatus;
  error: ErrorData | undefined;
}

/** `change`, `truncate` and `invalidate` name their table; `presence` its room. */
type Payload = { readonly table?: string; readonly room?: string };

export const tableOfKey = (key: InterestKey) => key.slice(0, key.indexOf('?'));

export function newTabId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

export class StreamMember {
  readonly tab = newTabId();
  readonly #listeners = new Set<MemberListener>();
  /** Per interest: the last event ID applied, or the cursor of the read before any came. */
  readonly #seen = new Map<InterestKey, Position>();
  readonly #coverage = new Map<InterestKey, Coverage>();
  #announceQueued = false;

  constructor(private send: (message: ToLeader) => void) {}

  /** Where messages to the leader go from now on (a leader elected, a link set up). */
  connect(send: (message: ToLeader) => void): void {
    this.send = send;
    this.announce();
  }

  add(listener: MemberListener): void {
    this.#listeners.add(listener);
    for (const interest of listener.interests) {
      const coverage = this.#coverage.get(interestKey(interest));
      if (!coverage) continue;
      if (coverage.status === 'stopped') listener.streamStatus(interest.table, 'stopped', coverage.error);
      else listener.covered(interest.table, false);
    }
    this.queueAnnounce();
  }

  remove(listener: MemberListener): void {
    this.#listeners.delete(listener);
    this.queueAnnounce();
  }

  /** A listener read `key`'s table; before any event its cursor is where the stream resumes. */
  loaded(key: InterestKey, cursor: Position): void {
    if (this.#seen.has(key)) return;
    this.#seen.set(key, cursor);
    const coverage = this.#coverage.get(key);
    if (coverage) this.send({ type: 'loaded', tab: this.tab, key, cursor, generation: coverage.generation });
  }

  /** This tab is going away: its interests no longer need a stream. */
  leave(): void {
    this.send({ type: 'bye', tab: this.tab });
  }

  announce(): void {
    const interests = new Map<InterestKey, Interest>();
    const rooms = new Set<string>();
    for (const listener of this.#listeners) {
      for (const interest of listener.interests) interests.set(interestKey(interest), interest);
      for (const room of listener.rooms) rooms.add(room);
    }
    const seen = Object.fromEntries([...this.#seen].filter(([key]) => interests.has(key))) as Record<InterestKey, Position>;
    this.send({ type: 'state', tab: this.tab, interests: [...interests.values()], rooms: [...rooms], seen });
  }

  receive(message: FromLeader): void {
    switch (message.type) {
      case 'hello':
        return this.announce();
      case 'open':
        if (message.to !== undefined && message.to !== this.tab) return;
        return this.opened(message.generation, message.keys, message.from);
      case 'message':
        if (message.to !== undefined && message.to !== this.tab) return;
        return this.dispatch(message.keys, message.event, message.id, message.data);
      case 'status':
        for (const key of message.keys) {
          const coverage = this.#coverage.get(key);
          if (coverage) Object.assign(coverage, { status: message.status, error: message.error });
          else if (message.status === 'stopped') this.#coverage.set(key, { generation: -1, status: 'stopped', error: message.error });
          for (const [listener, table] of this.listenersOf(key)) listener.streamStatus(table, message.status, message.error);
        }
        return;
      default:
        return assertNever(message);
    }
  }

  private queueAnnounce(): void {
    if (this.#announceQueued) return;
    this.#announceQueued = true;
    queueMicrotask(() => {
      this.#announceQueued = false;
      this.announce();
    });
  }

  private *listenersOf(key: InterestKey): Generator<[MemberListener, string]> {
    for (const listener of this.#listeners) {
      for (const interest of listener.interests) if (interestKey(interest) === key) yield [listener, interest.table];
    }
  }

  private opened(generation: number, keys: readonly InterestKey[], from: Position | undefined): void {
    for (const key of keys) {
      const seen = this.#seen.get(key);
      // From now, or from later than this tab has got to: read the table again.
      const reload = from === undefined || (seen !== undefined && leavesGap(seen, from));
      if (reload) this.#seen.delete(key);
      this.#coverage.set(key, { generation, status: 'open', error: undefined });
      for (const [listener, table] of this.listenersOf(key)) listener.covered(table, reload);
    }
  }

  private dispatch(keys: readonly InterestKey[], event: string, id: string | undefined, data: string): void {
    const payload = parsePayload(data);
    const table = typeof payload === 'object' && payload !== null ? (payload as Payload).table : undefined;
    const key = table === undefined ? undefined : keys.find((candidate) => tableOfKey(candidate) === table);
    const duplicate = id !== undefined && key !== undefined && alreadySeen(id, this.#seen.get(key));
    if (id !== undefined) {
      for (const carried of keys) {
        if (this.#seen.has(carried) || this.hasListeners(carried)) this.#seen.set(carried, id);
      }
    }
    if (duplicate) return;
    if (event === SSE_EVENT.reset) {
      // The stream goes on from now: every table it carries is read again.
      for (const carried of keys) {
        this.#seen.delete(carried);
        for (const [listener, name] of this.listenersOf(carried)) listener.covered(name, true);
      }
      return;
    }
    if (key !== undefined) {
      for (const [listener, name] of this.listenersOf(key)) listener.message(name, event, payload);
      return;
    }
    const room = typeof payload === 'object' && payload !== null ? (payload as Payload).room : undefined;
    if (room === undefined) return;
    for (const listener of this.#listeners) if (listener.rooms.includes(room)) listener.message(undefined, event, payload);
  }

  private hasListeners(key: InterestKey): boolean {
    return !this.listenersOf(key).next().done;
  }
}

function parsePayload(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function assertNever(value: never): never {
  throw new TypeError(`walcast: unexpected message ${JSON.stringify(value)}`);
}
