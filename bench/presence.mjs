// Presence bench: a heartbeat POSTed to instance A until the `join` arrives on an
// EventSource of instance B, through the WAL (issue 6 goal: within 100 ms here).
// Two walcast processes, one Postgres; the client runs in this process.
// Usage: npm run build && npm run bench -- presence
import { EventSource } from 'eventsource';
import { signToken } from '../dist/auth/jwt.js';
import { postgres, SECRET, stats, walcastProcess } from './lib/harness.mjs';

const SAMPLES = 200;
const token = (sub) => signToken(SECRET, { tenant: 'acme', sub, ttlSeconds: 3600, tenantClaim: 'tenant_id' });

const db = await postgres();
const instances = [];
try {
  const env = { WALCAST_PRESENCE_RATE: '100000' };
  instances.push(await walcastProcess(db.url, { ...env, WALCAST_INSTANCE: 'a' }), await walcastProcess(db.url, { ...env, WALCAST_INSTANCE: 'b' }));
  const [a, b] = instances;
  const source = new EventSource(`${b.base}/v1/stream?rooms=bench&access_token=${await token('watcher')}`);
  const joins = new Map();
  source.addEventListener('presence', (event) => {
    const data = JSON.parse(event.data);
    if (data.op === 'join') joins.get(data.member.user)?.(performance.now());
  });
  await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }));

  const latencies = [];
  for (let i = 0; i < SAMPLES; i++) {
    const user = `user-${i}`;
    const userToken = await token(user);
    const joined = new Promise((resolve) => joins.set(user, resolve));
    const sent = performance.now();
    await fetch(`${a.base}/v1/presence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'bench', state: { i } }),
    });
    latencies.push((await joined) - sent);
  }
  source.close();
  const latency = stats(latencies);
  console.log(JSON.stringify({ bench: 'presence', samples: SAMPLES, heartbeatToJoinMs: latency }));
  console.log(`presence: heartbeat on A → join on B's stream: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms (${SAMPLES} heartbeats)`);
} finally {
  for (const instance of instances) await instance.stop();
  await db.close();
}
