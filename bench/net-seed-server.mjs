// The floor of the cancel-to-watcher tail on this Node: the seed protocol on bare node:net sockets, each
// request's line read by hand and every answer a fixed string, with no node:http at all. Not a server
// anyone should run (it reads no headers and trusts its client to send GETs without a body); it is what
// the bench measures to show how much of a tail is the server's and how much the machine's and the
// client's: whatever no server on this Node can get under.
import { createServer } from 'node:net';

const cancelled = new Set();
const waiters = new Map();
const answer = (body) => `HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
const TRUE = answer('true');
const OK = answer('ok');
const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';

function handle(socket, path) {
  if (path.startsWith('/watch-task/')) {
    const id = path.slice('/watch-task/'.length);
    if (cancelled.has(id)) return socket.write(TRUE);
    const list = waiters.get(id) ?? [];
    waiters.set(id, list);
    list.push(socket);
  } else if (path.startsWith('/cancel-task/')) {
    const id = path.slice('/cancel-task/'.length);
    cancelled.add(id);
    for (const waiting of waiters.get(id) ?? []) if (!waiting.destroyed) waiting.write(TRUE);
    waiters.delete(id);
    socket.write(OK);
  } else {
    socket.write(NOT_FOUND);
  }
}

const server = createServer((socket) => {
  let unread = '';
  socket.setNoDelay(true).setEncoding('latin1');
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    unread += chunk;
    for (let end = unread.indexOf('\r\n\r\n'); end !== -1; end = unread.indexOf('\r\n\r\n')) {
      handle(socket, unread.slice(0, unread.indexOf('\r\n')).split(' ')[1] ?? '');
      unread = unread.slice(end + 4);
    }
  });
});
server.maxConnections = Number(process.argv[2] ?? 100_000);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`));
process.on('SIGTERM', () => process.exit(0));
