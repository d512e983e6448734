// A swarm of SSE clients in a process of its own (never the event loop being measured).
// argv: the path of a JSON file {base, tokens: [token, used in turn], streams, query, batch,
// resume} (thousands of tokens do not fit an argument). Opens the
// streams, reports on stdout as JSON lines: {"opened": n, "connectMs": [...]}, then, on
// "report" from stdin, {"latenciesMs": [...], "events": n, "closed": n, …}.
// With `resume`, a client whose stream ends comes back as a browser's EventSource does:
// after the last `retry:`, with Last-Event-ID; it counts how long each move took (stream
// end → next stream's first byte), resets, and events not after the one before (duplicates).
import { readFileSync } from 'node:fs';
import http from 'node:http';

const { base, tokens, streams, query, batch, resume = false } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const latencies = [];
const movesMs = [];
let events = 0;
let closed = 0;
let resets = 0;
let duplicates = 0;
let measuring = true;

function open(i) {
  const token = tokens[i % tokens.length];
  const client = { lastId: undefined, retryMs: 2_000, endedAt: undefined };
  return new Promise((resolve, reject) => {
    const connect = () => {
      const started = performance.now();
      const headers = client.lastId === undefined ? {} : { 'last-event-id': client.lastId };
      const request = http.get(`${base}/v1/stream?${query}&access_token=${token}`, { agent, headers }, (response) => {
        if (response.statusCode !== 200) return reject(new Error(`status ${response.statusCode}`));
        let buffer = '';
        let first = true;
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          if (first) {
            first = false;
            if (client.endedAt === undefined) resolve(performance.now() - started);
            else movesMs.push(performance.now() - client.endedAt);
          }
          buffer += chunk;
          // One pass over the chunk's frames, one slice at the end: the swarm must not be
          // what lags.
          let start = 0;
          let end;
          while ((end = buffer.indexOf('\n\n', start)) >= 0) {
            if (buffer.startsWith('id: ', start)) {
              events++;
              const id = buffer.slice(start + 4, buffer.indexOf('\n', start));
              if (client.lastId !== undefined && id <= client.lastId) duplicates++;
              client.lastId = id;
              if (measuring) {
                const at = buffer.indexOf('"committedAt":"', start);
                if (at >= 0 && at < end) latencies.push(Date.now() - Date.parse(buffer.slice(at + 15, buffer.indexOf('"', at + 15))));
              }
            } else if (buffer.startsWith('retry: ', start)) {
              client.retryMs = Number(buffer.slice(start + 7, end));
            } else if (buffer.startsWith('event: reset', start)) {
              resets++;
            }
            start = end + 2;
          }
          buffer = buffer.slice(start);
        });
        response.on('close', () => {
          closed++;
          if (!resume) return;
          client.endedAt = performance.now();
          setTimeout(connect, client.retryMs);
        });
      });
      request.on('error', (error) => {
        if (client.endedAt === undefined) return reject(error);
        setTimeout(connect, client.retryMs);
      });
    };
    connect();
  });
}

const connectMs = [];
for (let i = 0; i < streams; i += batch) {
  const opened = await Promise.all(Array.from({ length: Math.min(batch, streams - i) }, (_, k) => open(i + k)));
  connectMs.push(...opened);
}
process.stdout.write(`${JSON.stringify({ opened: connectMs.length, connectMs })}\n`);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (line) => {
  if (line.includes('report')) {
    measuring = false;
    process.stdout.write(`${JSON.stringify({ latenciesMs: latencies, events, closed, movesMs, resets, duplicates })}\n`);
  }
  if (line.includes('exit')) process.exit(0);
});
