// DESIGN §2–§3: a transaction of any size has valid IDs and nothing throws. Past
// WALCAST_MAX_TXN_CHANGES its row events become one `invalidate` per (tenant, table),
// numbered 0, 1, 2… in the order of the first change each stands for; a transaction
// whose positions pass six hex digits (2^24 changes, exposed or not) too.
import { claimTenantKeys } from '../../src/events/tenant-key.js';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_POSITION } from '../../src/events/event-id.js';
import { Invalidations, MAX_PAIRS } from '../../src/events/invalidations.js';
import { tableName } from '../../src/events/exposure.js';
import { tenantKey } from '../../src/events/tenant-key.js';
import type { Lsn } from '../../src/replication/lsn.js';
import type { Insert } from '../../src/replication/pgoutput.js';
import { Subscriber } from '../../src/streams/subscriber.js';
import { begin, commit, insert, LOG, pipelineRig, recorder, TODOS, type PipelineRig } from '../support/pipeline.js';

const EVENT_ID = /^[0-9A-F]{16}-[0-9A-F]{6}$/;

function listen(rig: PipelineRig, tenant: string) {
  const socket = recorder();
  rig.hub.add(
    new Subscriber({
      sink: socket.sink,
      filter: { tenant, sub: 'alice', tenantKeys: new Set(claimTenantKeys(tenant)), tables: null, predicates: new Map(), rooms: new Set() },
      isNew: undefined,
      startSeq: rig.retention.nextSeq,
      expiresAt: undefined,
      maxLagBytes: 1e12,
      onSent: () => undefined,
      onClose: () => undefined,
    }),
  );
  return socket;
}

describe('a transaction of 17 million changes (one UPDATE of 17M rows)', () => {
  it('becomes an invalidate per (tenant, table), with IDs in their width, and throws nothing', async () => {
    const rig = pipelineRig({ maxTxnChanges: 10_000 });
    const acme = listen(rig, 'acme');
    const tenants = ['acme', 'globex', 'initech'];
    const changes: Insert[] = tenants.map((tenant) => insert(TODOS, ['1', tenant, 'x']));
    const started = performance.now();
    rig.handle(begin(0x10_0000n));
    for (let i = 0; i < 17_000_000; i++) rig.handle(changes[i % 3]!);
    rig.handle(commit(0x10_0000n));
    const seconds = (performance.now() - started) / 1000;
    await turn();
    console.log(JSON.stringify({ changes: 17_000_000, seconds: Math.round(seconds * 100) / 100 }));

    const ids = [...Array(rig.retention.size).keys()].map((offset) => rig.retention.at(rig.retention.firstSeq + offset)!.event.id);
    expect(ids).toEqual(['0000000000100000-000000', '0000000000100000-000001', '0000000000100000-000002']);
    expect(acme.events()).toEqual([expect.objectContaining({ table: 'public.todos', tenant: 'acme', reason: 'transaction_too_large' })]);
  }, 60_000);

  it('also when most changes are to unexposed tables and the exposed ones sit past position 2^24', async () => {
    const rig = pipelineRig({ maxTxnChanges: MAX_POSITION });
    const acme = listen(rig, 'acme');
    const unexposed = insert(LOG, ['1', 'acme', 'log line']);
    rig.handle(begin(0x20_0000n));
    rig.handle(insert(TODOS, ['1', 'acme', 'first']));
    for (let i = 0; i < MAX_POSITION + 5; i++) rig.handle(unexposed);
    rig.handle(insert(TODOS, ['2', 'acme', 'past the width']));
    rig.handle(commit(0x20_0000n));
    await turn();
    const received = acme.events();
    expect(received).toEqual([expect.objectContaining({ id: '0000000000200000-000000', tenant: 'acme', reason: 'transaction_too_large' })]);
    for (const event of received) expect(event['id']).toMatch(EVENT_ID);
  }, 60_000);

  it('counts every change, exposed or not, so whether it goes out whole does not depend on what is exposed', async () => {
    // Eight changes of which three are to an exposed table, against a limit of five: an
    // instance with app_log exposed too (say one rebuilding its window after an expose())
    // counts the same eight, and makes the same events.
    const rig = pipelineRig({ maxTxnChanges: 5 });
    const acme = listen(rig, 'acme');
    rig.handle(begin(0x28_0000n));
    for (let i = 0; i < 5; i++) rig.handle(insert(LOG, [String(i), 'acme', 'log line']));
    for (let i = 0; i < 3; i++) rig.handle(insert(TODOS, [String(i), 'acme', 'todo']));
    rig.handle(commit(0x28_0000n));
    await turn();
    expect(acme.events()).toEqual([expect.objectContaining({ id: '0000000000280000-000000', table: 'public.todos', reason: 'transaction_too_large' })]);
  });

  it('collapses into one invalidate per table for every tenant past MAX_PAIRS tenants', async () => {
    const rig = pipelineRig({ maxTxnChanges: 10 });
    const someone = listen(rig, 'tenant-42');
    rig.handle(begin(0x30_0000n));
    for (let i = 0; i <= MAX_PAIRS; i++) rig.handle(insert(TODOS, [String(i), `tenant-${i}`, 'x']));
    rig.handle(commit(0x30_0000n));
    await turn();
    expect(rig.retention.size).toBe(1);
    expect(someone.events()).toEqual([expect.objectContaining({ id: '0000000000300000-000000', tenant: null, reason: 'transaction_too_large' })]);
  });

  describe('a row policy changed in such a transaction', () => {
    const todos = { relid: 1, table: tableName('public', 'todos') };
    const txn = { commitLsn: 0x40_0000n as Lsn, lsnText: '0/400000', xid: 9, committedAt: '2026-11-30T00:00:00Z', jsonTail: '}' };
    const reasons = (invalidations: Invalidations) => invalidations.events(txn).map((event) => event.type === 'invalidate' && event.reason);

    // Streams bind their predicate again only on policy_changed: another reason for the
    // same table must not hide it, or they would judge rows by the old rule.
    it('is named even when the table already has an invalidate for every tenant (a truncate)', () => {
      const invalidations = new Invalidations();
      invalidations.add(todos, null, 'transaction_too_large');
      invalidations.add(todos, null, 'policy_changed');
      expect(reasons(invalidations)).toEqual(['policy_changed']);
    });

    it('is named after its pairs collapsed into one per table', () => {
      const invalidations = new Invalidations();
      for (let i = 0; i <= MAX_PAIRS; i++) invalidations.add(todos, { text: `t${i}`, key: tenantKey('text', `t${i}`)! }, 'transaction_too_large');
      invalidations.add(todos, null, 'policy_changed');
      expect(reasons(invalidations)).toEqual(['policy_changed']);
      const again = new Invalidations();
      again.add(todos, null, 'policy_changed');
      for (let i = 0; i <= MAX_PAIRS; i++) again.add(todos, { text: `t${i}`, key: tenantKey('text', `t${i}`)! }, 'transaction_too_large');
      expect(reasons(again)).toEqual(['policy_changed']);
    });
  });
});
