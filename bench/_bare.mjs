import { createServer } from 'node:http';
const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' }); res.end('hello'); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
