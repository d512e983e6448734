// GET /v1/tables/:table/rows: the caller's tenant rows in one consistent read, streamed
// with constant memory, and the cursor from which the stream continues exactly. Bounded
// (DESIGN §4): reads per tenant at once, connections of their own (lifecycle/connections),
// paged snapshots held per instance, and a reader that takes nothing for `stallMs` is
// cut off and its transaction ended.
import { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import type { VerifyToken } from '../auth/jwt.js';
import type { Principal } from '../auth/jwt.js';
import { principalOf, requireAuth } from '../auth/require-auth.js';
import type { ReadGate } from './read-gate.js';
import { resolveTable, type ExposureCatalog } from '../events/exposure.js';
import { HEADER, QUERY } from '../wire/names.js';
import { parseQuery } from '../http/validate.js';
import { rowWriter, type TableDescription } from '../sql/columns.js';
import { combineFilters, FILTER_LIMITS, type ClientFilters, type Policies } from '../filters/index.js';
import { WalcastError } from '../errors.js';
import { tenantKey, tenantKindOf } from '../events/tenant-key.js';
import type { HeldSnapshots } from './held-snapshots.js';
import { formatPageToken, parsePageToken } from './page-token.js';
import { openSnapshot } from './read-snapshot.js';
import { snapshotQuery } from './snapshot-sql.js';

const RowsQuery = z.object({
  [QUERY.where]: z.union([z.string().max(FILTER_LIMITS.maxLength), z.array(z.string().max(FILTER_LIMITS.maxLength))]).optional(),
  [QUERY.limit]: z.coerce.number().int().min(1).max(100_000_000).optional(),
  [QUERY.page]: z.string().max(64_000).optional(),
  [QUERY.paged]: z.enum(['true', 'false']).optional(),
  [QUERY.accessToken]: z.string().optional(),
});

export interface SnapshotRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly catalog: ExposureCatalog;
  /** Connections for reads alone. */
  readonly reads: pg.Pool;
  readonly connectionString: string;
  readonly held: HeldSnapshots;
  readonly gate: ReadGate;
  /** Clients' `where=`, per table. */
  readonly filters: ClientFilters;
  /** Tables' row policies, per principal. */
  readonly policies: Policies;
  /** A reader that takes no bytes for this long is cut off. */
  readonly stallMs: number;
  readonly describeTable: (relid: number) => Promise<TableDescription>;
}

/**
 * Resolves when the socket can take more, or is gone (also when it already is: no event
 * would come). A reader that takes nothing for `stallMs` is cut off: its socket is
 * destroyed, so the read ends and its connection and transaction go back.
 */
function writable(response: Response, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (response.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(stall);
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    const stall = setTimeout(() => {
      response.destroy();
      done();
    }, stallMs);
    response.once('drain', done);
    response.once('close', done);
  });
}

/** As edits: fail closed when the tenant column is not found; a claim that is no value of it reads nothing (403). */
function tenantScope(tenantColumn: string | null, table: TableDescription, claim: string) {
  if (tenantColumn === null) return null;
  const column = table.columns.find((candidate) => candidate.name === tenantColumn);
  if (!column)
    throw new WalcastError(
      'FORBIDDEN',
      "this table's tenant column cannot be found (renamed, hidden or not visible to walcast): it cannot be read until it is exposed again",
    );
  const kind = column.type.kind === 'scalar' ? tenantKindOf(column.type.oid, column.type.name) : 'text';
  if (tenantKey(kind, claim) === undefined) {
    throw new WalcastError('FORBIDDEN', `your tenant (from the token) is not a value of this table's tenant column (${column.sqlType.slice(0, 100)})`);
  }
  return { column, kind, value: claim };
}

export function snapshotRoutes(deps: SnapshotRouteDeps): Router {
  const router = Router();

  router.get('/v1/tables/:table/rows', requireAuth(deps.verifyToken), async function readRows(request: Request, response: Response) {
    const principal = principalOf(response);
    const leave = deps.gate.enter(principal.tenant);
    try {
      await read(request, response, principal);
    } finally {
      leave();
    }
  });

  async function read(request: Request, response: Response, principal: Principal): Promise<void> {
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
    // The table's row policy for the caller (DESIGN §10) AND the client's where=: the rule streams apply.
    const policy = await deps.policies.forTable(relid, principal.claims);
    const where = whereTexts.length > 0 ? await deps.filters.forTable(relid, table.name, whereTexts, principal.claims) : undefined;
    const parts = [policy, where].filter((part) => part !== undefined);
    const filter = parts.length > 1 ? combineFilters(parts) : parts[0];
    const tenant = tenantScope(deps.catalog.exposureOf(relid)?.tenantColumn ?? null, table, principal.tenant);
    // Pages follow the key: one that is unique and not null (rows with equal keys, or a
    // NULL in one, would fall between two pages), none of it hidden from the client.
    const keyIndexes = table.keyColumns.map((name) => table.columns.findIndex((column) => column.name === name));
    const pageable = query[QUERY.limit] !== undefined && query[QUERY.paged] !== 'false' && table.uniqueKey && keyIndexes.every((index) => index >= 0);
    const place = pageable && !page ? deps.held.reserve(principal.tenant) : undefined;
    // A first page gets a next one only when its snapshot can be held for it.
    const paging = pageable && (page !== undefined || place !== undefined);
    const read = await openSnapshot(deps.reads, deps.connectionString, {
      query: snapshotQuery({ ...table, tenant, filter, after: page?.after }),
      limit: query[QUERY.limit],
      exportSnapshot: place !== undefined,
      ...(page ? { continueIn: { snapshotId: page.snapshot, cursor: page.cursor } } : {}),
    }).catch((error: unknown) => {
      place?.cancel();
      throw error;
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
        if (!response.write(chunk)) await writable(response, deps.stallMs);
        if (response.destroyed) return;
      }
      const snapshot = page?.snapshot ?? read.snapshotId;
      const next =
        paging && read.more() && snapshot
          ? formatPageToken({
              snapshot,
              cursor: read.cursor,
              relid,
              tenant: principal.tenant,
              where: whereTexts,
              after: keyIndexes.map((index) => last[index] ?? ''),
            })
          : null;
      if (next && place) {
        place.hold(snapshot!, read.detach());
        held = true;
      }
      // The last page: let the first page's transaction go, if this instance holds it.
      if (!next && page) await deps.held.release(page.snapshot, principal.tenant);
      response.end(`],"next":${JSON.stringify(next)}}`);
    } finally {
      place?.cancel();
      if (!held) await read.close();
    }
  }

  return router;
}
