/**
 * Production code authenticates to Azure as the app's user-assigned identity only: ManagedIdentityCredential with
 * AZURE_CLIENT_ID (src/app-context.ts), never DefaultAzureCredential, which would try environment, workload identity and
 * developer credentials first (a stray AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE would silently win). The
 * operator's own command (npm run tenant) runs on an operator's machine with `az login`, where it belongs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const operatorTools = new Set(['src/tenants/tenant-cli.ts']);

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) return rel === 'src/local' || rel === 'src/portal' ? [] : sources(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

test('no production module creates a DefaultAzureCredential', () => {
  const offenders = [...sources('src'), ...sources('functions')]
    .filter((file) => !operatorTools.has(file))
    .filter((file) => {
      const code = readFileSync(path.join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      return /\bDefaultAzureCredential\b/.test(code);
    });
  expect(offenders).toEqual([]);
});
