// The baseline for per-request cost: a bare node:http server on the same Node as taskctl, answering
// /ping and /watch-task/:id with the same status, headers and bytes as a taskctl server does when the id
// is already cancelled. Whatever taskctl spends beyond this is its own cost. Its second argument is its
// mode: "answer" (the above), "hold" (it never answers /watch-task/:id: the baseline for the memory a held
// watch takes), or "seed" (the seed protocol as bench/go-seed-server does it, a map of waiters per id that
// GET /cancel-task/:id answers: the baseline for the cancel-to-watcher tail on node:http).
import { createServer } from 'node:http';

const version = process.argv[2] ?? '0.0.0';
const mode = process.argv[3] ?? 'answer';
const pong = '{"message":"pong"}';
const cancelled = new Set();
const waiters = new Map();

function text(res, body) {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'taskctl-version': version });
  res.end(body);
}

function watch(id, res) {
  if (mode === 'hold') return;
  if (mode !== 'seed' || cancelled.has(id)) return text(res, 'true');
  const list = waiters.get(id) ?? [];
  waiters.set(id, list);
  list.push(res);
  res.on('close', () => {
    const left = waiters.get(id)?.filter((waiting) => waiting !== res);
    if (left?.length) waiters.set(id, left);
    else waiters.delete(id);
  });
}

function cancel(id, res) {
  cancelled.add(id);
  const list = waiters.get(id) ?? [];
  waiters.delete(id);
  for (const waiting of list) text(waiting, 'true');
  text(res, 'ok');
}

const server = createServer((req, res) => {
  if (req.url === '/ping') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': pong.length, 'taskctl-version': version });
    res.end(pong);
  } else if (req.url?.startsWith('/watch-task/')) {
    watch(req.url.slice('/watch-task/'.length), res);
  } else if (mode === 'seed' && req.url?.startsWith('/cancel-task/')) {
    cancel(req.url.slice('/cancel-task/'.length), res);
  } else {
    res.writeHead(404).end();
  }
});
server.keepAliveTimeout = 5_000;
server.maxConnections = Number(process.argv[4] ?? 100_000);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
