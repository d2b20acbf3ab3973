// node:http for the bundle, taken with process.getBuiltinModule() instead of an ES module import. Importing
// node:http as an ES module builds a facade that reads every export, and reading WebSocket, EventSource
// and friends loads undici: ~50 ms of start-up for every command that talks HTTP, for classes it never
// uses. build.mjs points every import of node:http here; a name not listed below fails the build.
const http = process.getBuiltinModule('node:http');
export default http;
export const {
  Agent,
  ClientRequest,
  IncomingMessage,
  METHODS,
  OutgoingMessage,
  STATUS_CODES,
  Server,
  ServerResponse,
  createServer,
  get,
  globalAgent,
  maxHeaderSize,
  request,
  validateHeaderName,
  validateHeaderValue,
} = http;
