/**
 * Builds the `api` service's deploy package the way `azd package` / `azd deploy` / `azd up` does, from the source
 * of Azure/azure-dev (commit ae35809f, 2026-08-21; files under cli/azd/pkg/):
 * 1. project/framework_service_node.go Restore: `npm install --no-audit --no-fund --prefer-offline`, skipped when
 *    node_modules/.package-lock.json is newer than package-lock.json (tools/node/detect.go IsDependenciesUpToDate).
 *    Here the worktree's `npm ci` stands for it: the test machine installs nothing.
 * 2. framework_service_node.go Package: `npm run build --if-present` in the service folder, ON THE DEPLOYING
 *    MACHINE, whatever `remoteBuild` says. The package folder is the service folder, or `<service>/<dist>` when
 *    azure.yaml sets `dist`; azd refuses an empty one.
 * 3. project/service_target_functionapp.go Package -> project_utils.go createDeployableZip: zips that folder,
 *    filtered by `<package folder>/.funcignore` (see funcignore.ts); always leaves out `.azure` folders, the
 *    `.funcignore` file and `local.settings.json`; WITHOUT a .funcignore it leaves out `node_modules` folders
 *    unless `remoteBuild: false` is set explicitly. Symlinks are followed.
 * 4. service_target_functionapp.go resolveFunctionAppRemoteBuild (Flex Consumption): reads `<service>/.funcignore`;
 *    `remoteBuild: true` requires it to exclude node_modules, `remoteBuild: false` requires it NOT to (both are
 *    errors otherwise); unset means "remote build if it excludes node_modules" (true without a .funcignore).
 * 5. With remote build, the platform installs and builds the uploaded zip: `npm install`, then `npm run build`.
 *    Simulated in the unpacked folder with the worktree's node_modules linked in (what `npm install` would put there;
 *    this machine cannot download) and the same `npm run build`.
 * The result is the folder the Functions worker gets on an instance, plus its size.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { parseFuncIgnore, type FuncIgnore } from './funcignore';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load(text: string): unknown };

export interface AzdFunctionService {
  project: string;
  language: string;
  host: string;
  remoteBuild?: boolean;
  dist?: string;
}

export interface AzdPackage {
  /** The unpacked zip (after the remote build, if there is one): the folder the worker loads. */
  dir: string;
  /** Files in the zip azd uploads, relative paths with `/`. */
  files: string[];
  /** Uncompressed bytes of those files. */
  bytes: number;
  /** Their deflated bytes (what the zip's entries hold; headers add about 100 bytes per file). */
  deflatedBytes: number;
  remoteBuild: boolean;
  /** What ran, in order, for the report. */
  steps: string[];
}

export class AzdPackageError extends Error {
  constructor(
    message: string,
    readonly steps: string[],
  ) {
    super(message);
    this.name = 'AzdPackageError';
  }
}

export function readAzdService(projectRoot: string, serviceName: string): AzdFunctionService {
  const config = yaml.load(readFileSync(path.join(projectRoot, 'azure.yaml'), 'utf8')) as { services?: Record<string, AzdFunctionService> };
  const service = config.services?.[serviceName];
  if (!service) throw new Error(`azure.yaml has no service "${serviceName}"`);
  return service;
}

export function packageAsAzd(projectRoot: string, serviceName: string, options: { workDir?: string } = {}): AzdPackage {
  const steps: string[] = [];
  const service = readAzdService(projectRoot, serviceName);
  if (service.host !== 'function' || !['js', 'ts'].includes(service.language)) {
    throw new Error(`service "${serviceName}" is not a JavaScript/TypeScript function service`);
  }
  const serviceDir = path.resolve(projectRoot, service.project);

  steps.push('npm run build --if-present');
  run('npm', ['run', 'build', '--if-present'], serviceDir, steps);

  const packageDir = service.dist ? path.join(serviceDir, service.dist) : serviceDir;
  if (!existsSync(packageDir) || readdirSync(packageDir).length === 0) {
    throw new AzdPackageError(`package source '${packageDir}' is empty or does not exist`, steps);
  }

  const remoteBuild = resolveRemoteBuild(serviceDir, service, steps);

  const target = mkdtempSync(path.join(options.workDir ?? os.tmpdir(), 'azd-package-'));
  const ignoreFile = path.join(packageDir, '.funcignore');
  const ignore = existsSync(ignoreFile) ? parseFuncIgnore(readFileSync(ignoreFile, 'utf8')) : undefined;
  const files: string[] = [];
  copyFiltered(packageDir, packageDir, target, { ignore, remoteBuild: service.remoteBuild }, files);
  steps.push(
    `zip ${path.relative(projectRoot, packageDir) || '.'} (${files.length} files${ignore ? ', filtered by its .funcignore' : ''})`,
  );
  let bytes = 0;
  let deflatedBytes = 0;
  for (const f of files) {
    const content = readFileSync(path.join(target, f));
    bytes += content.length;
    deflatedBytes += deflateRawSync(content).length;
  }

  if (remoteBuild) {
    // Flex Consumption's remote build on the uploaded zip.
    steps.push('remote: npm install (simulated: the worktree node_modules linked in)');
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(target, 'node_modules'), 'dir');
    steps.push('remote: npm run build');
    run('npm', ['run', 'build'], target, steps);
  }
  return { dir: target, files: files.sort(), bytes, deflatedBytes, remoteBuild, steps };
}

function resolveRemoteBuild(serviceDir: string, service: AzdFunctionService, steps: string[]): boolean {
  const ignoreFile = path.join(serviceDir, '.funcignore');
  if (!existsSync(ignoreFile)) return service.remoteBuild ?? true;
  const nodeModulesExcluded = parseFuncIgnore(readFileSync(ignoreFile, 'utf8')).ignores('node_modules', true);
  if (service.remoteBuild === undefined) return nodeModulesExcluded;
  if (service.remoteBuild && !nodeModulesExcluded) {
    throw new AzdPackageError("'remoteBuild: true' requires '.funcignore' to exclude node_modules", steps);
  }
  if (!service.remoteBuild && nodeModulesExcluded) {
    throw new AzdPackageError("'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules", steps);
  }
  return service.remoteBuild;
}

function copyFiltered(
  root: string,
  dir: string,
  target: string,
  rules: { ignore?: FuncIgnore; remoteBuild?: boolean },
  files: string[],
): void {
  for (const entry of readdirSync(dir)) {
    const source = path.join(dir, entry);
    const relative = path.relative(root, source).split(path.sep).join('/');
    const isDir = (lstatSync(source).isSymbolicLink() ? statSync(source) : lstatSync(source)).isDirectory();
    if (entry === '.azure' && isDir) continue;
    if ((entry === '.funcignore' || entry === 'local.settings.json') && !isDir) continue;
    if (rules.ignore) {
      if (rules.ignore.ignores(relative, isDir)) continue;
    } else if (entry === 'node_modules' && isDir && rules.remoteBuild !== false) {
      continue;
    }
    const destination = path.join(target, relative);
    if (isDir) {
      mkdirSync(destination, { recursive: true });
      copyFiltered(root, source, target, rules, files);
    } else {
      cpSync(source, destination, { dereference: true });
      files.push(relative);
    }
  }
}

function run(command: string, args: string[], cwd: string, steps: string[]): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: process.env, timeout: 180_000 });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new AzdPackageError(`\`${command} ${args.join(' ')}\` failed in ${cwd} (exit ${result.status}):\n${output}`, steps);
  }
}
