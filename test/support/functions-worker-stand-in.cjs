// A stand-in for the Azure Functions Node.js worker (v3.x), run as a child process so module state is clean:
//   node functions-worker-stand-in.cjs <package dir> <requests.json>
// It does what the worker does between the host and the app, after Azure/azure-functions-nodejs-worker (branch v3.x,
// commit 28763439, checked 2026-11-28):
// - src/setupCoreModule.ts: `require('@azure/functions-core')` is intercepted on Module.prototype.require and answered
//   with the worker's API object (version, hostVersion, registerHook, setProgrammingModel, getProgrammingModel, log,
//   registerFunction, Disposable). Nothing is put into the package folder or on NODE_PATH.
// - src/startApp.ts + src/loadScriptFile.ts: read package.json in the app folder, load `main` (require for CommonJS,
//   import() for ES modules), then run the appStart hooks.
// - src/coreApi/registerFunction.ts: a function id may be registered once; `rawBindings` (what the HOST reads) is
//   JSON.stringify({ ...binding, name }) of every binding.
// - src/eventHandlers/getWorkerCapabilities.ts: the worker's capabilities, passed through the programming model.
// - src/eventHandlers/InvocationHandler.ts: getInvocationModel(coreCtx) -> getArguments() -> preInvocation hooks ->
//   invokeFunction() -> postInvocation hooks -> getResponse().
// Globs in `main` are not supported here (the worker uses globby); the test's package does not use one.
// The result goes back to the parent over IPC.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');
const { performance } = require('node:perf_hooks');

const [appDir, requestsFile] = process.argv.slice(2);
const requests = requestsFile ? JSON.parse(fs.readFileSync(requestsFile, 'utf8')) : { invocations: [] };

const systemLogs = [];
const hooks = {};
const functions = {};
let programmingModel;
let indexingLocked = false;

class Disposable {
  constructor(callOnDispose) {
    this._callOnDispose = callOnDispose;
  }
  dispose() {
    this._callOnDispose?.();
    this._callOnDispose = undefined;
  }
}

const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1040.0.0',
  registerHook(hookName, callback) {
    (hooks[hookName] ??= []).push(callback);
    return new Disposable(() => hooks[hookName].splice(hooks[hookName].indexOf(callback), 1));
  },
  setProgrammingModel(model) {
    programmingModel = model;
  },
  getProgrammingModel: () => programmingModel,
  log(level, category, message) {
    systemLogs.push({ level, category, message });
  },
  registerFunction(metadata, callback) {
    if (indexingLocked) throw new Error('A function can only be registered during app startup.');
    const functionId = metadata.functionId || metadata.name;
    if (functionId in functions) throw new Error(`A function with id "${functionId}" has already been registered.`);
    const rawBindings = Object.entries(metadata.bindings).map(([name, binding]) => JSON.stringify({ ...binding, name }));
    functions[functionId] = { metadata: { ...metadata, functionId, rawBindings }, callback };
    return new Disposable(() => delete functions[functionId]);
  },
  Disposable,
};

Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === '@azure/functions-core' ? coreApi : Reflect.apply(target, thisArg, args);
  },
});

// What a response carries as bytes is sent back as text, so the parent can read it.
const serializable = (value) =>
  JSON.parse(
    JSON.stringify(value, (_key, v) => {
      if (v && typeof v === 'object' && (v.type === 'Buffer' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer)) {
        const bytes = v.type === 'Buffer' ? Buffer.from(v.data) : Buffer.from(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength);
        return { utf8: bytes.toString('utf8') };
      }
      return v;
    }),
  );

async function runHooks(name, context) {
  for (const hook of hooks[name] ?? []) await hook(context);
}

async function loadApp() {
  const packageJson = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'));
  if (typeof packageJson.main !== 'string') throw new Error('package.json has no "main"');
  const entryPoint = path.join(appDir, packageJson.main);
  if (!fs.existsSync(entryPoint)) throw new Error(`Worker was unable to load entry point "${packageJson.main}": File does not exist`);
  const esm = entryPoint.endsWith('.mjs') || (!entryPoint.endsWith('.cjs') && packageJson.type === 'module');
  if (esm) await import(pathToFileURL(entryPoint).href);
  else require(entryPoint);
  await runHooks('appStart', { hookData: {}, appHookData: {}, functionAppDirectory: appDir });
}

async function invoke(request) {
  const registered = functions[request.functionName];
  if (!registered) return { functionName: request.functionName, error: `Function code for '${request.functionName}' is not loaded` };
  const { metadata } = registered;
  let callback = registered.callback;
  const trigger = Object.entries(metadata.bindings).find(([, b]) => b.direction === 'in' && /trigger$/i.test(b.type));
  const invocationId = request.invocationId;
  const logs = [];
  const coreCtx = {
    invocationId,
    request: {
      invocationId,
      functionId: metadata.functionId,
      inputData: [{ name: trigger[0], data: request.triggerData }],
      triggerMetadata: request.triggerMetadata ?? {},
      traceContext: { traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', traceState: '', attributes: {} },
      retryContext: null,
    },
    metadata,
    state: undefined,
    log(level, category, message) {
      logs.push({ level, category, message });
    },
  };
  const model = await programmingModel.getInvocationModel(coreCtx);
  let { context, inputs } = await model.getArguments();
  const pre = { hookData: {}, appHookData: {}, invocationContext: context, inputs, functionCallback: callback };
  coreCtx.state = 'preInvocationHooks';
  await runHooks('preInvocation', pre);
  coreCtx.state = undefined;
  inputs = pre.inputs;
  callback = pre.functionCallback;
  const post = { hookData: pre.hookData, appHookData: {}, invocationContext: context, inputs, result: null, error: null };
  coreCtx.state = 'invocation';
  try {
    post.result = await model.invokeFunction(context, inputs, callback);
  } catch (e) {
    post.error = e;
  } finally {
    coreCtx.state = undefined;
  }
  coreCtx.state = 'postInvocationHooks';
  await runHooks('postInvocation', post);
  coreCtx.state = undefined;
  if (post.error) return { functionName: request.functionName, logs, error: String(post.error?.stack ?? post.error) };
  const response = await model.getResponse(context, post.result);
  return { functionName: request.functionName, logs, response: serializable(response) };
}

async function main() {
  const result = { nodeVersion: process.versions.node, systemLogs, functions: [], invocations: [] };
  try {
    // How long loading the app's `main` took with the worker's core module present (npm run bench, cold_import).
    const started = performance.now();
    await loadApp();
    result.loadMs = performance.now() - started;
  } catch (e) {
    result.loadError = String(e?.stack ?? e);
    return result;
  }
  indexingLocked = true; // the host's FunctionsMetadataRequest: registrations end here
  result.programmingModel = programmingModel && { name: programmingModel.name, version: programmingModel.version };
  result.capabilities = programmingModel?.getCapabilities
    ? await programmingModel.getCapabilities({
        RawHttpBodyBytes: 'true',
        RpcHttpBodyOnly: 'true',
        UseNullableValueDictionaryForHttp: 'true',
        TypedDataCollection: 'true',
      })
    : undefined;
  result.hooks = Object.fromEntries(Object.entries(hooks).map(([name, list]) => [name, list.length]));
  result.functions = Object.values(functions).map(({ metadata }) => ({
    name: metadata.name,
    functionId: metadata.functionId,
    rawBindings: metadata.rawBindings,
  }));
  for (const request of requests.invocations) result.invocations.push(await invoke(request));
  return result;
}

main().then(
  (result) => process.send(result, () => process.exit(0)),
  (e) => process.send({ fatal: String(e?.stack ?? e) }, () => process.exit(1)),
);
