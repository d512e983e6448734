// Figures the operator's guide states that the code decides: they must not drift apart.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/config/config.js';
import { CONNECTION_BUDGET, MAX_CONNECTIONS } from '../../src/lifecycle/connections.js';

const operators = readFileSync(new URL('../../docs/operators.md', import.meta.url), 'utf8');

function section(heading: string): string {
  const start = operators.indexOf(`## ${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const end = operators.indexOf('\n## ', start + 1);
  return operators.slice(start, end < 0 ? undefined : end);
}

describe('docs/operators.md', () => {
  it('states the connection budget the pools are built from, a row per pool', () => {
    const text = section('Database connections');
    expect(text).toContain(`at most **${MAX_CONNECTIONS}** connections`);
    const rows = [...text.matchAll(/^\|[^|]+\| (\d+) \|$/gm)].map((row) => Number(row[1]));
    expect(rows).toHaveLength(Object.keys(CONNECTION_BUDGET).length);
    expect(rows.reduce((sum, count) => sum + count, 0)).toBe(MAX_CONNECTIONS);
  });

  it('lists every setting walcast reads in its configuration table', () => {
    const table = section('Configuration');
    const missing = SETTING_NAMES.filter((name) => !table.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
