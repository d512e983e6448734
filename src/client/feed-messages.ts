// What a tab's subscriptions (the member) and the one stream holder (the leader) tell
// each other: in one tab by a call, across tabs over BroadcastChannel (structured clone:
// plain data only).
import type { StreamStatus } from './event-stream.js';
import type { Position } from './position.js';
import type { Interest, InterestKey } from './stream-plan.js';

/** A WalcastClientError as data. */
export interface ErrorData {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export type ToLeader =
  /** What a tab needs now, and where each of its interests has got to. */
  | {
      readonly type: 'state';
      readonly tab: string;
      readonly interests: readonly Interest[];
      readonly rooms: readonly string[];
      readonly seen: Readonly<Record<InterestKey, Position>>;
    }
  /** A snapshot read after stream `generation` opened: a resume point while no event has come. */
  | { readonly type: 'loaded'; readonly tab: string; readonly key: InterestKey; readonly cursor: Position; readonly generation: number }
  | { readonly type: 'bye'; readonly tab: string };

export type FromLeader =
  /** A new leader: every tab says what it needs and where it is. */
  | { readonly type: 'hello' }
  /**
   * A stream opened (or reopened) resuming from `from`; undefined: from now. With `to`:
   * only for that tab, which asked for what an open stream already carries.
   */
  | { readonly type: 'open'; readonly generation: number; readonly keys: readonly InterestKey[]; readonly from: Position | undefined; readonly to?: string }
  /** With `to`: only for that tab (who is in a room it joins, as the stream's `sync` said when it opened). */
  | {
      readonly type: 'message';
      readonly keys: readonly InterestKey[];
      readonly event: string;
      readonly id: string | undefined;
      readonly data: string;
      readonly to?: string;
    }
  | { readonly type: 'status'; readonly keys: readonly InterestKey[]; readonly status: StreamStatus; readonly error: ErrorData | undefined };
