#!/usr/bin/env node
// The real Bicep compiler for infra/, pinned in infra/tools/bicep.csproj and obtained through NuGet.
//
//   node scripts/bicep.mjs path            prints the compiler's path (restores the package first if needed)
//   node scripts/bicep.mjs check           compiles infra/main.bicep and lints every infra/**/*.bicep;
//                                          any warning fails, as an error does
//   node scripts/bicep.mjs <bicep args>    runs the compiler, e.g. `build infra/main.bicep --stdout`
//
// The package `Azure.Bicep.CommandLine.linux-x64` carries the native `bicep` binary in tools/. `dotnet restore`
// of the tiny tools project puts it in NuGet's global packages folder (NUGET_PACKAGES or ~/.nuget/packages),
// shared by every clone, so only the first run downloads it (about 110 MB, 2-3 s here).
// BICEP_PATH overrides all of this, e.g. with the compiler `az bicep install` puts in ~/.azure/bin/bicep on
// machines that are not Linux x64.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const toolsProject = path.join(repoRoot, 'infra', 'tools', 'bicep.csproj');
const packageId = 'Azure.Bicep.CommandLine.linux-x64';

class BicepUnavailable extends Error {}

function pinnedVersion() {
  const project = readFileSync(toolsProject, 'utf8');
  const m = new RegExp(`Include="${packageId.replace(/\./g, '\\.')}"\\s+Version="\\[([^\\]]+)\\]"`).exec(project);
  if (!m) throw new Error(`${path.relative(repoRoot, toolsProject)} does not pin ${packageId} with Version="[x.y.z]"`);
  return m[1];
}

function restore(packagesFolder) {
  // Restore's intermediate files go to a temporary folder, so the work tree stays clean.
  const scratch = mkdtempSync(path.join(tmpdir(), 'bicep-restore-'));
  try {
    const r = spawnSync(
      'dotnet',
      ['restore', toolsProject, '--packages', packagesFolder, `-p:MSBuildProjectExtensionsPath=${scratch}${path.sep}`, '--nologo'],
      { encoding: 'utf8' },
    );
    if (r.error && r.error.code === 'ENOENT') {
      throw new BicepUnavailable(
        'The Bicep compiler comes from NuGet through `dotnet restore`, and dotnet is not on PATH. ' +
          'Install the .NET SDK, or set BICEP_PATH to a Bicep CLI (`az bicep install` puts one in ~/.azure/bin/bicep).',
      );
    }
    if (r.status !== 0) {
      throw new BicepUnavailable(`dotnet restore of ${path.relative(repoRoot, toolsProject)} failed:\n${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Path of the pinned compiler, restoring its package first when it is not in the packages folder yet. */
export function bicepPath() {
  const override = process.env.BICEP_PATH;
  if (override) {
    if (!existsSync(override)) throw new BicepUnavailable(`BICEP_PATH=${override} does not exist`);
    return override;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new BicepUnavailable(
      `${packageId} only runs on Linux x64; on ${process.platform}-${process.arch} set BICEP_PATH to a Bicep CLI ` +
        '(`az bicep install` puts one in ~/.azure/bin/bicep).',
    );
  }
  const packagesFolder = process.env.NUGET_PACKAGES || path.join(homedir(), '.nuget', 'packages');
  const binary = path.join(packagesFolder, packageId.toLowerCase(), pinnedVersion(), 'tools', 'bicep');
  if (!existsSync(binary)) restore(packagesFolder);
  if (!existsSync(binary)) throw new BicepUnavailable(`restored ${packageId} but ${binary} is missing`);
  // NuGet extracts files with the mode the package was made with; make sure the binary can run.
  if ((statSync(binary).mode & 0o100) === 0) chmodSync(binary, 0o755);
  return binary;
}

function bicepFiles(dir = path.join(repoRoot, 'infra')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return bicepFiles(full);
    return e.name.endsWith('.bicep') ? [full] : [];
  });
}

/** `file(line,col) : Warning rule-id: message` lines the compiler prints to stderr. */
const diagnosticLine = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/;

/** Compiles main.bicep and lints every .bicep file; returns the failures (warnings count as failures). */
function check(bicep) {
  const problems = [];
  const build = spawnSync(bicep, ['build', path.join(repoRoot, 'infra', 'main.bicep'), '--stdout'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (build.status !== 0) problems.push(`bicep build infra/main.bicep exited ${build.status}:\n${build.stderr}`);
  else JSON.parse(build.stdout); // an ARM template, or this throws

  const files = bicepFiles();
  // One lint run per pattern is one compiler start (about 1.5 s) for all files.
  const lint = spawnSync(bicep, ['lint', '--pattern', 'infra/**/*.bicep'], { cwd: repoRoot, encoding: 'utf8' });
  // A module's diagnostics come once for the module and once through main.bicep: report each once.
  const diagnostics = [
    ...new Set(
      `${lint.stdout}\n${lint.stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => diagnosticLine.test(l) && diagnosticLine.exec(l)[4] !== 'Info'),
    ),
  ];
  problems.push(...diagnostics);
  if (lint.status !== 0 && diagnostics.length === 0) problems.push(`bicep lint exited ${lint.status}:\n${lint.stderr}`);
  return { problems, files: files.length };
}

function main(argv) {
  let bicep;
  try {
    bicep = bicepPath();
  } catch (e) {
    if (!(e instanceof BicepUnavailable)) throw e;
    console.error(`bicep: ${e.message}`);
    return 2;
  }
  if (argv[0] === 'path') {
    console.log(bicep);
    return 0;
  }
  if (argv[0] === 'check') {
    const { problems, files } = check(bicep);
    if (problems.length > 0) {
      console.error(`Bicep check failed (warnings are errors here):\n${problems.join('\n')}`);
      return 1;
    }
    console.log(`Bicep: infra/main.bicep compiles; ${files} files lint clean.`);
    return 0;
  }
  const r = spawnSync(bicep, argv, { stdio: 'inherit' });
  return r.status ?? 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
