// Runs a command with the local development CA trusted (NODE_EXTRA_CA_CERTS is read only at
// process start, so it has to be set before the command's process exists). Local/test use only.
import { spawn } from 'node:child_process';
import { ensureLocalCertificate } from '../dist/src/local/certs.js';

const [command, ...args] = process.argv.slice(2);
const { caPath } = await ensureLocalCertificate();
const child = spawn(command, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
