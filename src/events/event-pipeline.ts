// Decoded pgoutput messages → events in the retention log, one transaction at a time.
// Events of a transaction are held until its Commit so a stream never sees half of one;
// a transaction with more changes than the limit is never held whole: past the limit its
// row events collapse into one `invalidate` per (tenant, table) (events/invalidations).
// Nothing here throws at the replication socket: a change that cannot be decoded becomes
// an `invalidate`, and publishing is guarded.
import { tenantKey, type TenantKey } from './tenant-key.js';
import { WalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../replication/lsn.js';
import type { Begin, PgoutputMessage, Relation, RowChange, Truncate } from '../replication/pgoutput.js';
import { changeEvents, changeTenants } from './change-event.js';
import { shapeOf, type TableShape } from './table-shape.js';
import { configChangesOf, exposureBefore } from './config-rows.js';
import { formatEventId, MAX_POSITION } from './event-id.js';
import type { TransactionContext, WalcastEvent } from './event.js';
import { invalidateEvent, Invalidations } from './invalidations.js';
import type { ExposureCatalog } from './exposure.js';
import type { RetainedEvent, RetentionLog } from './retention.js';
import type { ColumnType } from './values.js';

/** What the pipeline needs from the database catalog when a relation it has not seen arrives. */
export interface RelationLookup {
  typeOf(oid: number): ColumnType;
  /** Resolves what `typeOf` needs for these OIDs; undefined when it knows them all. */
  prepareTypes(oids: readonly number[]): Promise<void> | undefined;
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
  /**
   * Handlers of logical messages by prefix (presence), called as they arrive. Any role
   * can emit one: a handler trusts nothing it did not authenticate. Configuration never
   * comes this way (`walcast.config` messages are ignored): it comes as rows.
   */
  readonly messages: ReadonlyMap<string, (content: Buffer) => void>;
}

export interface EventPipeline {
  /** A promise means: hand me nothing more until it settles (a catalog lookup is under way). */
  handle(message: PgoutputMessage): Promise<void> | undefined;
  /** The replication connection dropped: a half-received transaction will be sent again. */
  connectionReset(): void;
  /**
   * The slot was lost and made again at `horizon`, copied from another instance's slot that
   * may stand further back: transactions from there on are sent again and must be decoded
   * again, since the window was emptied down to `horizon` (retention.restartAt).
   */
  slotRecreated(horizon: Lsn): void;
}

interface OpenTransaction {
  readonly context: TransactionContext;
  /** Position of the next change: counts every change message, exposed or not, so IDs never depend on configuration. */
  position: number;
  events: WalcastEvent[];
  /** Set once the transaction passed the limit (or a position its width): it sends these instead. */
  invalidations: Invalidations | null;
}

/** µs since the Unix epoch → ISO 8601 UTC with all six fractional digits, for any time (no Date). */
export function formatCommitTime(micros: bigint): string {
  const pad = (value: number, width: number) => String(value).padStart(width, '0');
  const seconds = Number(micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n));
  const fraction = Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const days = Math.floor(seconds / 86_400);
  const secondOfDay = seconds - days * 86_400;
  // Civil date from days since 1970-01-01 (proleptic Gregorian), as Postgres counts them.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1_460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const time = `${pad(Math.floor(secondOfDay / 3_600), 2)}:${pad(Math.floor((secondOfDay % 3_600) / 60), 2)}:${pad(secondOfDay % 60, 2)}`;
  return `${year < 0 ? '-' : ''}${pad(Math.abs(year), 4)}-${pad(month, 2)}-${pad(day, 2)}T${time}.${pad(fraction, 6)}Z`;
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

/** Never needed for a value Postgres printed; if it were, the event reaches no one. */
const UNROUTABLE = '\u0000' as TenantKey;

export function createEventPipeline(deps: EventPipelineDeps): EventPipeline {
  const { catalog, lookup, retention, publish, log } = deps;
  const shapes = new WeakMap<Relation, { version: number; shape: TableShape | null }>();
  let open: OpenTransaction | null = null;
  /** After a reconnect the server may resend transactions we already have: skip them. */
  let lastCommitLsn = retention.headCommitLsn() ?? 0n;

  function shapeFor(relation: Relation): TableShape | null {
    const cached = shapes.get(relation);
    if (cached && cached.version === catalog.version) return cached.shape;
    const exposure = catalog.exposureOf(relation.relationOid);
    const shape = exposure ? shapeOf(relation, exposure, (oid) => lookup.typeOf(oid)) : null;
    shapes.set(relation, { version: catalog.version, shape });
    return shape;
  }

  /** Types must be known before the relation's first change. */
  function prepareRelation(relation: Relation): Promise<void> | undefined {
    const types = lookup.prepareTypes(relation.columns.map((column) => column.typeOid));
    return types?.then(
      () => undefined,
      (error: unknown) =>
        log.error({ err: error, table: `${relation.schema}.${relation.name}` }, 'catalog lookup failed; values of unknown types are sent as text'),
    );
  }

  /**
   * The transaction passed the limit, or its next position would not fit an ID: what it
   * held so far becomes invalidations, and from now on nothing of it piles up.
   */
  function overflow(txn: OpenTransaction): Invalidations {
    const invalidations = new Invalidations();
    for (const event of txn.events) {
      const reason = event.type === 'invalidate' ? (event.reason ?? 'undecodable_change') : 'transaction_too_large';
      invalidations.add(
        { relid: event.relid, table: event.table },
        event.tenant === null || event.tenantKey === null ? null : { text: event.tenant, key: event.tenantKey },
        reason,
      );
    }
    txn.events = [];
    log.info({ xid: txn.context.xid, limit: deps.maxTxnChanges }, 'transaction exceeds WALCAST_MAX_TXN_CHANGES; sending invalidate events');
    return invalidations;
  }

  /**
   * A change walcast cannot turn into an event (a value its decoder cannot read) must not
   * stop the stream or vanish: it becomes an `invalidate` of its table for every tenant,
   * at its own position, and is logged once per table.
   */
  const undecodable = new Set<number>();
  function cannotDecode(txn: OpenTransaction, shape: TableShape, position: number, error: unknown): void {
    if (!undecodable.has(shape.relid)) {
      undecodable.add(shape.relid);
      log.error({ err: error, table: shape.table }, 'a change could not be decoded; its table is invalidated for every tenant');
    }
    if (txn.invalidations) txn.invalidations.add(shape, null, 'undecodable_change');
    else txn.events.push(invalidateEvent({ shape, tenant: null, tenantKey: null, reason: 'undecodable_change' }, position, txn.context));
  }

  function onChange(txn: OpenTransaction, change: RowChange): void {
    const position = txn.position++;
    // Every change counts, exposed or not: whether a transaction goes out whole is then
    // the WAL's to say, the same on every instance, also one that rebuilds its window from
    // older WAL with other exposures loaded (a client may resume on either mid-transaction).
    if (!txn.invalidations && position >= Math.min(deps.maxTxnChanges, MAX_POSITION + 1)) txn.invalidations = overflow(txn);
    const shape = shapeFor(change.relation);
    if (!shape) return;
    try {
      if (txn.invalidations) {
        for (const tenant of changeTenants(change, shape)) {
          txn.invalidations.add(
            shape,
            tenant === null ? null : { text: tenant, key: tenantKey(shape.tenantKind, tenant) ?? UNROUTABLE },
            'transaction_too_large',
          );
        }
      } else {
        txn.events.push(...changeEvents(change, shape, txn.context, position));
      }
    } catch (error) {
      cannotDecode(txn, shape, position, error);
    }
  }

  function onTruncate(txn: OpenTransaction, truncate: Truncate): void {
    for (const relation of truncate.relations) {
      const position = txn.position++;
      if (!txn.invalidations && position >= Math.min(deps.maxTxnChanges, MAX_POSITION + 1)) txn.invalidations = overflow(txn);
      const shape = shapeFor(relation);
      if (!shape) continue;
      // Which tenants' rows a TRUNCATE removed is unknowable: it goes to every tenant.
      if (txn.invalidations) {
        txn.invalidations.add(shape, null, 'transaction_too_large');
        continue;
      }
      const id = formatEventId(txn.context.commitLsn, position);
      txn.events.push({
        id,
        type: 'truncate',
        tenant: null,
        tenantKey: null,
        relid: shape.relid,
        table: shape.table,
        commitLsn: txn.context.commitLsn,
        xid: txn.context.xid,
        json: JSON.stringify({ id, table: shape.table, lsn: txn.context.lsnText, committedAt: txn.context.committedAt }),
      });
    }
  }

  /**
   * A row of walcast.exposed_tables: applied where it stands in the stream, before the
   * changes after it. A table whose row policy changed (set, changed or dropped) gets an
   * `invalidate` for every tenant at this position: each stream applies the new policy
   * from there on, and each client reads the table again (DESIGN §10). Whether it changed
   * is read from the row's old and new images, so an instance rebuilding its window from
   * older WAL (started with today's exposures) makes the same invalidate as one that was live.
   */
  function onConfigRow(txn: OpenTransaction, change: RowChange): void {
    const row = configChangesOf(change);
    if (!row.ok) {
      log.error({ problem: row.problem }, 'ignoring a walcast.exposed_tables row walcast cannot read; run walcast doctor');
      return;
    }
    const previous = exposureBefore(change);
    for (const config of row.changes) {
      const relid = config.op === 'expose' ? config.exposure.relid : config.relid;
      const before = previous === undefined ? catalog.exposureOf(relid) : previous?.relid === relid ? previous : undefined;
      catalog.apply(config);
      log.info({ config }, 'exposure changed');
      const after = catalog.exposureOf(relid);
      if ((before?.policy ?? null) === (after?.policy ?? null) || !(before ?? after)) continue;
      const table = { relid, table: (after ?? before)!.table };
      if (txn.invalidations) txn.invalidations.add(table, null, 'policy_changed');
      else txn.events.push(invalidateEvent({ shape: table, tenant: null, tenantKey: null, reason: 'policy_changed' }, txn.position, txn.context));
    }
  }

  function onCommit(txn: OpenTransaction): void {
    if (txn.context.commitLsn <= lastCommitLsn) return;
    lastCommitLsn = txn.context.commitLsn;
    deps.onChangesDecoded?.(txn.position);
    const events = txn.invalidations ? txn.invalidations.events(txn.context) : txn.events;
    const retained: RetainedEvent[] = [];
    for (const event of events) {
      const entry = retention.append(event);
      if (entry) retained.push(entry);
    }
    if (retained.length === 0) return;
    try {
      publish(retained);
    } catch (error) {
      // Streams guard themselves (streams/subscriber): reaching here is a bug in the hub.
      // The events are retained; the replication stream goes on.
      log.error({ err: error }, 'publishing a transaction failed');
    }
  }

  return {
    handle(message) {
      switch (message.tag) {
        case 'begin':
          open = { context: contextOf(message), position: 0, events: [], invalidations: null };
          return undefined;
        case 'insert':
        case 'update':
        case 'delete':
          if (!open) return undefined;
          if (message.relation.relationOid === catalog.configRelid) onConfigRow(open, message);
          onChange(open, message);
          return undefined;
        case 'truncate':
          if (open) onTruncate(open, message);
          return undefined;
        case 'message':
          deps.messages.get(message.prefix)?.(message.content);
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
    slotRecreated(horizon) {
      open = null;
      lastCommitLsn = horizon === 0n ? 0n : horizon - 1n;
    },
  };
}
