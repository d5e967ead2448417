import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A port nothing listens on: taken, then released. */
const deadPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function tokenCli(env: Record<string, string>) {
  try {
    await run(process.execPath, ['dist/src/local/token-cli.js'], { env: { ...process.env, ...env } });
    return { code: 0, stderr: '' };
  } catch (e) {
    return e as { code: number; stderr: string };
  }
}

describe('npm run local:token without a running instance', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'connections-token-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says "run npm start first" when the recorded instance is not running (not a certificate problem)', async () => {
    const port = await deadPort();
    writeFileSync(path.join(dir, 'instance.json'), JSON.stringify({ identityProviderUrl: `https://localhost:${port}` }));
    const { code, stderr } = await tokenCli({ CONNECTIONS_LOCAL_DIR: dir });
    expect(code).toBe(1);
    expect(stderr).toContain(`No local instance is running at https://localhost:${port}`);
    expect(stderr).toContain('run `npm start` first');
    expect(stderr).not.toMatch(/NODE_EXTRA_CA_CERTS/);
  });

  it('looks for the identity provider at PORT+1 when PORT is set', async () => {
    const port = await deadPort();
    const { code, stderr } = await tokenCli({ CONNECTIONS_LOCAL_DIR: dir, PORT: String(port - 1) });
    expect(code).toBe(1);
    expect(stderr).toContain(`https://localhost:${port} (PORT=${port - 1})`);
  });
});
