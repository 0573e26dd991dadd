// The entry of the Vitest worker thread that test/mutation/mutant-runner.mjs keeps between mutant runs: Vitest's
// own thread entry (vitest dist/workers/threads.js), with two changes. First: when a run's worker is stopped, Vitest's
// thread runtime tears the run down (environment, RPC) and then removes every "message" listener of the thread
// (vitest chunks/init-threads.js `teardown: () => parentPort.removeAllListeners("message")`, called by
// chunks/init.js `init` on "stop"), including the one that would answer the next "start". Here that one, the
// first listener registered (init registers it before anything else: `worker.on(onMessage)`), is kept; the
// run's RPC listeners are removed as before. The next "start" then sets the runtime up again in the same thread,
// as Vitest does for a new thread, and the packages Node has already loaded (@pulumi/pulumi, @pulumi/aws) stay.
// Second: a stopped run can no longer report anything (detachFinishedRun below).
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";

if (!parentPort) throw new Error("test/mutation/kept-thread-entry.mjs: not in a worker thread");
const port = parentPort;
// A MessagePort has no listeners(): the "message" listeners added through on() are tracked here.
const added = new Set();
let runtimeListener;
const on = port.on.bind(port);
const off = port.off.bind(port);
port.on = function (event, listener) {
    if (event === "message" && runtimeListener === undefined) {
        runtimeListener = async (message) => {
            await listener(message);
            if (message?.__vitest_worker_request__ === true && message.type === "stop") detachFinishedRun();
        };
        added.add(runtimeListener);
        return on(event, runtimeListener);
    }
    if (event === "message") added.add(listener);
    return on(event, listener);
};
port.off = function (event, listener) {
    if (event === "message") added.delete(listener);
    return off(event, listener);
};
const removeAll = port.removeAllListeners.bind(port);
port.removeAllListeners = function (event) {
    if (event !== "message") return removeAll(event);
    for (const l of added) if (l !== runtimeListener) port.off("message", l);
    return port;
};

/**
 * After a run is stopped, what it left running (a timer, a promise a failed test no longer awaits) can still log
 * or throw. Vitest sends that through the run's worker state (`globalThis.__vitest_worker__`, vitest
 * chunks/utils.js getSafeWorkerState; console chunk sendLog, chunks/init.js listenForErrors) until the next run
 * provides its own (chunks/base.js runBaseTests). The stopped run's RPC no longer has a listener here or in the
 * main process, so such a call would never settle, and the next run's `rpcDone()` (chunks/rpc.js: every pending
 * call) would wait for it forever. So the stopped run's state gets an RPC that drops every call: what a finished
 * run does afterwards is not reported, as with a thread Vitest would have terminated.
 */
function detachFinishedRun() {
    const key = "__vitest_worker__";
    const state = globalThis[key];
    if (!state) return;
    const drop = Object.assign(async () => undefined, { asEvent: async () => undefined });
    const rpc = new Proxy({}, { get: (_, k) => (k === "then" ? undefined : drop) });
    Object.defineProperty(globalThis, key, { value: { ...state, rpc }, configurable: true, writable: true, enumerable: false });
}

const vitestDir = path.dirname(createRequire(import.meta.url).resolve("vitest/package.json"));
await import(pathToFileURL(path.join(vitestDir, "dist/workers/threads.js")).href);
