// POST /v1/tables/:table/rows, PATCH and DELETE /v1/tables/:table/rows/:key (DESIGN §4):
// edits in the caller's tenant, guarded by the version column the trigger bumps on every
// update by anyone; with Idempotency-Key, stored with the edit in one transaction. The
// change then reaches every subscriber as an ordinary event, through the WAL.
import express, { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import type { Principal, VerifyToken } from '../auth/jwt.js';
import { principalOf, requireAuth } from '../auth/require-auth.js';
import { WalcastError } from '../errors.js';
import { resolveTable, type Exposure, type ExposureCatalog } from '../events/exposure.js';
import { tenantKey, tenantKindOf } from '../events/tenant-key.js';
import { errorBody } from '../http/error-handler.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { parseBody } from '../http/validate.js';
import type { Sql } from '../sql/statement.js';
import { rowWriter, type TableDescription, type VisibleColumn } from '../sql/columns.js';
import { applyTextFormat, RAW_TEXT } from '../sql/text-format.js';
import type { Policies } from '../filters/index.js';
import { currentRowSql, deleteSql, fitsColumn, insertSql, updateSql, type Scope, type SetOnInsert } from './edit-sql.js';
import { claimKey, IdempotencyKey, requestHash, storeResponse, type StoredResponse } from './idempotency.js';
import { validationError } from './pg-errors.js';
import { lastPathSegment, parseRowKey } from './row-key.js';

const BODY_LIMIT = '256kb';
const Values = z.record(z.string(), z.unknown());
const PatchBody = z.object({ version: z.union([z.number().int(), z.string()]).optional(), set: Values });
const DeleteBody = z.object({ version: z.union([z.number().int(), z.string()]).optional() }).optional();
const VERSION = /^-?\d{1,19}$/;
const IF_MATCH = /^(?:W\/)?"([^"]*)"$/;

export interface EditRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly catalog: ExposureCatalog;
  readonly pool: pg.Pool;
  readonly describeTable: (relid: number) => Promise<TableDescription>;
  readonly limiter: RateLimiter;
  /** Tables' row policies, per principal (USING and WITH CHECK, DESIGN §10). */
  readonly policies: Policies;
  /** This instance reads from a physical standby: it takes no writes. */
  readonly readOnly: boolean;
}

type Kind = 'insert' | 'update' | 'delete';

interface Target {
  readonly exposure: Exposure;
  readonly table: TableDescription;
  readonly scope: Scope;
  readonly writable: ReadonlySet<string>;
  /** Columns an insert takes from the token (set_on_insert): never from a body. */
  readonly fromToken: ReadonlySet<string>;
}

/** smallint and integer: the largest value of each (the smallest is one further from zero). */
const NARROW_INTEGER_MAX = new Map([
  [21, 32_767],
  [23, 2_147_483_647],
]);

/**
 * The caller's tenant as a value of the table's tenant column. Fails closed: an exposure
 * whose tenant column the table does not show us (renamed before the exposure caught up,
 * hidden, not visible) takes no edits, rather than edits without the tenant predicate.
 */
function tenantScope(exposure: Exposure, table: TableDescription, tenant: string): Scope['tenant'] {
  if (exposure.tenantColumn === null) return null;
  const column = table.columns.find((candidate) => candidate.name === exposure.tenantColumn);
  if (!column) {
    throw new WalcastError(
      'FORBIDDEN',
      "this table's tenant column cannot be found (renamed, hidden or not visible to walcast): it takes no edits until it is exposed again",
    );
  }
  // Only integer and uuid kinds can refuse a claim, and they need no type name (citext compares as text here: edit-sql's check is the same for both).
  const oid = column.type.kind === 'scalar' ? column.type.oid : 0;
  const kind = tenantKindOf(oid, undefined);
  // A claim that is no value of the column (`abc` for an integer, 70000 for a smallint)
  // owns no row here, and routes to no stream (events/tenant-key): refused before Postgres is asked.
  const max = NARROW_INTEGER_MAX.get(oid);
  const outOfRange = max !== undefined && (Number(tenant) > max || Number(tenant) < -max - 1);
  if (tenantKey(kind, tenant) === undefined || outOfRange) {
    throw new WalcastError('FORBIDDEN', `your tenant (from the token) is not a value of this table's tenant column (${column.sqlType.slice(0, 100)})`);
  }
  return { column, kind, value: tenant };
}

async function targetOf(deps: EditRouteDeps, request: Request, principal: Principal): Promise<Target> {
  const { tenant } = principal;
  const relid = resolveTable(deps.catalog, String(request.params['table']));
  const exposure = deps.catalog.exposureOf(relid);
  if (!exposure) throw new WalcastError('FORBIDDEN', 'this table is published without walcast.expose(): it takes no edits');
  const table = await deps.describeTable(relid);
  const visible = new Set(table.columns.map((column) => column.name));
  // Without writable_columns: every visible column but the tenant, the version and the key
  // (changing a key is a move the DBA allows by naming its columns).
  const fromToken = new Set(Object.keys(exposure.setOnInsert ?? {}));
  const writable =
    exposure.writableColumns ??
    table.columns.map((column) => column.name).filter((name) => name !== exposure.versionColumn && !table.keyColumns.includes(name));
  return {
    exposure,
    table,
    scope: { table, tenant: tenantScope(exposure, table, tenant), policy: await deps.policies.forTable(relid, principal.claims) },
    writable: new Set(writable.filter((name) => visible.has(name) && name !== exposure.tenantColumn && !fromToken.has(name))),
    fromToken,
  };
}

/**
 * set_on_insert (DESIGN §10): each column's value from the token, as the tenant's is. A
 * token without the claim cannot insert here: refused, never stored as NULL.
 */
function valuesFromToken(target: Target, principal: Principal): SetOnInsert {
  const values = new Map<VisibleColumn, string>();
  const columns = [...target.table.columns, ...target.table.hiddenColumns];
  for (const [name, source] of Object.entries(target.exposure.setOnInsert ?? {})) {
    const column = columns.find((candidate) => candidate.name === name);
    if (!column)
      throw new WalcastError('FORBIDDEN', "this table's inserts take a column from your token that it no longer has: exposed again, it takes inserts again");
    const claim = source === '$sub' ? principal.sub : principal.claims[source.slice('$claim.'.length)];
    if (typeof claim !== 'string' && typeof claim !== 'number' && typeof claim !== 'boolean') {
      throw new WalcastError('FORBIDDEN', `inserts into this table take ${source} from your token, which has none`);
    }
    values.set(column, String(claim));
  }
  return values;
}

const columnNamed = (target: Target, name: string): VisibleColumn => target.table.columns.find((column) => column.name === name)!;

/** A body's values by their columns (writableSet has checked each is a visible one). */
function visibleValues(target: Target, values: ReadonlyMap<string, unknown>): [VisibleColumn, unknown][] {
  return [...values].map(([name, value]) => [columnNamed(target, name), value]);
}

/** The columns a body sets, each one the caller may write; hidden and unknown ones alike are refused. */
function writableSet(target: Target, values: Record<string, unknown>): Map<string, unknown> {
  for (const name of Object.keys(values)) {
    if (target.writable.size === 0 && name !== target.exposure.tenantColumn) {
      throw new WalcastError('FORBIDDEN', 'this table has no writable columns (walcast.expose(…, writable_columns => …) names none)');
    }
    if (name === target.exposure.tenantColumn) {
      throw new WalcastError('FORBIDDEN', `${name} is the tenant column: it is set from your token`, { details: { column: name } });
    }
    if (target.fromToken.has(name)) throw new WalcastError('FORBIDDEN', `${name} is set from your token`, { details: { column: name } });
    if (!target.writable.has(name))
      throw new WalcastError('FORBIDDEN', `${name.slice(0, 100)} is not a writable column`, { details: { column: name.slice(0, 100) } });
  }
  return new Map(Object.entries(values));
}

/** If-Match wins over a version in the body; one of them is required. */
function expectedVersion(request: Request, fromBody: number | string | undefined): string {
  const header = request.headers['if-match'];
  const text = header === undefined ? (fromBody === undefined ? undefined : String(fromBody)) : (IF_MATCH.exec(header)?.[1] ?? header);
  if (text === undefined) {
    throw new WalcastError('PRECONDITION_REQUIRED', 'send the version you edit: If-Match: "<version>" or {"version": n}');
  }
  if (!VERSION.test(text)) throw new WalcastError('INVALID_PARAMETER', 'the version must be an integer');
  return text;
}

function versionColumnOf(target: Target): VisibleColumn {
  const name = target.exposure.versionColumn;
  const column = name === null ? undefined : target.table.columns.find((candidate) => candidate.name === name);
  if (!column) throw new WalcastError('FORBIDDEN', 'edits by key need a version column (walcast.expose(…, version_column => …))');
  if (target.table.keyColumns.some((key) => !target.table.columns.some((column) => column.name === key))) {
    throw new WalcastError('FORBIDDEN', "this table's key has a hidden column: its rows cannot be edited by key");
  }
  return column;
}

function errorResponse(error: WalcastError): StoredResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...error.headers },
    body: errorBody(error),
  };
}

function send(response: Response, stored: StoredResponse, replayed: boolean): void {
  for (const [name, value] of Object.entries(stored.headers)) response.setHeader(name, value);
  if (replayed) response.setHeader('idempotent-replayed', 'true');
  response.status(stored.status);
  if (stored.body === '') response.end();
  else response.end(stored.body);
}

export function editRoutes(deps: EditRouteDeps): Router {
  const router = Router();
  const auth = requireAuth(deps.verifyToken);
  const json = express.json({ limit: BODY_LIMIT });

  async function edit(kind: Kind, request: Request, response: Response): Promise<void> {
    const principal = principalOf(response);
    if (deps.readOnly) throw new WalcastError('READ_ONLY_INSTANCE', 'this instance reads from a standby: send edits to an instance on the primary');
    deps.limiter.take(`${principal.tenant}\u0000${principal.sub}`);
    const idempotencyHeader = request.headers['idempotency-key'];
    const idempotencyKey = idempotencyHeader === undefined ? undefined : IdempotencyKey.safeParse(idempotencyHeader).data;
    if (idempotencyHeader !== undefined && idempotencyKey === undefined) {
      throw new WalcastError('INVALID_PARAMETER', 'Idempotency-Key must be 1 to 200 printable ASCII characters');
    }
    const target = await targetOf(deps, request, principal);
    const row = rowWriter(target.table);
    const versionIndex = target.table.columns.findIndex((column) => column.name === target.exposure.versionColumn);
    const rawKey = kind === 'insert' ? '' : lastPathSegment(request.originalUrl);

    // What to run, decided before any connection is taken.
    let statement: Sql;
    let provided: ReadonlyMap<string, unknown> = new Map();
    /** What a refused write may be about: its values, its key, and values from the token. */
    let probed: ReadonlyMap<VisibleColumn, unknown> = new Map();
    let key: string[] = [];
    if (kind === 'insert') {
      if (target.writable.size === 0) {
        throw new WalcastError('FORBIDDEN', 'this table has no writable columns (walcast.expose(…, writable_columns => …) names none): it takes no inserts');
      }
      provided = writableSet(target, parseBody(Values, request));
      const fromToken = valuesFromToken(target, principal);
      statement = insertSql(target.scope, provided, fromToken);
      probed = new Map([...visibleValues(target, provided), ...fromToken]);
    } else {
      const versionColumn = versionColumnOf(target);
      key = parseRowKey(rawKey, target.table.keyColumns);
      if (kind === 'update') {
        const body = parseBody(PatchBody, request);
        provided = writableSet(target, body.set);
        statement = updateSql(target.scope, key, { column: versionColumn, value: expectedVersion(request, body.version) }, provided);
      } else {
        const body = parseBody(DeleteBody, request);
        statement = deleteSql(target.scope, key, { column: versionColumn, value: expectedVersion(request, body?.version) });
      }
      probed = new Map([...visibleValues(target, provided), ...target.table.keyColumns.map((name, i) => [columnNamed(target, name), key[i]] as const)]);
    }

    const succeeded = (values: (string | null)[]): StoredResponse => {
      const version = versionIndex >= 0 ? values[versionIndex] : null;
      const etag: Record<string, string> = version === null || version === undefined ? {} : { etag: `"${version}"` };
      if (kind === 'delete') return { status: 204, headers: {}, body: '' };
      return {
        status: kind === 'insert' ? 201 : 200,
        headers: { 'content-type': 'application/json; charset=utf-8', ...etag },
        body: `{"row":${row(values)}}`,
      };
    };

    const client = await deps.pool.connect();
    try {
      await client.query('begin');
      await applyTextFormat(client);
      if (idempotencyKey) {
        const hash = requestHash([kind, target.table.name, rawKey, request.body ?? null, request.headers['if-match'] ?? null]);
        const stored = await claimKey(client, principal, idempotencyKey, hash);
        if (stored) {
          await client.query('commit');
          return send(response, stored, true);
        }
      }
      await client.query('savepoint edit');
      let outcome: StoredResponse;
      try {
        const result = await client.query<(string | null)[]>({ ...statement, rowMode: 'array', types: RAW_TEXT });
        const written = result.rows[0];
        // WITH CHECK: a row written that the caller's own policy would hide is not written.
        if (written && target.scope.policy && kind !== 'delete' && written[target.table.columns.length] !== 't') {
          throw new WalcastError('POLICY_VIOLATION', "the row as written would be hidden from you by the table's row policy: nothing was changed");
        }
        if (written) {
          outcome = succeeded(written.slice(0, target.table.columns.length));
        } else if (kind === 'insert') {
          // insertSql's tenant check held the row back: the tenant would not be stored as it is.
          throw new WalcastError('FORBIDDEN', "your tenant (from the token) cannot be stored in this table's tenant column as it is");
        } else {
          const current = await client.query<(string | null)[]>({ ...currentRowSql(target.scope, key), rowMode: 'array', types: RAW_TEXT });
          if (!current.rows[0]) throw new WalcastError('ROW_NOT_FOUND', 'no such row in your tenant');
          throw new WalcastError('VERSION_CONFLICT', 'the row has changed since that version: here is the current one', {
            details: { current: JSON.parse(row(current.rows[0])) as unknown },
          });
        }
      } catch (error) {
        await client.query('rollback to savepoint edit');
        const known =
          error instanceof WalcastError
            ? error
            : await validationError(
                error,
                client,
                { sqlName: target.table.sqlName, visible: new Set(target.table.columns.map((column) => column.name)) },
                [...probed.keys()],
                async (column) => {
                  const value = probed.get(column);
                  await client.query('savepoint probe');
                  const values: unknown[] = [];
                  const fits = fitsColumn(column, value, (v) => (values.push(v), `$${values.length}`));
                  return client.query<{ fits: boolean }>(`select ${fits} as fits`, values).then(
                    async (result) => (await client.query('release savepoint probe'), result.rows[0]?.fits !== true),
                    async () => (await client.query('rollback to savepoint probe'), true),
                  );
                },
              );
        if (!known || known.status >= 500) throw error;
        outcome = errorResponse(known);
      }
      if (idempotencyKey) await storeResponse(client, principal, idempotencyKey, outcome);
      await client.query('commit');
      send(response, outcome, false);
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  router.post('/v1/tables/:table/rows', auth, json, (request, response) => edit('insert', request, response));
  router.patch('/v1/tables/:table/rows/:key', auth, json, (request, response) => edit('update', request, response));
  router.delete('/v1/tables/:table/rows/:key', auth, json, (request, response) => edit('delete', request, response));
  return router;
}
