// Production build step (`npm run build`, which azd runs before it zips the `api` service): writes the deploy
// package to dist/package/, the folder azure.yaml names as `dist`. azd zips that folder as it is and uploads it
// with remoteBuild false, so the folder holds only what the Functions worker loads:
//   host.json      the host's configuration, copied unchanged
//   package.json   `main` only (no dependencies: nothing is installed on the platform)
//   index.js       functions/index.ts and every dependency in one CommonJS file
// The source map (8.7 MB, 4x the bundle's zipped size) is not needed to run, so it stays out of the package, at
// dist/package-sourcemap/index.js.map (same depth, so its relative `sources` still resolve). Keep it with the
// build to map a minified stack trace from the logs back to the source.
// Measured by `npm run bench` (cold_import): about half the cold import time of the unbundled build.
// `@azure/functions-core` is provided by the Functions worker at runtime, so it stays external.
// test/deploy/package.test.ts builds this package the way azd does and loads it the way the worker does.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'package');
const sourceMapDir = path.join(root, 'dist', 'package-sourcemap');
const project = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

// A stale file from an earlier build would be deployed too.
for (const dir of [out, sourceMapDir]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

const bundle = path.join(out, 'index.js');
const result = await build({
  entryPoints: [path.join(root, 'functions', 'index.ts')],
  outfile: bundle,
  write: false,
  bundle: true,
  platform: 'node',
  // Flex Consumption runs Node 22 (Bicep's functionAppConfig.runtime.version). Node 22 syntax that Node 20
  // lacks is not emitted by esbuild for this code; the deploy test loads the bundle on the dev machine's Node 20.
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: 'external',
  legalComments: 'none',
  external: ['@azure/functions-core'],
  tsconfig: path.join(root, 'tsconfig.build.json'),
  logLevel: 'warning',
});

for (const file of result.outputFiles) {
  writeFileSync(file.path === bundle ? bundle : path.join(sourceMapDir, 'index.js.map'), file.contents);
}
copyFileSync(path.join(root, 'host.json'), path.join(out, 'host.json'));
const deployManifest = {
  name: project.name,
  version: project.version,
  private: true,
  description: `${project.description} (deploy package built by scripts/bundle-functions.mjs)`,
  main: 'index.js',
};
writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(deployManifest, null, 2)}\n`);
