// Production build step (`npm run build`, which azd runs before it zips the `api` service): writes the deploy
// package to dist/package/, the folder azure.yaml names as `dist`. azd zips that folder as it is and uploads it
// with remoteBuild false, so the folder holds only what the Functions worker loads:
//   host.json      the host's configuration, copied unchanged
//   package.json   `main` only (no dependencies: nothing is installed on the platform)
//   index.js       functions/index.ts and every dependency it loads at import, in one CommonJS file
//   sdk/*.js       the Azure SDKs the app loads on first use (src/ requires them inside functions: MSAL, identity,
//                  Key Vault, Service Bus, Tables), one self-contained CommonJS file each
// Why the SDKs are separate files: a cold worker compiles all of index.js before its first answer, and compiling
// was most of the import (npm run bench, cold_import: V8's compile of the 2 MB single bundle took ~60 of ~100 ms).
// A function that never sends a message or refreshes a token never loads those SDKs at all. Each SDK file carries
// its own copy of the Azure core libraries it needs; nothing in src/ relies on `instanceof` across SDKs
// (src/adapters/tables.ts statusOf recognizes storage errors by name, as the SDK's isRestError does).
// The source maps (4x the bundle's zipped size) are not needed to run, so they stay out of the package, at
// dist/package-sourcemap/ (same relative layout, so their `sources` still resolve). Keep them with the build to map
// a minified stack trace from the logs back to the source.
// `@azure/functions-core` is provided by the Functions worker at runtime, so it stays external.
// test/deploy/package.test.ts builds this package the way azd does and loads it the way the worker does.
//
//   node scripts/bundle-functions.mjs [--out=<folder>]   (default dist/package; the bench builds into a temp folder)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
const out = outArg ? path.resolve(outArg) : path.join(root, 'dist', 'package');
const sourceMapDir = outArg ? `${out}-sourcemap` : path.join(root, 'dist', 'package-sourcemap');
const project = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The SDKs src/ loads on first use (a `require` inside a function, see each module's `loadSdk`). */
export const lazySdks = [
  '@azure/identity',
  '@azure/msal-node',
  '@azure/service-bus',
  '@azure/keyvault-secrets',
  '@azure/data-tables',
  'jose',
];
const sdkFile = (name) => `sdk/${name.replace(/^@/, '').replace('/', '-')}.js`;
/**
 * Modules of functions/ loaded on first use the same way (required inside a function by name): the Azure Monitor
 * export pipeline (functions/azure-telemetry.ts) with the exporter, OpenTelemetry SDK and identity it needs.
 */
export const lazyModules = { './azure-monitor-pipeline': 'functions/azure-monitor-pipeline.ts' };
const lazyModulePattern = new RegExp(
  `^(${Object.keys(lazyModules)
    .map((s) => s.replace(/[/.]/g, '\\$&'))
    .join('|')})$`,
);

// A stale file from an earlier build would be deployed too.
for (const dir of [out, sourceMapDir]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

const common = {
  bundle: true,
  write: false,
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
};

const sdkPattern = new RegExp(`^(${lazySdks.map((s) => s.replace(/[/.]/g, '\\$&')).join('|')})$`);
const results = [
  await build({
    ...common,
    entryPoints: [path.join(root, 'functions', 'index.ts')],
    outfile: path.join(out, 'index.js'),
    plugins: [
      {
        // zod's `z` namespace re-exports every locale (`z.locales`, 258 KB minified of a 690 KB bundle), which
        // esbuild cannot tree-shake through the namespace. The app never calls z.config(z.locales.xx()): its
        // messages are zod's English default, which zod loads from locales/en.js directly, not through this index.
        name: 'zod-english-only',
        setup(b) {
          b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
            /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)
              ? { path: 'zod-locales', namespace: 'zod-english-only' }
              : undefined,
          );
          b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
            contents: `export { default as en } from ${JSON.stringify(path.join(root, 'node_modules/zod/v4/locales/en.js'))};`,
            loader: 'js',
            resolveDir: root,
          }));
        },
      },
      {
        name: 'lazy-sdks',
        setup(b) {
          b.onResolve({ filter: sdkPattern }, (args) => ({ path: `./${sdkFile(args.path)}`, external: true }));
          b.onResolve({ filter: lazyModulePattern }, (args) => ({ path: `./sdk/${path.basename(args.path)}.js`, external: true }));
        },
      },
    ],
  }),
  ...(await Promise.all(
    lazySdks.map((name) =>
      build({
        ...common,
        stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, sourcefile: `${name}.js`, loader: 'js' },
        outfile: path.join(out, sdkFile(name)),
      }),
    ),
  )),
  ...(await Promise.all(
    Object.entries(lazyModules).map(([request, file]) =>
      build({
        ...common,
        entryPoints: [path.join(root, file)],
        outfile: path.join(out, 'sdk', `${path.basename(request)}.js`),
        // The SDKs above it uses (identity) are their files beside it, loaded once per process with the app's own use.
        plugins: [
          {
            name: 'lazy-sdks',
            setup: (b) =>
              b.onResolve({ filter: sdkPattern }, (args) => ({ path: `./${path.basename(sdkFile(args.path))}`, external: true })),
          },
        ],
      }),
    ),
  )),
];

for (const file of results.flatMap((r) => r.outputFiles)) {
  const target = file.path.endsWith('.map') ? path.join(sourceMapDir, path.relative(out, file.path)) : file.path;
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, file.contents);
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
