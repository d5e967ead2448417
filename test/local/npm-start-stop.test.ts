import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Whether something listens on `port` (IPv4 loopback or any address): a listen there fails. */
const inUse = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, () => server.close(() => resolve(false)));
  });

async function freePortPair(): Promise<number> {
  for (let port = 20_000 + Math.floor(Math.random() * 20_000); ; port += 2) {
    if (!(await inUse(port)) && !(await inUse(port + 1))) return port;
  }
}

const listening = (url: string) =>
  fetch(url).then(
    () => true,
    () => false,
  );

// `npm start` as a newcomer runs it, then stopped the way a process manager or `kill` stops it: SIGTERM to npm itself.
test('SIGTERM to the npm start process stops the whole local stack and frees its ports', async () => {
  const port = await freePortPair();
  const dir = mkdtempSync(path.join(tmpdir(), 'connections-start-'));
  const npm = spawn('npm', ['start'], {
    env: { ...process.env, PORT: String(port), CONNECTIONS_LOCAL_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a failing run can still clean up whatever npm left behind (finally below).
    detached: true,
  });
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      npm.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Press Ctrl+C')) resolve();
      });
      npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before it was ready: ${out.slice(-500)}`)));
    });
    const urls = [...out.matchAll(/(https?:\/\/(?:localhost|127\.0\.0\.1):\d+)/g)].map((m) => m[1]);
    expect(await inUse(port)).toBe(true);
    expect(await inUse(port + 1)).toBe(true);

    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    npm.kill('SIGTERM');
    await exited;
    // The stack's children stop after npm itself; give them a moment to close their sockets.
    for (let i = 0; i < 50 && ((await inUse(port)) || (await inUse(port + 1))); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await inUse(port)).toBe(false);
    expect(await inUse(port + 1)).toBe(false);
    for (const url of new Set(urls)) expect(`${url} ${(await listening(url)) ? 'still answers' : 'stopped'}`).toBe(`${url} stopped`);
  } finally {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // The group is gone: nothing was left behind.
    }
    npm.stdout.destroy();
    npm.stderr.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
