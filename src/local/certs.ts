import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';

/** Where local-only files live (certificates, Azurite data, the local vault). Never used in Azure. */
export const localDataDir = (): string => path.resolve(process.env.CONNECTIONS_LOCAL_DIR ?? '.local');

export interface LocalCertificate {
  caPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for `localhost`/127.0.0.1 so the local identity provider speaks HTTPS,
 * as MSAL requires. Generated once and kept under `.local/certs`; the same file is the CA to trust.
 */
export async function ensureLocalCertificate(dir = path.join(localDataDir(), 'certs')): Promise<LocalCertificate> {
  const caPath = path.join(dir, 'localhost-cert.pem');
  const keyPath = path.join(dir, 'localhost-key.pem');
  if (!existsSync(caPath) || !existsSync(keyPath)) {
    await mkdir(dir, { recursive: true });
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    await writeFile(keyPath, pems.private, { mode: 0o600 });
    await writeFile(caPath, pems.cert);
  }
  return { caPath, keyPath, cert: await readFile(caPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
}
