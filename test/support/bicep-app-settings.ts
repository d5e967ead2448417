/**
 * The app settings infra/modules/function-app.bicep writes (`var appSettingValues = { ... }`), read as text: the
 * name of every setting, and the value where Bicep gives a string literal ('managedidentity', '15', ...).
 * Values Bicep computes (URLs, client ids, Key Vault references) come back as `undefined`; the caller supplies a
 * stand-in of the same shape, and must fail on a setting it has no value for, so a new setting is not missed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const functionAppBicep = path.resolve(__dirname, '..', '..', 'infra', 'modules', 'function-app.bicep');

export function bicepAppSettings(file = functionAppBicep): Map<string, string | undefined> {
  const text = readFileSync(file, 'utf8');
  const start = /^var appSettingValues\s*=\s*\{\s*$/m.exec(text);
  if (!start) throw new Error(`${file}: no "var appSettingValues = {" block`);
  const settings = new Map<string, string | undefined>();
  let depth = 1;
  for (const line of text.slice(start.index + start[0].length).split('\n')) {
    const code = line.replace(/\s\/\/.*$/, '').trim();
    if (depth === 1) {
      if (code === '}') return settings;
      const entry = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$/.exec(code);
      if (entry) {
        const literal = /^'((?:[^'\\$]|\\.)*)'$/.exec(entry[2]);
        settings.set(entry[1], literal ? literal[1] : undefined);
      }
    }
    depth += (code.match(/[{[]/g)?.length ?? 0) - (code.match(/[}\]]/g)?.length ?? 0);
  }
  throw new Error(`${file}: appSettingValues block is not closed`);
}
