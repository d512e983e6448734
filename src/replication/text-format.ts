// The session settings under which walcast reads every value as Postgres text, whatever
// the server's defaults: the replication connection, snapshot reads and edits all set
// them, and the value mapping (events/values) and filters rely on that one format.

/** ISO dates in UTC, hex bytea, shortest-exact floats, Postgres-style intervals. */
export const TEXT_FORMAT: Readonly<Record<string, string>> = {
  DateStyle: 'ISO',
  TimeZone: 'UTC',
  bytea_output: 'hex',
  extra_float_digits: '1',
  IntervalStyle: 'postgres',
};

/** The same settings as startup options of a connection (`-c name=value …`). */
export const TEXT_FORMAT_OPTIONS = Object.entries(TEXT_FORMAT)
  .map(([name, value]) => `-c ${name}=${value}`)
  .join(' ');
