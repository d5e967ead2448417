import { randomBytes } from 'node:crypto';
import { CONTOSO_ADMIN, type LocalUser } from '../../src/local/identity-provider/directory';
import { mintLocalToken } from '../../src/local/identity-provider/launch';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/local/stack';

export interface RecordedResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface TestStack extends LocalStack {
  /** Every log line the functions wrote. */
  logs: string[];
  /** Every response body the API returned, to search for leaked secrets. */
  responses: string[];
  tokenFor(user?: LocalUser, extra?: { roles?: string[]; audience?: string; expiresInSeconds?: number }): Promise<string>;
  api(path: string, init?: { method?: string; token?: string | null; body?: unknown; rawBody?: string }): Promise<RecordedResponse>;
  /** GET an absolute URL on the app (e.g. the callback), recorded like api(). */
  get(url: string): Promise<RecordedResponse>;
}

/** A full local stack with tables of its own, so test files can share nothing and run in parallel. */
export async function startTestStack(options: LocalStackOptions = {}): Promise<TestStack> {
  const logs: string[] = [];
  const responses: string[] = [];
  const stack = await startLocalStack({
    tablesPrefix: `t${randomBytes(4).toString('hex')}`,
    log: (level, name, message) => logs.push(`[${level}] ${name}: ${message}`),
    ...options,
  });
  const record = async (res: Response): Promise<RecordedResponse> => {
    const text = await res.text();
    responses.push(text);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const adminTokens = new Map<string, string>();
  const tokenFor: TestStack['tokenFor'] = async (user = CONTOSO_ADMIN, extra = {}) => {
    const key = JSON.stringify([user.username, extra]);
    let token = adminTokens.get(key);
    if (!token) {
      token = (await mintLocalToken(stack.identityProvider.url, { username: user.username, ...extra })).access_token;
      adminTokens.set(key, token);
    }
    return token;
  };
  return {
    ...stack,
    logs,
    responses,
    tokenFor,
    async api(path, init = {}) {
      const token = init.token === undefined ? await tokenFor() : init.token;
      const res = await fetch(`${stack.baseUrl}/api/${path.replace(/^\//, '')}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(init.body !== undefined || init.rawBody !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: init.rawBody ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
      });
      return record(res);
    },
    async get(url) {
      return record(await fetch(url, { redirect: 'manual' }));
    },
  };
}
