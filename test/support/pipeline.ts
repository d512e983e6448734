// The pure event path without Postgres: a pipeline over one exposed table, fed synthetic
// pgoutput messages, publishing into a real hub and retention log.
import { createEventPipeline, type EventPipeline } from '../../src/events/event-pipeline.js';
import { ExposureCatalog, tableName, type Exposure } from '../../src/events/exposure.js';
import { RetentionLog } from '../../src/events/retention.js';
import { createLogger } from '../../src/log.js';
import type { Lsn } from '../../src/replication/lsn.js';
import type { Begin, Commit, Insert, PgoutputMessage, Relation, Tuple } from '../../src/replication/pgoutput.js';
import { createHub, type Hub } from '../../src/streams/hub.js';
import type { Sink } from '../../src/http/exchange.js';

const TEXT = 25;

/** `public.todos (id, org_id, title)`, tenant column org_id. */
export const TODOS: Relation = {
  tag: 'relation',
  relationOid: 16_384,
  schema: 'public',
  name: 'todos',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', typeOid: TEXT, typeMod: -1, isIdentity: true },
    { name: 'org_id', typeOid: TEXT, typeMod: -1, isIdentity: false },
    { name: 'title', typeOid: TEXT, typeMod: -1, isIdentity: false },
  ],
};

/** A table nobody exposed. */
export const LOG: Relation = { ...TODOS, relationOid: 16_400, name: 'app_log' };

const EXPOSURE: Exposure = {
  relid: TODOS.relationOid,
  table: tableName('public', 'todos'),
  publication: 'walcast',
  tenantColumn: 'org_id',
  versionColumn: null,
  primaryKey: ['id'],
  hiddenColumns: [],
  writableColumns: null,
  policy: null,
  setOnInsert: null,
};

export interface PipelineRig {
  readonly pipeline: EventPipeline;
  /** Hands messages on; this rig knows every type, so the pipeline never asks to pause. */
  handle(...messages: PgoutputMessage[]): void;
  readonly retention: RetentionLog;
  readonly hub: Hub;
}

export function pipelineRig(options: { maxTxnChanges?: number } = {}): PipelineRig {
  const retention = new RetentionLog({ maxEvents: 1_000_000, maxBytes: 1e12, maxAgeMs: 1e12, maxWalBytes: 1e12 }, 1n as Lsn);
  const hub = createHub({ retention, now: () => 0 });
  const pipeline = createEventPipeline({
    catalog: new ExposureCatalog('walcast', [EXPOSURE]),
    lookup: { typeOf: (oid) => ({ kind: 'scalar', oid }), prepareTypes: () => undefined },
    retention,
    maxTxnChanges: options.maxTxnChanges ?? 10_000,
    publish: (events) => hub.publish(events),
    log: createLogger('silent'),
    messages: new Map(),
  });
  const handle = (...messages: PgoutputMessage[]) => {
    for (const message of messages) {
      if (pipeline.handle(message)) throw new Error(`the pipeline paused on a ${message.tag} message`);
    }
  };
  return { pipeline, handle, retention, hub };
}

export const begin = (commitLsn: bigint, xid = 7): Begin => ({ tag: 'begin', commitLsn: commitLsn as Lsn, commitTime: 1_700_000_000_000_000n, xid });
export const commit = (commitLsn: bigint): Commit => ({
  tag: 'commit',
  commitLsn: commitLsn as Lsn,
  endLsn: (commitLsn + 1n) as Lsn,
  commitTime: 1_700_000_000_000_000n,
});
export const insert = (relation: Relation, values: Tuple): Insert => ({ tag: 'insert', relation, new: values });

/** A response that records what a stream was sent, as text. */
export function recorder(options: { throwOnWrite?: boolean } = {}) {
  const frames: string[] = [];
  const state = { destroyed: false, ended: false };
  const sink: Sink = {
    full: false,
    write(chunk) {
      if (options.throwOnWrite) throw new Error('socket exploded');
      frames.push(chunk.toString());
    },
    onDrain: () => undefined,
    end: () => {
      state.ended = true;
    },
    destroy: () => {
      state.destroyed = true;
    },
  };
  /** The `data:` payloads of the `id:`-bearing messages received so far. */
  const events = () =>
    frames
      .join('')
      .split('\n\n')
      .filter((message) => message.startsWith('id: '))
      .map((message) => JSON.parse(/data: (.*)/.exec(message)![1]!) as Record<string, unknown>);
  return { frames, state, events, sink };
}
