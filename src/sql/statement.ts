// A parameterized SQL statement, as the pure SQL builders (snapshots, edits) return it.
export interface Sql {
  readonly text: string;
  readonly values: unknown[];
}
