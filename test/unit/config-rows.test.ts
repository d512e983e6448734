// Configuration arrives as rows of walcast.exposed_tables, recognised by OID, applied in
// stream order; walcast.config messages and look-alike tables change nothing.
import { describe, expect, it } from 'vitest';
import { configChangesOf } from '../../src/events/config-rows.js';
import { createEventPipeline } from '../../src/events/event-pipeline.js';
import { ExposureCatalog, tableName, type Exposure } from '../../src/events/exposure.js';
import { RetentionLog, type RetainedEvent } from '../../src/events/retention.js';
import { createLogger } from '../../src/log.js';
import type { Lsn } from '../../src/replication/lsn.js';
import { UNCHANGED_TOAST, type PgoutputMessage, type Relation, type RowChange } from '../../src/replication/pgoutput.js';
import { begin, commit, insert, TODOS } from '../support/pipeline.js';

const CONFIG_RELID = 16_500;
const column = (name: string) => ({ name, typeOid: 25, typeMod: -1, isIdentity: true });
const CONFIG: Relation = {
  tag: 'relation',
  relationOid: CONFIG_RELID,
  schema: 'walcast',
  name: 'exposed_tables',
  replicaIdentity: 'full',
  columns: [column('relid'), column('publication'), column('exposure')],
};
/** The same name and columns in another schema (or even `walcast`'s own name): another OID. */
const LOOK_ALIKE: Relation = { ...CONFIG, relationOid: 16_501 };

const todos = (changes: Partial<Exposure> = {}): Exposure => ({
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
  ...changes,
});
const row = (exposure: Exposure) => ['todos', exposure.publication, JSON.stringify(exposure)];

describe('configChangesOf', () => {
  it('reads an insert or update as expose, a delete as conceal of the old row', () => {
    expect(configChangesOf({ tag: 'insert', relation: CONFIG, new: row(todos()) })).toEqual({ ok: true, changes: [{ op: 'expose', exposure: todos() }] });
    const hidden = todos({ hiddenColumns: ['title'] });
    expect(configChangesOf({ tag: 'update', relation: CONFIG, key: null, old: row(todos()), new: row(hidden) })).toEqual({
      ok: true,
      changes: [{ op: 'expose', exposure: hidden }],
    });
    expect(configChangesOf({ tag: 'delete', relation: CONFIG, key: null, old: row(todos()) })).toEqual({
      ok: true,
      changes: [{ op: 'conceal', relid: TODOS.relationOid }],
    });
  });

  it('takes an unchanged TOASTed exposure from the old row, and a moved relid as conceal then expose', () => {
    const update: RowChange = { tag: 'update', relation: CONFIG, key: null, old: row(todos()), new: ['todos', 'walcast', UNCHANGED_TOAST] };
    expect(configChangesOf(update)).toEqual({ ok: true, changes: [{ op: 'expose', exposure: todos() }] });
    const moved = todos({ relid: 17_000 });
    expect(configChangesOf({ tag: 'update', relation: CONFIG, key: null, old: row(todos()), new: row(moved) })).toEqual({
      ok: true,
      changes: [
        { op: 'conceal', relid: TODOS.relationOid },
        { op: 'expose', exposure: moved },
      ],
    });
  });

  it('refuses rows it cannot read, naming why', () => {
    expect(configChangesOf({ tag: 'delete', relation: CONFIG, key: ['todos'], old: null })).toMatchObject({ ok: false });
    expect(configChangesOf({ tag: 'insert', relation: CONFIG, new: ['todos', 'walcast', '{not json'] })).toEqual({
      ok: false,
      problem: 'the exposure is not JSON',
    });
    expect(configChangesOf({ tag: 'insert', relation: CONFIG, new: ['todos', 'walcast', '{"relid":1}'] })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not parse/),
    });
    expect(configChangesOf({ tag: 'insert', relation: { ...CONFIG, columns: CONFIG.columns.slice(0, 2) }, new: ['todos', 'walcast'] })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/without its exposure column/),
    });
  });
});

describe('the pipeline', () => {
  function rig() {
    const retention = new RetentionLog({ maxEvents: 1_000, maxBytes: 1e9, maxAgeMs: 1e9, maxWalBytes: 1e12 }, 1n as Lsn);
    const published: RetainedEvent[] = [];
    const pipeline = createEventPipeline({
      catalog: new ExposureCatalog('walcast', [todos()], CONFIG_RELID),
      lookup: { typeOf: (oid) => ({ kind: 'scalar', oid }), prepareTypes: () => undefined },
      retention,
      maxTxnChanges: 100,
      publish: (events) => published.push(...events),
      log: createLogger('silent'),
      messages: new Map(),
    });
    const rows = () => published.map((retained) => JSON.parse(retained.event.json) as { tenant: string; row: Record<string, unknown> });
    /** This rig knows every type, so the pipeline never asks to pause. */
    const handle = (message: PgoutputMessage) => {
      if (pipeline.handle(message)) throw new Error(`the pipeline paused on a ${message.tag} message`);
    };
    return { handle, rows };
  }

  it('shapes each change by the configuration of its moment, within a transaction too', () => {
    const { handle, rows } = rig();
    handle(begin(10n));
    handle(insert(TODOS, ['1', 'acme', 'first']));
    handle({ tag: 'update', relation: CONFIG, key: null, old: row(todos()), new: row(todos({ hiddenColumns: ['title'] })) });
    handle(insert(TODOS, ['2', 'acme', 'second']));
    handle(commit(10n));
    handle(begin(20n));
    handle({ tag: 'delete', relation: CONFIG, key: null, old: row(todos({ hiddenColumns: ['title'] })) });
    handle(insert(TODOS, ['3', 'acme', 'concealed']));
    handle(commit(20n));
    expect(rows().map((event) => event.row)).toEqual([
      { id: '1', org_id: 'acme', title: 'first' },
      { id: '2', org_id: 'acme' },
    ]);
  });

  it('ignores walcast.config messages and rows of a look-alike table', () => {
    const { handle, rows } = rig();
    const open = todos({ tenantColumn: null, hiddenColumns: [] });
    handle({
      tag: 'message',
      transactional: false,
      lsn: 5n as Lsn,
      prefix: 'walcast.config',
      content: Buffer.from(JSON.stringify({ op: 'expose', exposure: open })),
    });
    handle(begin(10n));
    handle(insert(LOOK_ALIKE, row(open)));
    handle({
      tag: 'message',
      transactional: true,
      lsn: 6n as Lsn,
      prefix: 'walcast.config',
      content: Buffer.from(JSON.stringify({ op: 'conceal', relid: TODOS.relationOid, table: 'public.todos', publication: 'walcast' })),
    });
    handle(insert(TODOS, ['1', 'acme', 'still routed']));
    handle(commit(10n));
    expect(rows()).toEqual([expect.objectContaining({ tenant: 'acme', row: { id: '1', org_id: 'acme', title: 'still routed' } })]);
  });
});
