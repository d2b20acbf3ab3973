// The baseline for per-request cost: a bare node:http server on the same Node as taskctl, answering
// /ping and /watch-task/:id with the same status, headers and bytes as a taskctl server does when the id
// is already cancelled. Whatever taskctl spends beyond this is its own cost. With "hold" as its second
// argument it never answers /watch-task/:id, the baseline for the memory a held watch takes.
import { createServer } from 'node:http';

const version = process.argv[2] ?? '0.0.0';
const hold = process.argv[3] === 'hold';
const pong = '{"message":"pong"}';
const server = createServer((req, res) => {
  if (req.url === '/ping') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': pong.length, 'taskctl-version': version });
    res.end(pong);
  } else if (req.url?.startsWith('/watch-task/')) {
    if (hold) return;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 4, 'taskctl-version': version });
    res.end('true');
  } else {
    res.writeHead(404).end();
  }
});
server.keepAliveTimeout = 5_000;
server.maxConnections = Number(process.argv[4] ?? 100_000);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
