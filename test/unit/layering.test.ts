// The layering of src/ (docs/contributors.md, "Layout"), read from the import graph: a
// change travels replication → events → streams, feature folders sit on top, http/ is a
// toolkit and an edge that knows no feature, and three arrows must never exist:
//   - events know no transport (no streams, http, sse, routes);
//   - the slot never waits on a browser (replication imports nothing above it);
//   - the SDK imports no server module (client/, react/ see only themselves and wire/).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');

/** What each part of src/ may import besides itself. Files at the top of src/ are parts of their own. */
const ALLOWED: Record<string, readonly string[]> = {
  wire: [],
  errors: [],
  log: [],
  config: ['errors'],
  replication: ['errors', 'log'],
  events: ['replication', 'wire', 'errors', 'log'],
  filters: ['events', 'replication', 'sql', 'wire', 'errors', 'log'],
  sql: ['events', 'replication', 'wire', 'errors', 'log'],
  http: ['wire', 'errors', 'log'],
  auth: ['http', 'wire', 'errors', 'log'],
  streams: ['events', 'filters', 'sql', 'auth', 'http', 'replication', 'wire', 'errors', 'log'],
  snapshots: ['events', 'filters', 'sql', 'auth', 'http', 'replication', 'wire', 'errors', 'log'],
  edits: ['events', 'filters', 'sql', 'auth', 'http', 'replication', 'wire', 'errors', 'log'],
  presence: ['auth', 'http', 'wire', 'errors', 'log'],
  doctor: ['sql', 'replication', 'config', 'errors', 'log'],
  embedded: ['auth', 'http', 'sql', 'events', 'errors', 'log'],
  typegen: ['events', 'sql', 'replication', 'errors', 'log'],
  lifecycle: ['events', 'streams', 'presence', 'sql', 'http', 'replication', 'config', 'errors', 'log'],
  client: ['wire'],
  react: ['client', 'wire'],
  walcast: ['*'],
  index: ['*'],
  cli: ['*'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|js)$/.test(name) ? [full] : [];
  });
}

/** `src/streams/hub.ts` → `streams`; `src/errors.ts` → `errors`. */
function partOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first!.replace(/\.(ts|tsx|js)$/, '');
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** Relative imports of a file, resolved to files under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)]
    .map((match) => match[1] ?? match[2]!)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts'));
}

const files = sourceFiles(SRC);
const edges = files.flatMap((file) => importsOf(file).map((target) => ({ from: file, to: target })));

describe('the import graph of src/', () => {
  it('has only arrows the layering allows', () => {
    const forbidden = edges
      .filter(({ from, to }) => {
        const [a, b] = [partOf(from), partOf(to)];
        if (a === b) return false;
        const allowed = ALLOWED[a];
        return allowed === undefined || !(allowed.includes('*') || allowed.includes(b));
      })
      .map(({ from, to }) => `${path.relative(SRC, from)} → ${path.relative(SRC, to)}`);
    expect(forbidden).toEqual([]);
  });

  it('has a rule for every part of src/', () => {
    expect(files.map(partOf).filter((part) => !(part in ALLOWED))).toEqual([]);
  });

  it('has no cycle between parts, and none between files', () => {
    const graph = (key: (file: string) => string) => {
      const next = new Map<string, Set<string>>();
      for (const { from, to } of edges) {
        const [a, b] = [key(from), key(to)];
        if (a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
      }
      return next;
    };
    for (const [label, next] of [
      ['parts', graph(partOf)],
      ['files', graph((file) => file)],
    ] as const) {
      const state = new Map<string, 'open' | 'done'>();
      const cycles: string[] = [];
      const visit = (node: string, trail: string[]) => {
        if (state.get(node) === 'done') return;
        if (state.get(node) === 'open') {
          cycles.push([...trail.slice(trail.indexOf(node)), node].map((n) => path.relative(SRC, n) || n).join(' → '));
          return;
        }
        state.set(node, 'open');
        for (const target of next.get(node) ?? []) visit(target, [...trail, node]);
        state.set(node, 'done');
      };
      for (const node of next.keys()) visit(node, []);
      expect(cycles, label).toEqual([]);
    }
  });

  it('fails on a forbidden arrow (the check itself is alive)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(ALLOWED['events']).not.toContain('streams');
    expect(ALLOWED['client']).toEqual(['wire']);
  });
});
