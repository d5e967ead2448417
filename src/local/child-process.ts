import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface RunningChild<T> {
  child: ChildProcess;
  ready: T;
  stop(): Promise<void>;
}

/**
 * Starts a local helper process and waits until `parseReady` recognises a line of its output.
 * stdin stays piped so that helpers written to exit when it closes die with their parent.
 */
export async function startChild<T>(
  command: string,
  args: string[],
  parseReady: (line: string, seen: Map<string, unknown>) => T | undefined,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; name: string },
): Promise<RunningChild<T>> {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const seen = new Map<string, unknown>();
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${options.name} did not start in time`)), options.timeoutMs ?? 20_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n${stderr.join('').slice(-2000)}`));
    };
    const onExit = (code: number | null) => fail(new Error(`${options.name} exited with code ${code}`));
    child.on('error', fail);
    child.on('exit', onExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const value = parseReady(line, seen);
      if (value !== undefined) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(value);
      }
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  return { child, ready, stop };
}
