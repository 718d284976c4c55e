// node-echo.js -- the Node.js echo server that bench/compare.sh measures
// preforkd against: the cluster module forks WORKERS worker processes
// (default 2), each serving net.createServer() with socket.pipe(socket),
// the idiomatic Node echo (backpressure included), with TCP_NODELAY like
// the two C servers.  Node's default cluster scheduling applies: on Linux
// the primary accepts and hands connections round-robin to the workers.
//
//   PORT=7007 HOST=127.0.0.1 WORKERS=2 node bench/node-echo.js
//
// SIGTERM or SIGINT stops the workers, then the primary (exit 0).
'use strict';

const cluster = require('node:cluster');
const net = require('node:net');

const port = Number(process.env.PORT || 7007);
const host = process.env.HOST || '127.0.0.1';
const workers = Number(process.env.WORKERS || 2);

if (cluster.isPrimary) {
  let stopping = false;
  let exitStatus = 0;
  let alive = 0;
  let listening = 0;

  const stop = (status) => {
    if (stopping)
      return;
    stopping = true;
    exitStatus = status;
    if (alive === 0)
      process.exit(exitStatus);
    for (const id in cluster.workers)
      cluster.workers[id].process.kill('SIGTERM');
    // Never hang: whatever is left after 3 s is killed.
    setTimeout(() => {
      for (const id in cluster.workers)
        cluster.workers[id].process.kill('SIGKILL');
      process.exit(exitStatus);
    }, 3000).unref();
  };

  for (let i = 0; i < workers; i++) {
    cluster.fork();
    alive++;
  }
  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (!stopping) {
      console.error(`node-echo: worker ${worker.process.pid} exited ` +
        `(${signal || code}): stopping`);
      stop(1);
    }
    if (alive === 0)
      process.exit(exitStatus);
  });
  cluster.on('listening', () => {
    if (++listening === workers)
      console.error(`node-echo: ${workers} workers on ${host} port ${port}`);
  });
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
} else {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('error', (err) => {
    console.error(`node-echo: ${err.message}`);
    process.exit(1);
  });
  server.listen({ port, host, backlog: 511 });
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
