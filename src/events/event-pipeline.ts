// Decoded pgoutput messages → events in the retention log, one transaction at a time.
// Events of a transaction are held until its Commit so a stream never sees half of one;
// a transaction with more changes than the limit is never held whole: past the limit its
// row events collapse into one `invalidate` per (tenant, table).
import { WalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatLsn } from '../replication/lsn.js';
import type { Begin, PgoutputMessage, Relation, RowChange, Truncate } from '../replication/pgoutput.js';
import { changeEvents } from './change-event.js';
import { listedExposure, shapeOf, type TableShape } from './table-shape.js';
import { formatEventId } from './event-id.js';
import type { TransactionContext, WalcastEvent } from './event.js';
import { CONFIG_MESSAGE_PREFIX, ConfigMessage, type ExposureCatalog } from './exposure.js';
import type { RetainedEvent, RetentionLog } from './retention.js';
import type { ColumnType } from './values.js';

/** What the pipeline needs from the database catalog when a relation it has not seen arrives. */
export interface RelationLookup {
  typeOf(oid: number): ColumnType;
  /** Resolves what `typeOf` needs for these OIDs; undefined when it knows them all. */
  prepareTypes(oids: readonly number[]): Promise<void> | undefined;
  /** Re-reads the tables the publication lists into the catalog. */
  refreshListed(): Promise<void>;
}

export interface EventPipelineDeps {
  readonly catalog: ExposureCatalog;
  readonly lookup: RelationLookup;
  readonly retention: RetentionLog;
  /** Larger transactions become `invalidate` events (DESIGN §3). */
  readonly maxTxnChanges: number;
  /** Called once per committed transaction with its newly retained events. */
  readonly publish: (events: readonly RetainedEvent[]) => void;
  readonly log: Logger;
  readonly onChangesDecoded?: (count: number) => void;
  /** Handlers of other logical messages by prefix (presence), called as they arrive. */
  readonly messages: ReadonlyMap<string, (content: Buffer) => void>;
}

export interface EventPipeline {
  /** A promise means: hand me nothing more until it settles (a catalog lookup is under way). */
  handle(message: PgoutputMessage): Promise<void> | undefined;
  /** The replication connection dropped: a half-received transaction will be sent again. */
  connectionReset(): void;
}

interface Invalidation {
  readonly tenant: string | null;
  readonly shape: TableShape;
  /** Position of the first change it stands for: deterministic on every instance. */
  readonly position: number;
}

interface PendingEvent {
  readonly event: WalcastEvent;
  readonly shape: TableShape;
  readonly position: number;
}

interface OpenTransaction {
  readonly context: TransactionContext;
  /** Position of the next change: counts every change message, exposed or not, so IDs never depend on configuration. */
  position: number;
  /** Changes to exposed tables so far. */
  changes: number;
  events: PendingEvent[];
  /** Set once the transaction passed the limit: (tenant, table) → invalidation. */
  invalidations: Map<string, Invalidation> | null;
}

const INVALIDATE_REASON = 'transaction_too_large';

/** µs since the Unix epoch → ISO 8601 UTC with all six fractional digits. */
export function formatCommitTime(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

function contextOf(begin: Begin): TransactionContext {
  const lsnText = formatLsn(begin.commitLsn);
  const committedAt = formatCommitTime(begin.commitTime);
  return {
    commitLsn: begin.commitLsn,
    lsnText,
    xid: begin.xid,
    committedAt,
    jsonTail: `,"xid":"${begin.xid}","lsn":"${lsnText}","committedAt":"${committedAt}"}`,
  };
}

function invalidateEvent(invalidation: Invalidation, txn: TransactionContext): WalcastEvent {
  const id = formatEventId(txn.commitLsn, invalidation.position);
  const { shape, tenant } = invalidation;
  return {
    id,
    type: 'invalidate',
    tenant,
    relid: shape.relid,
    table: shape.table,
    commitLsn: txn.commitLsn,
    xid: txn.xid,
    json: JSON.stringify({ id, table: shape.table, tenant, reason: INVALIDATE_REASON, lsn: txn.lsnText, committedAt: txn.committedAt }),
  };
}

export function createEventPipeline(deps: EventPipelineDeps): EventPipeline {
  const { catalog, lookup, retention, publish, log } = deps;
  const shapes = new WeakMap<Relation, { version: number; shape: TableShape | null }>();
  let open: OpenTransaction | null = null;
  /** After a reconnect the server may resend transactions we already have: skip them. */
  let lastCommitLsn = retention.headCommitLsn() ?? 0n;

  function shapeFor(relation: Relation): TableShape | null {
    const cached = shapes.get(relation);
    if (cached && cached.version === catalog.version) return cached.shape;
    const exposure = catalog.exposureOf(relation.relationOid)
      ?? (catalog.isListed(relation.relationOid) ? listedExposure(relation) : undefined);
    const shape = exposure ? shapeOf(relation, exposure, (oid) => lookup.typeOf(oid)) : null;
    shapes.set(relation, { version: catalog.version, shape });
    return shape;
  }

  /** Types and publication membership must be known before the relation's first change. */
  function prepareRelation(relation: Relation): Promise<void> | undefined {
    const pending: Promise<void>[] = [];
    const types = lookup.prepareTypes(relation.columns.map((column) => column.typeOid));
    if (types) pending.push(types);
    if (!catalog.exposureOf(relation.relationOid) && !catalog.isListed(relation.relationOid)) pending.push(lookup.refreshListed());
    if (pending.length === 0) return undefined;
    return Promise.all(pending).then(
      () => undefined,
      (error: unknown) => log.error({ err: error, table: `${relation.schema}.${relation.name}` }, 'catalog lookup failed; values of unknown types are sent as text'),
    );
  }

  function invalidate(invalidations: Map<string, Invalidation>, { event, shape, position }: PendingEvent): void {
    const key = JSON.stringify([shape.relid, event.tenant]);
    if (!invalidations.has(key)) invalidations.set(key, { tenant: event.tenant, shape, position });
  }

  /** The transaction passed the limit: what it held so far collapses, the rest never piles up. */
  function overflow(txn: OpenTransaction): Map<string, Invalidation> {
    const invalidations = new Map<string, Invalidation>();
    for (const pending of txn.events) invalidate(invalidations, pending);
    txn.events = [];
    log.info({ xid: txn.context.xid, limit: deps.maxTxnChanges }, 'transaction exceeds WALCAST_MAX_TXN_CHANGES; sending invalidate events');
    return invalidations;
  }

  function onChange(txn: OpenTransaction, change: RowChange): void {
    const position = txn.position++;
    const shape = shapeFor(change.relation);
    if (!shape) return;
    txn.changes++;
    if (!txn.invalidations && txn.changes > deps.maxTxnChanges) txn.invalidations = overflow(txn);
    for (const event of changeEvents(change, shape, txn.context, position)) {
      if (txn.invalidations) invalidate(txn.invalidations, { event, shape, position });
      else txn.events.push({ event, shape, position });
    }
  }

  function onTruncate(txn: OpenTransaction, truncate: Truncate): void {
    for (const relation of truncate.relations) {
      const position = txn.position++;
      const shape = shapeFor(relation);
      if (!shape) continue;
      const id = formatEventId(txn.context.commitLsn, position);
      // Which tenants' rows a TRUNCATE removed is unknowable: it goes to every tenant.
      const event: WalcastEvent = {
        id,
        type: 'truncate',
        tenant: null,
        relid: shape.relid,
        table: shape.table,
        commitLsn: txn.context.commitLsn,
        xid: txn.context.xid,
        json: JSON.stringify({ id, table: shape.table, lsn: txn.context.lsnText, committedAt: txn.context.committedAt }),
      };
      if (txn.invalidations) invalidate(txn.invalidations, { event, shape, position });
      else txn.events.push({ event, shape, position });
    }
  }

  function onConfig(content: Buffer): void {
    let parsed: ConfigMessage;
    try {
      parsed = ConfigMessage.parse(JSON.parse(content.toString('utf8')));
    } catch (error) {
      log.error({ err: error }, 'ignoring malformed walcast.config message');
      return;
    }
    catalog.apply(parsed);
    log.info({ config: parsed }, 'exposure changed');
  }

  function onCommit(txn: OpenTransaction): void {
    if (txn.context.commitLsn <= lastCommitLsn) return;
    lastCommitLsn = txn.context.commitLsn;
    deps.onChangesDecoded?.(txn.position);
    const events = txn.invalidations
      ? [...txn.invalidations.values()].map((invalidation) => invalidateEvent(invalidation, txn.context))
      : txn.events.map((pending) => pending.event);
    const retained: RetainedEvent[] = [];
    for (const event of events) {
      const entry = retention.append(event);
      if (entry) retained.push(entry);
    }
    if (retained.length > 0) publish(retained);
  }

  return {
    handle(message) {
      switch (message.tag) {
        case 'begin':
          open = { context: contextOf(message), position: 0, changes: 0, events: [], invalidations: null };
          return undefined;
        case 'insert':
        case 'update':
        case 'delete':
          if (open) onChange(open, message);
          return undefined;
        case 'truncate':
          if (open) onTruncate(open, message);
          return undefined;
        case 'message':
          if (message.prefix === CONFIG_MESSAGE_PREFIX) onConfig(message.content);
          else deps.messages.get(message.prefix)?.(message.content);
          return undefined;
        case 'commit':
          if (open) onCommit(open);
          open = null;
          return undefined;
        case 'relation':
          return prepareRelation(message);
        case 'origin':
        case 'type':
          return undefined;
        default: {
          const unexpected: never = message;
          throw new WalcastError('REPLICATION_PROTOCOL', `unhandled pgoutput message ${String(unexpected)}`);
        }
      }
    },
    connectionReset() {
      open = null;
    },
  };
}
