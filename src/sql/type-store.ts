// Column type OIDs → what their values look like (events/values ColumnType), from pg_type.
// pgoutput names every column type by OID; a domain, an enum or an array of either means
// nothing without the catalog. Looked up once per OID and cached: a type's kind and base
// never change under the same OID.
import type pg from 'pg';
import type { ColumnType } from '../events/values.js';

interface TypeRow {
  readonly oid: number;
  readonly typtype: string;
  readonly typbasetype: number;
  readonly typelem: number;
  readonly typcategory: string;
  readonly typname: string;
}

const LOOKUP = `
  select oid::int4 as oid, typtype, typbasetype::int4 as typbasetype, typelem::int4 as typelem, typcategory, typname
    from pg_type where oid = any($1::oid[])`;

/** Domains are unwrapped to their base; arrays point at their (unwrapped) element. */
function columnTypeOf(oid: number, rows: ReadonlyMap<number, TypeRow>): ColumnType {
  let current = rows.get(oid);
  // A domain over a domain over … a base type; bounded so a broken catalog cannot loop us.
  for (let depth = 0; current?.typtype === 'd' && depth < 32; depth++) current = rows.get(current.typbasetype);
  if (!current) return { kind: 'scalar', oid };
  if (current.typcategory === 'A' && current.typelem !== 0) {
    const element = columnTypeOf(current.typelem, rows);
    return { kind: 'array', elementOid: element.kind === 'scalar' ? element.oid : element.elementOid };
  }
  return { kind: 'scalar', oid: current.oid, name: current.typname };
}

export class TypeStore {
  private readonly known = new Map<number, ColumnType>();

  constructor(private readonly db: Pick<pg.Pool, 'query'>) {}

  /** The type of a column, once `resolve` has seen its OID; unknown OIDs decode as text. */
  typeOf(oid: number): ColumnType {
    return this.known.get(oid) ?? { kind: 'scalar', oid };
  }

  missing(oids: Iterable<number>): number[] {
    return [...new Set(oids)].filter((oid) => !this.known.has(oid));
  }

  async resolve(oids: Iterable<number>): Promise<void> {
    const wanted = this.missing(oids);
    const rows = new Map<number, TypeRow>();
    let next = wanted;
    while (next.length > 0) {
      const result = await this.db.query<TypeRow>(LOOKUP, [next]);
      for (const row of result.rows) rows.set(row.oid, row);
      next = [...new Set(result.rows.flatMap((row) => [row.typbasetype, row.typelem]))].filter((oid) => oid !== 0 && !rows.has(oid));
    }
    for (const oid of wanted) this.known.set(oid, columnTypeOf(oid, rows));
  }
}
