/**
 * The drift test reads what Azure Resource Manager receives: infra/main.bicep compiled to an ARM template by the
 * real Bicep compiler (scripts/bicep.mjs, pinned in infra/tools/bicep.csproj). Modules are nested deployments with
 * their template inline; values are JSON literals or ARM expressions ("[parameters('x')]") exactly as the compiler
 * writes them, so assertions on expressions compare the compiler's canonical form, not hand-written Bicep.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
const bicepScript = path.join(repoRoot, 'scripts', 'bicep.mjs');

export function readRepoFile(relativePath: string): string {
  return readFileSync(path.join(repoRoot, relativePath), 'utf8');
}

export interface ArmParameter {
  type: string;
  defaultValue?: unknown;
  metadata?: { description?: string };
}

export interface ArmOutput {
  type: string;
  value: unknown;
  metadata?: { description?: string };
}

export interface ArmResource {
  type: string;
  apiVersion?: string;
  name: string;
  scope?: string;
  kind?: string;
  tags?: unknown;
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  copy?: { name: string; count: string };
  // Shapes differ per resource type; tests index into them and compare with expected values.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  properties?: any;
}

export interface ArmTemplate {
  parameters?: Record<string, ArmParameter>;
  variables?: Record<string, unknown>;
  resources: ArmResource[] | Record<string, ArmResource>;
  outputs?: Record<string, ArmOutput>;
}

/** One `module` of main.bicep: a nested deployment named like its file in infra/modules/. */
export interface ArmModule {
  name: string;
  file: string;
  /** The values main.bicep passes, as `{ value: ... }` per parameter. */
  parameters: Record<string, { value: unknown }>;
  template: ArmTemplate;
}

function bicep(args: string[]): string {
  // The script restores the compiler on first use; its own error says what is missing.
  return execFileSync(process.execPath, [bicepScript, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

let compiled: ArmTemplate | undefined;

/** infra/main.bicep as the ARM template `bicep build` makes of it (compiled once per test file). */
export function compileMain(): ArmTemplate {
  compiled ??= JSON.parse(bicep(['build', 'infra/main.bicep', '--stdout'])) as ArmTemplate;
  return compiled;
}

/** `node scripts/bicep.mjs check`: compile plus lint with warnings as failures. */
export function checkBicep(): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [bicepScript, 'check'], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export function resourcesOf(template: ArmTemplate): ArmResource[] {
  return Array.isArray(template.resources) ? template.resources : Object.values(template.resources);
}

export function modulesOf(main: ArmTemplate): ArmModule[] {
  return resourcesOf(main)
    .filter((r) => r.type === 'Microsoft.Resources/deployments')
    .map((r) => ({
      name: r.name,
      file: `infra/modules/${r.name}.bicep`,
      parameters: r.properties?.parameters ?? {},
      template: r.properties?.template as ArmTemplate,
    }));
}

export function moduleNamed(main: ArmTemplate, name: string): ArmModule {
  const found = modulesOf(main).find((m) => m.name === name);
  if (!found) throw new Error(`main.bicep has no module deployment named '${name}'`);
  return found;
}

/** The single resource of `type` in a template, or a failure naming the module. */
export function onlyResource(module: ArmModule, type: string): ArmResource {
  const found = resourcesOf(module.template).filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`${module.file}: expected one ${type}, found ${found.length}`);
  return found[0];
}

/** The ARM expression an `[...]` string holds (without the brackets), or undefined for a plain literal. */
export function expressionOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('[') || value.startsWith('[[') || !value.endsWith(']')) return undefined;
  return value.slice(1, -1);
}

/** Regex source matching the ARM expression for the id of a resource of `type` named by `parameters('param')`. */
export function resourceIdPattern(type: string, param: string): string {
  return `resourceId\\('${type.replace(/[./]/g, (c) => `\\${c}`)}', parameters\\('${param}'\\)\\)`;
}

/** Regex source for `reference(resourceId(type, parameters(param)), 'apiVersion')`. */
export function referencePattern(type: string, param: string): string {
  return `reference\\(${resourceIdPattern(type, param)}, '[\\w.-]+'\\)`;
}
