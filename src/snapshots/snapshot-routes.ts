// GET /v1/tables/:table/rows: the caller's tenant rows in one consistent read, streamed
// with constant memory, and the cursor from which the stream continues exactly.
import { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import type { VerifyToken } from '../auth/jwt.js';
import { principalOf, requireAuth } from '../auth/require-auth.js';
import { resolveTable, type ExposureCatalog } from '../events/exposure.js';
import { HEADER, QUERY } from '../wire/names.js';
import { parseQuery } from '../http/validate.js';
import { rowWriter, type TableDescription } from '../sql/columns.js';
import { compileWhere, parseWhere } from '../filters/where.js';
import { WalcastError } from '../errors.js';
import type { HeldSnapshots } from './held-snapshots.js';
import { formatPageToken, parsePageToken } from './page-token.js';
import { openSnapshot } from './read-snapshot.js';
import { snapshotQuery } from './snapshot-sql.js';

const RowsQuery = z.object({
  [QUERY.where]: z.union([z.string().max(2_000), z.array(z.string().max(2_000))]).optional(),
  [QUERY.limit]: z.coerce.number().int().min(1).max(100_000_000).optional(),
  [QUERY.page]: z.string().max(64_000).optional(),
  [QUERY.accessToken]: z.string().optional(),
});

export interface SnapshotRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly catalog: ExposureCatalog;
  readonly pool: pg.Pool;
  readonly connectionString: string;
  readonly held: HeldSnapshots;
  readonly describeTable: (relid: number) => Promise<TableDescription>;
}

/** Resolves when the socket can take more, or is gone (also when it already is: no event would come). */
function writable(response: Response): Promise<void> {
  return new Promise((resolve) => {
    if (response.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

export function snapshotRoutes(deps: SnapshotRouteDeps): Router {
  const router = Router();

  router.get('/v1/tables/:table/rows', requireAuth(deps.verifyToken), async function readRows(request: Request, response: Response) {
    const principal = principalOf(response);
    const query = parseQuery(RowsQuery, request);
    const relid = resolveTable(deps.catalog, String(request.params['table']));
    const pageText = query[QUERY.page];
    const page = pageText === undefined ? undefined : parsePageToken(pageText);
    if (page && (page.relid !== relid || page.tenant !== principal.tenant)) {
      throw new WalcastError('INVALID_PARAMETER', 'page: this token belongs to another table or tenant');
    }
    if (page && query[QUERY.where] !== undefined) throw new WalcastError('INVALID_PARAMETER', 'page: the token carries its filter; leave out where=');
    const whereTexts = page ? page.where : [query[QUERY.where] ?? []].flat();
    const table = await deps.describeTable(relid);
    const conditions = parseWhere(whereTexts);
    compileWhere(conditions, table.columns, table.name);
    const tenantColumn = deps.catalog.exposureOf(relid)?.tenantColumn ?? null;
    const tenant = tenantColumn === null ? null : { column: table.columns.find((column) => column.name === tenantColumn)!, value: principal.tenant };
    // Pages follow the key; a key with a hidden column cannot be handed to the client.
    const keyIndexes = table.keyColumns.map((name) => table.columns.findIndex((column) => column.name === name));
    const pageable = query[QUERY.limit] !== undefined && keyIndexes.length > 0 && keyIndexes.every((index) => index >= 0);
    const exportSnapshot = pageable && !page;
    if (exportSnapshot) deps.held.assertRoom();
    const read = await openSnapshot(deps.pool, deps.connectionString, {
      query: snapshotQuery({ ...table, tenant, conditions, after: page?.after }),
      limit: query[QUERY.limit],
      exportSnapshot,
      ...(page ? { continueIn: { snapshotId: page.snapshot, cursor: page.cursor } } : {}),
    });
    let held = false;
    try {
      response.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        [HEADER.cursor]: read.cursor,
      });
      const writeRow = rowWriter(table);
      // What a client needs to keep a copy: how rows are keyed and which column versions them.
      const exposedVersion = deps.catalog.exposureOf(relid)?.versionColumn ?? null;
      const versionColumn = table.columns.some((column) => column.name === exposedVersion) ? exposedVersion : null;
      response.write(
        `{"table":${JSON.stringify(table.name)},"keyColumns":${JSON.stringify(table.keyColumns)},` +
          `"versionColumn":${JSON.stringify(versionColumn)},"cursor":"${read.cursor}","rows":[`,
      );
      let first = true;
      let last: readonly (string | null)[] = [];
      for await (const batch of read.batches()) {
        let chunk = '';
        for (const values of batch) {
          chunk += `${first ? '' : ','}${writeRow(values)}`;
          first = false;
        }
        last = batch[batch.length - 1]!;
        if (!response.write(chunk)) await writable(response);
        if (response.destroyed) return;
      }
      const snapshot = page?.snapshot ?? read.snapshotId;
      const next = pageable && read.more() && snapshot
        ? formatPageToken({ snapshot, cursor: read.cursor, relid, tenant: principal.tenant, where: whereTexts, after: keyIndexes.map((index) => last[index] ?? '') })
        : null;
      if (next && exportSnapshot) {
        deps.held.hold(snapshot!, read.detach());
        held = true;
      }
      // The last page: let the first page's transaction go, if this instance holds it.
      if (!next && page) await deps.held.release(page.snapshot);
      response.end(`],"next":${JSON.stringify(next)}}`);
    } finally {
      if (!held) await read.close();
    }
  });

  return router;
}
