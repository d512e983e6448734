// DESIGN §4: a fault while serving one stream (its filter, its frame, its socket) ends
// that stream, is reported once, and touches nothing else: not the other streams, not
// the pipeline, not what the slot may be confirmed up to.
import { claimTenantKeys } from '../../src/events/tenant-key.js';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { CloseReason } from '../../src/streams/subscriber.js';
import { Subscriber } from '../../src/streams/subscriber.js';
import type { RowPredicate } from '../../src/filters/index.js';
import { begin, commit, insert, pipelineRig, recorder, TODOS } from '../support/pipeline.js';
import type { RetentionLog } from '../../src/events/retention.js';
import type { Hub } from '../../src/streams/hub.js';

interface StreamOptions {
  readonly where?: RowPredicate;
  readonly throwOnWrite?: boolean;
  /** Resume from the oldest retained event (a replay) instead of going live at the head. */
  readonly fromStart?: boolean;
}

/** A stream as stream-routes makes one: leaving the hub when it closes. */
function stream(rig: { retention: RetentionLog; hub: Hub }, options: StreamOptions, closes: { reason: CloseReason; error: unknown }[]) {
  const socket = recorder({ throwOnWrite: options.throwOnWrite ?? false });
  const subscriber = new Subscriber({
    sink: socket.sink,
    filter: {
      tenant: 'acme',
      sub: 'alice',
      tenantKeys: new Set(claimTenantKeys('acme')),
      tables: null,
      predicates: new Map(options.where ? [[TODOS.relationOid, { matches: options.where, cover: undefined }]] : []),
      rooms: new Set(),
    },
    isNew: undefined,
    startSeq: options.fromStart ? rig.retention.firstSeq : rig.retention.nextSeq,
    expiresAt: undefined,
    maxLagBytes: 1e9,
    onSent: () => undefined,
    onClose: (closed, reason, error) => {
      rig.hub.remove(closed);
      closes.push({ reason, error });
    },
  });
  return { socket, subscriber };
}

describe('a fault while serving one stream', () => {
  it('ends that stream alone, once; the others and the pipeline go on, and the slot may move past it', async () => {
    const rig = pipelineRig();
    const { pipeline, retention, hub } = rig;
    const closes: { reason: CloseReason; error: unknown }[][] = [[], [], []];
    const healthy = stream(rig, {}, closes[0]!);
    const badFilter = stream(
      rig,
      {
        where: () => {
          throw new RangeError('Maximum BigInt size exceeded');
        },
      },
      closes[1]!,
    );
    const badSocket = stream(rig, { throwOnWrite: true }, closes[2]!);
    for (const { subscriber } of [healthy, badFilter, badSocket]) hub.add(subscriber);

    for (let i = 1; i <= 3; i++) {
      const lsn = BigInt(i * 100);
      for (const message of [begin(lsn), insert(TODOS, [String(i), 'acme', `row ${i}`]), commit(lsn)]) {
        expect(() => pipeline.handle(message)).not.toThrow();
      }
      await turn();
    }

    expect(healthy.socket.events().map((event) => (event['row'] as { title: string }).title)).toEqual(['row 1', 'row 2', 'row 3']);
    expect(healthy.socket.state.destroyed).toBe(false);
    for (const [broken, closed] of [
      [badFilter, closes[1]!],
      [badSocket, closes[2]!],
    ] as const) {
      expect(closed).toHaveLength(1);
      expect(closed[0]!.reason).toBe('fault');
      expect(closed[0]!.error).toBeInstanceOf(Error);
      expect(broken.socket.state.destroyed).toBe(true);
    }
    expect(closes[0]).toEqual([]);
    expect(hub.size()).toBe(1);
    // Every transaction was retained in order: acknowledgements follow the log, not the streams.
    expect(retention.size).toBe(3);
    expect(retention.headCommitLsn()).toBe(300n);
    expect(retention.oldestCommitLsn()).toBe(100n);
    hub.closeAll();
  });

  it('a throwing socket during replay (a resume) ends only that stream', async () => {
    const rig = pipelineRig();
    for (const message of [begin(100n), insert(TODOS, ['1', 'acme', 'before']), commit(100n)]) rig.handle(message);
    const closes: { reason: CloseReason; error: unknown }[][] = [[], []];
    const healthy = stream(rig, { fromStart: true }, closes[0]!);
    const broken = stream(rig, { throwOnWrite: true, fromStart: true }, closes[1]!);
    expect(() => rig.hub.add(broken.subscriber)).not.toThrow();
    rig.hub.add(healthy.subscriber);
    expect(closes[1]!.map((close) => close.reason)).toEqual(['fault']);
    expect(healthy.socket.events()).toHaveLength(1);
    expect(rig.hub.size()).toBe(1);
    rig.hub.closeAll();
    await turn();
  });
});
