// Row policies at the speed of tenant routing (DESIGN §10, indexed dispatch): one tenant,
// a policy `owner_id=eq.$sub`, each subscriber its own owner; writers commit rows for random
// owners. With the index an event costs what its recipient costs, so walcast's CPU per
// event should not grow with the subscribers of the tenant. Runs 100 subscribers, then
// 10,000; prints commit → event p50/p99 and walcast CPU per event for each (CPU while
// committing minus CPU over as long idle: keepalives and timers are not the events').
// Usage: npm run build && npm run bench -- policies   (BENCH_SUBSCRIBERS=100,10000; BENCH_RATE=100)
import { postgres, stats, swarm, userTokens, walcastProcess } from './lib/harness.mjs';

const SIZES = (process.env.BENCH_SUBSCRIBERS ?? '100,10000').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 100);
// A minute each: the idle CPU of 10,000 streams, subtracted, swings shorter runs' ratio (1.3–3.4× at 15 s).
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);

async function run(subscribers) {
  const db = await postgres();
  let walcast;
  let clients;
  try {
    await db.sql(`create table docs (id bigserial primary key, org_id text not null, owner_id text not null, body text);
                  select walcast.expose('docs', tenant_column => 'org_id', policy => 'owner_id=eq.$sub');`);
    walcast = await walcastProcess(db.url, { WALCAST_MAX_CLIENTS_PER_TENANT: String(subscribers * 2) });
    const owners = Array.from({ length: subscribers }, (_, i) => `owner-${i}`);
    clients = await swarm({ base: walcast.base, tokens: await userTokens('acme', owners), streams: subscribers, query: 'tables=docs', batch: 100 });
    const { default: pg } = await import('pg');
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    // What the streams cost with no event (keepalives, timers), over as long: not the events'.
    const idleBefore = walcast.cpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    const idle = walcast.cpuSeconds() - idleBefore;
    const cpuBefore = walcast.cpuSeconds();
    const deadline = Date.now() + SECONDS * 1000;
    let sent = 0;
    while (Date.now() < deadline) {
      const due = Date.now() + 1000 / RATE;
      await writer.query('insert into docs (org_id, owner_id, body) values ($1, $2, $3)', ['acme', owners[Math.floor(Math.random() * owners.length)], 'hello']);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    await writer.end();
    let report;
    for (const until = Date.now() + 10_000; ; ) {
      report = await clients.report();
      if (report.events >= sent || Date.now() > until) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const cpu = walcast.cpuSeconds() - cpuBefore;
    const round = (value) => Math.round(value * 1000) / 1000;
    return {
      subscribers,
      commits: sent,
      deliveries: report.events,
      commitToEventMs: stats(report.latenciesMs),
      cpuMsPerEvent: round(((cpu - idle) * 1000) / sent),
      walcastCpuSeconds: round(cpu),
      idleCpuSeconds: round(idle),
    };
  } finally {
    await clients?.stop();
    await walcast?.stop();
    await db.close();
  }
}

const results = [];
for (const size of SIZES) results.push(await run(size));
const [small, large] = [results[0], results.at(-1)];
const result = {
  bench: 'policies',
  ratePerSecond: RATE,
  seconds: SECONDS,
  runs: results,
  cpuPerEventRatio: Math.round((large.cpuMsPerEvent / small.cpuMsPerEvent) * 100) / 100,
};
console.log(JSON.stringify(result));
console.log(
  `policies: ${results.map((r) => `${r.subscribers} subscribers: p50 ${r.commitToEventMs.p50} ms, p99 ${r.commitToEventMs.p99} ms, ${r.cpuMsPerEvent} ms CPU/event`).join('; ')}; CPU per event ${result.cpuPerEventRatio}× from ${small.subscribers} to ${large.subscribers}`,
);
