// A swarm of SSE clients in a process of its own (never the event loop being measured).
// argv: JSON {base, tokens: [token per tenant], streams, query, batch}. Opens the streams,
// reports on stdout as JSON lines: {"opened": n, "connectMs": [...]}, then, on "report"
// from stdin, {"latenciesMs": [...], "events": n, "closed": n}.
import http from 'node:http';

const { base, tokens, streams, query, batch } = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const latencies = [];
let events = 0;
let closed = 0;
let measuring = true;

function open(i) {
  const token = tokens[i % tokens.length];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.get(`${base}/v1/stream?${query}&access_token=${token}`, { agent }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`status ${response.statusCode}`));
      let buffer = '';
      let first = true;
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        if (first) {
          first = false;
          resolve(performance.now() - started);
        }
        buffer += chunk;
        // One pass over the chunk's frames, one slice at the end: the swarm must not be
        // what lags.
        let start = 0;
        let end;
        while ((end = buffer.indexOf('\n\n', start)) >= 0) {
          if (buffer.startsWith('id: ', start)) {
            events++;
            if (measuring) {
              const at = buffer.indexOf('"committedAt":"', start);
              if (at >= 0 && at < end) latencies.push(Date.now() - Date.parse(buffer.slice(at + 15, buffer.indexOf('"', at + 15))));
            }
          }
          start = end + 2;
        }
        buffer = buffer.slice(start);
      });
      response.on('close', () => closed++);
    });
    request.on('error', reject);
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
    process.stdout.write(`${JSON.stringify({ latenciesMs: latencies, events, closed })}\n`);
  }
  if (line.includes('exit')) process.exit(0);
});
