// GET /v1/tables/:table/rows: the caller's tenant rows in one consistent read, streamed
// with constant memory, and the cursor from which the stream continues exactly.
import { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import type { VerifyToken } from '../auth/jwt.js';
import { principalOf, requireAuth } from '../auth/require-auth.js';
import type { ExposureCatalog } from '../events/exposure.js';
import { decoderFor } from '../events/values.js';
import { HEADER, QUERY } from '../http/constants.js';
import { parseQuery } from '../http/validate.js';
import type { TableDescription } from '../sql/columns.js';
import { resolveTable } from '../streams/stream-routes.js';
import { compileWhere, parseWhere } from '../streams/where.js';
import { openSnapshot } from './read-snapshot.js';
import { snapshotQuery } from './snapshot-sql.js';

const RowsQuery = z.object({
  [QUERY.where]: z.union([z.string().max(2_000), z.array(z.string().max(2_000))]).optional(),
  [QUERY.limit]: z.coerce.number().int().min(1).max(100_000_000).optional(),
  [QUERY.accessToken]: z.string().optional(),
});

export interface SnapshotRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly catalog: ExposureCatalog;
  readonly pool: pg.Pool;
  readonly describeTable: (relid: number) => Promise<TableDescription>;
}

/** Resolves when the socket can take more, or is gone. */
function writable(response: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

/** Rows as JSON text, in the same shape and value format as events' `row`. */
function rowWriter(table: TableDescription): (values: readonly (string | null)[]) => string {
  const keys = table.columns.map((column) => `${JSON.stringify(column.name)}:`);
  const decoders = table.columns.map((column) => decoderFor(column.type));
  return (values) => {
    let row = '';
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      row += `${i === 0 ? '' : ','}${keys[i]!}${value === null || value === undefined ? 'null' : decoders[i]!(value)}`;
    }
    return `{${row}}`;
  };
}

export function snapshotRoutes(deps: SnapshotRouteDeps): Router {
  const router = Router();

  router.get('/v1/tables/:table/rows', requireAuth(deps.verifyToken), async function readRows(request: Request, response: Response) {
    const principal = principalOf(response);
    const query = parseQuery(RowsQuery, request);
    const relid = resolveTable(deps.catalog, String(request.params['table']));
    const table = await deps.describeTable(relid);
    const where = query[QUERY.where];
    const conditions = where === undefined ? [] : parseWhere([where].flat());
    compileWhere(conditions, table.columns, table.name);
    const tenantColumn = deps.catalog.exposureOf(relid)?.tenantColumn ?? null;
    const tenant = tenantColumn === null ? null : { column: table.columns.find((column) => column.name === tenantColumn)!, value: principal.tenant };
    const read = await openSnapshot(deps.pool, snapshotQuery({ ...table, tenant, conditions }), query[QUERY.limit]);
    try {
      response.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        [HEADER.cursor]: read.cursor,
      });
      const writeRow = rowWriter(table);
      response.write(`{"table":${JSON.stringify(table.name)},"cursor":"${read.cursor}","rows":[`);
      let first = true;
      for await (const batch of read.batches()) {
        let chunk = '';
        for (const values of batch) {
          chunk += `${first ? '' : ','}${writeRow(values)}`;
          first = false;
        }
        if (!response.write(chunk)) await writable(response);
        if (response.destroyed) return;
      }
      response.end(']}');
    } finally {
      await read.close();
    }
  });

  return router;
}
