// Decoded pgoutput messages → events in the retention log, one transaction at a time.
// Events of a transaction are held until its Commit so a stream never sees half of one.
import { WalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatLsn } from '../replication/lsn.js';
import type { Begin, PgoutputMessage, Relation, RowChange, Truncate } from '../replication/pgoutput.js';
import { changeEvents, shapeOf, type TableShape, type TransactionContext } from './change-event.js';
import { formatEventId } from './event-id.js';
import type { WalcastEvent } from './event.js';
import { CONFIG_MESSAGE_PREFIX, ConfigMessage, tableName, type ExposureCatalog } from './exposure.js';
import type { RetainedEvent, RetentionLog } from './retention.js';

export interface EventPipelineDeps {
  readonly catalog: ExposureCatalog;
  readonly retention: RetentionLog;
  /** Called once per committed transaction with its newly retained events. */
  readonly publish: (events: readonly RetainedEvent[]) => void;
  readonly log: Logger;
  readonly onChangesDecoded?: (count: number) => void;
}

export interface EventPipeline {
  handle(message: PgoutputMessage): void;
  /** The replication connection dropped: a half-received transaction will be sent again. */
  connectionReset(): void;
}

interface OpenTransaction {
  readonly context: TransactionContext;
  /** Position of the next change: counts every change message, exposed or not, so IDs never depend on configuration. */
  position: number;
  readonly events: WalcastEvent[];
}

/** µs since the Unix epoch → ISO 8601 UTC with all six fractional digits. */
export function formatCommitTime(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

function contextOf(begin: Begin): TransactionContext {
  return {
    commitLsn: begin.commitLsn,
    lsnText: formatLsn(begin.commitLsn),
    xid: String(begin.xid),
    committedAt: formatCommitTime(begin.commitTime),
  };
}

export function createEventPipeline(deps: EventPipelineDeps): EventPipeline {
  const { catalog, retention, publish, log } = deps;
  const shapes = new WeakMap<Relation, { version: number; shape: TableShape | null }>();
  let open: OpenTransaction | null = null;
  /** After a reconnect the server may resend transactions we already have: skip them. */
  let lastCommitLsn = retention.headCommitLsn() ?? 0n;

  function shapeFor(relation: Relation): TableShape | null {
    const cached = shapes.get(relation);
    if (cached && cached.version === catalog.version) return cached.shape;
    const exposure = catalog.get(tableName(relation.schema, relation.name));
    const shape = exposure ? shapeOf(relation, exposure) : null;
    shapes.set(relation, { version: catalog.version, shape });
    return shape;
  }

  function onChange(txn: OpenTransaction, change: RowChange): void {
    const position = txn.position++;
    const shape = shapeFor(change.relation);
    if (shape) txn.events.push(...changeEvents(change, shape, txn.context, position));
  }

  function onTruncate(txn: OpenTransaction, truncate: Truncate): void {
    for (const relation of truncate.relations) {
      const position = txn.position++;
      const shape = shapeFor(relation);
      if (!shape) continue;
      const id = formatEventId(txn.context.commitLsn, position);
      txn.events.push({
        id,
        type: 'truncate',
        tenant: null,
        table: shape.table,
        commitLsn: txn.context.commitLsn,
        json: JSON.stringify({ id, table: shape.table }),
      });
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

  return {
    handle(message) {
      switch (message.tag) {
        case 'begin':
          open = { context: contextOf(message), position: 0, events: [] };
          return;
        case 'insert':
        case 'update':
        case 'delete':
          if (open) onChange(open, message);
          return;
        case 'truncate':
          if (open) onTruncate(open, message);
          return;
        case 'message':
          if (message.prefix === CONFIG_MESSAGE_PREFIX) onConfig(message.content);
          return;
        case 'commit': {
          if (!open) return;
          if (open.context.commitLsn <= lastCommitLsn) {
            open = null;
            return;
          }
          lastCommitLsn = open.context.commitLsn;
          deps.onChangesDecoded?.(open.position);
          const retained: RetainedEvent[] = [];
          for (const event of open.events) {
            const entry = retention.append(event);
            if (entry) retained.push(entry);
          }
          open = null;
          if (retained.length > 0) publish(retained);
          return;
        }
        case 'relation':
        case 'origin':
        case 'type':
          return;
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
