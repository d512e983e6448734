// The holder of a browser's streams: takes the interests of every tab (or of its own
// alone), opens the fewest streams that carry them, reopens one when what it must carry
// changes, and hands every message on. It remembers, per interest, the last event ID a
// stream brought (or, before any, the cursor of a snapshot read since it opened): a
// stream reopens from the earliest of its interests' positions, so no reader misses an
// event; readers skip the IDs they already have.
//
//   gathering ──(gatherMs: tabs told where they are)──► running ──close()──► closed
//
// A new leader starts by asking every tab where it is (`hello`) and resumes from the
// earliest answer: a takeover leaves no gap.
import { SSE_EVENT } from '../wire/names.js';
import type { BackoffOptions } from './backoff.js';
import { EventStream, type StreamStatus } from './event-stream.js';
import type { ErrorData, FromLeader, ToLeader } from './feed-messages.js';
import type { Http } from './http.js';
import { earliestPosition, type Position } from './position.js';
import { interestKey, planStreams, streamPath, type Interest, type InterestKey, type StreamPlan } from './stream-plan.js';
import type { WalcastClientError } from './errors.js';
import { applyPresence } from './room-members.js';
import type { Member, PresenceEvent } from './types.js';

export interface StreamLeaderOptions {
  readonly http: Http;
  readonly broadcast: (message: FromLeader) => void;
  readonly backoff?: BackoffOptions | undefined;
  readonly silenceMs?: number | undefined;
}

interface TabState {
  readonly interests: readonly Interest[];
  readonly rooms: readonly string[];
}

interface HeldStream {
  readonly plan: StreamPlan;
  /** Keys no stream carried before this one opened: what a refusal of it is blamed on. */
  readonly added: ReadonlySet<InterestKey>;
  readonly stream: EventStream;
  /** Of its latest open; undefined while it is not open. */
  generation: number | undefined;
}

/** Refusals that concern the stream's tables or filters, not the user. */
const blamesTables = (error: WalcastClientError | undefined) => error !== undefined && (error.status === 400 || error.status === 404);

const errorData = (error: WalcastClientError | undefined): ErrorData | undefined => error && { status: error.status, code: error.code, message: error.message };

export class StreamLeader {
  readonly #tabs = new Map<string, TabState>();
  readonly #positions = new Map<InterestKey, Position>();
  readonly #generations = new Map<InterestKey, number>();
  readonly #streams = new Map<string, HeldStream>();
  /** Keys a server refused (unknown table, bad filter): never planned again, answered at once. */
  readonly #refused = new Map<InterestKey, ErrorData>();
  #generation = 0;
  /** Who is in each room the streams carry, for tabs that join a room after its `sync`. */
  readonly #rooms = new Map<string, Map<string, Member>>();
  /** Tabs that said what they need since the last plan: told which open streams already carry it. */
  readonly #newcomers = new Set<string>();
  #phase: 'new' | 'gathering' | 'running' | 'closed' = 'new';
  #replanQueued = false;

  constructor(private readonly options: StreamLeaderOptions) {}

  /** Asks every tab where it is, and opens streams `gatherMs` later (0: as soon as this turn ends). */
  start(gatherMs: number): void {
    this.#phase = 'gathering';
    this.options.broadcast({ type: 'hello' });
    setTimeout(() => {
      if (this.#phase !== 'gathering') return;
      this.#phase = 'running';
      this.replan();
    }, gatherMs);
  }

  receive(message: ToLeader): void {
    if (this.#phase === 'closed') return;
    switch (message.type) {
      case 'state':
        this.#tabs.set(message.tab, { interests: message.interests, rooms: message.rooms });
        this.#newcomers.add(message.tab);
        // Where tabs have got to matters only to the first streams a leader opens; after
        // that its own streams move every position, and a tab that lags reads again.
        if (this.#phase === 'gathering') {
          for (const [key, seen] of Object.entries(message.seen) as [InterestKey, Position][]) {
            const known = this.#positions.get(key);
            this.#positions.set(key, known === undefined ? seen : earliestPosition([known, seen])!);
          }
        }
        for (const interest of message.interests) this.answerRefused(interest);
        return this.queueReplan();
      case 'loaded':
        if (this.#generations.get(message.key) === message.generation && !this.#positions.has(message.key)) {
          this.#positions.set(message.key, message.cursor);
        }
        return;
      case 'bye':
        this.#tabs.delete(message.tab);
        return this.queueReplan();
      default:
        return assertNever(message);
    }
  }

  close(): void {
    this.#phase = 'closed';
    for (const held of this.#streams.values()) held.stream.close();
    this.#streams.clear();
  }

  private answerRefused(interest: Interest): void {
    const key = interestKey(interest);
    const error = this.#refused.get(key);
    if (error) this.options.broadcast({ type: 'status', keys: [key], status: 'stopped', error });
  }

  private queueReplan(): void {
    if (this.#phase !== 'running' || this.#replanQueued) return;
    this.#replanQueued = true;
    queueMicrotask(() => {
      this.#replanQueued = false;
      this.replan();
    });
  }

  /** A tab whose interests an open stream already carries hears of it (no other tab does). */
  private introduce(): void {
    for (const tab of this.#newcomers) {
      const state = this.#tabs.get(tab);
      const wanted = new Set((state?.interests ?? []).map(interestKey));
      for (const held of this.#streams.values()) {
        if (held.generation === undefined) continue;
        if (held.plan.keys.some((key) => wanted.has(key))) {
          const from = earliestPosition(held.plan.keys.flatMap((key) => this.#positions.get(key) ?? []));
          this.options.broadcast({ type: 'open', generation: held.generation, keys: held.plan.keys, from, to: tab });
        }
        for (const room of held.plan.rooms.filter((name) => state?.rooms.includes(name))) {
          const members = [...(this.#rooms.get(room)?.values() ?? [])];
          const data = JSON.stringify({ room, op: 'sync', members });
          this.options.broadcast({ type: 'message', keys: held.plan.keys, event: SSE_EVENT.presence, id: undefined, data, to: tab });
        }
      }
    }
    this.#newcomers.clear();
  }

  /** Streams whose plan is unchanged stay open; the others close and reopen as planned. */
  private replan(): void {
    if (this.#phase !== 'running') return;
    const tabs = [...this.#tabs.values()];
    const interests = tabs.flatMap((tab) => tab.interests).filter((interest) => !this.#refused.has(interestKey(interest)));
    const plans = planStreams(
      interests,
      tabs.flatMap((tab) => tab.rooms),
    );
    const carried = new Set([...this.#streams.values()].flatMap((held) => held.plan.keys));
    const wanted = new Set(plans.map((plan) => plan.signature));
    for (const [signature, held] of this.#streams) {
      if (wanted.has(signature)) continue;
      held.stream.close();
      this.#streams.delete(signature);
    }
    for (const plan of plans) {
      if (!this.#streams.has(plan.signature)) this.open(plan, new Set(plan.keys.filter((key) => !carried.has(key))));
    }
    this.introduce();
  }

  private open(plan: StreamPlan, added: ReadonlySet<InterestKey>): void {
    const { keys } = plan;
    const stream = new EventStream({
      http: this.options.http,
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.silenceMs === undefined ? {} : { silenceMs: this.options.silenceMs }),
      path: () => streamPath(plan),
      resumeFrom: () => earliestPosition(keys.flatMap((key) => this.#positions.get(key) ?? [])),
      onOpen: (from) => {
        const generation = ++this.#generation;
        const held = this.#streams.get(plan.signature);
        if (held?.plan === plan) held.generation = generation;
        for (const key of keys) {
          this.#generations.set(key, generation);
          // From now: what a reader had before is no resume point for this stream.
          if (from === undefined) this.#positions.delete(key);
        }
        this.options.broadcast({ type: 'open', generation, keys, from });
      },
      onMessage: (message) => {
        if (message.id) for (const key of keys) this.#positions.set(key, message.id);
        // The stream continues live from here: tabs read again, and their cursors count.
        if (message.event === SSE_EVENT.reset) for (const key of keys) this.#positions.delete(key);
        if (message.event === SSE_EVENT.presence) this.followRoom(message.data);
        if (message.event === SSE_EVENT.authExpired && this.options.http.tokens.refreshable) void this.options.http.tokens.refresh().catch(() => undefined);
        this.options.broadcast({ type: 'message', keys, event: message.event ?? 'message', id: message.id || undefined, data: message.data });
      },
      onStatus: (status, error) => this.streamStatus(plan, added, status, error),
    });
    this.#streams.set(plan.signature, { plan, added, stream, generation: undefined });
  }

  private followRoom(data: string): void {
    let event: PresenceEvent;
    try {
      event = JSON.parse(data) as PresenceEvent;
    } catch {
      return;
    }
    const members = this.#rooms.get(event.room) ?? new Map<string, Member>();
    this.#rooms.set(event.room, members);
    applyPresence(members, event);
  }

  /**
   * A stream refused for its tables (404, 400) is blamed on the interests it added: they
   * stop, and the others go on without them. Any other refusal (401, 403) is the user's.
   */
  private streamStatus(plan: StreamPlan, added: ReadonlySet<InterestKey>, status: StreamStatus, error: WalcastClientError | undefined): void {
    const held = this.#streams.get(plan.signature);
    if (held?.plan !== plan) return;
    if (status !== 'open') held.generation = undefined;
    if (status === 'stopped' && blamesTables(error)) {
      const blamed = added.size > 0 ? [...added] : plan.keys;
      for (const key of blamed) this.#refused.set(key, errorData(error)!);
      this.#streams.delete(plan.signature);
      this.options.broadcast({ type: 'status', keys: blamed, status, error: errorData(error) });
      return this.queueReplan();
    }
    this.options.broadcast({ type: 'status', keys: plan.keys, status, error: errorData(error) });
  }
}

function assertNever(value: never): never {
  throw new TypeError(`walcast: unexpected message ${JSON.stringify(value)}`);
}
