import path from 'node:path';
import { startChild } from './child-process';

export interface LocalAzurite {
  tablesEndpoint: string;
  /** Azurite's well-known development account: local only, refused by settings outside local mode. */
  connectionString: string;
  stop(): Promise<void>;
}

const devAccount = 'devstoreaccount1';
const devKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Starts Azurite (blob, queue, table) from the npm package on free ports. */
export async function startAzurite(options: { location?: string } = {}): Promise<LocalAzurite> {
  const entry = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
  const storage = options.location ? ['--location', options.location] : ['--inMemoryPersistence'];
  const args = [
    entry,
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
    ...storage,
  ];
  const running = await startChild(
    process.execPath,
    args,
    (line, seen) => {
      const m = /Azurite (Blob|Queue|Table) service is successfully listening at (\S+)/.exec(line);
      if (m) seen.set(m[1], m[2]);
      return seen.size === 3 ? (Object.fromEntries(seen) as Record<'Blob' | 'Queue' | 'Table', string>) : undefined;
    },
    { name: 'Azurite' },
  );
  const { Blob, Queue, Table } = running.ready;
  return {
    tablesEndpoint: `${Table}/${devAccount}`,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devAccount};AccountKey=${devKey};` +
      `BlobEndpoint=${Blob}/${devAccount};QueueEndpoint=${Queue}/${devAccount};TableEndpoint=${Table}/${devAccount};`,
    stop: running.stop,
  };
}
