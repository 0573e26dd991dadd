// The metadata service's process (src/local/imds-server.ts, which runs on import) in process: loaded afresh
// for each command line, with the sockets it is handed (LISTEN_FDS, from local/listen.py) and the fixed
// addresses it binds (169.254.169.123:123, 127.0.0.1:53, [::1]:53) redirected to free loopback ports by
// stubbing net.Server#listen and dgram.Socket#bind for the load, so its servers answer real requests here and
// each request's record in the log can be compared.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_DNS_NAME } from "../../src/local/imds";
import { inst, query } from "../lib/imdsFixtures";
import { skipReason } from "../lib/skipReason";

const hasIpv6Loopback = Object.values(os.networkInterfaces()).some((l) => l?.some((a) => a.address === "::1"));

interface Loaded {
    /** Each listen() call: its first argument; each bind(): [type, port, address]. */
    listens: unknown[];
    binds: [string, unknown, unknown][];
    servers: net.Server[];
    sockets: dgram.Socket[];
    stdout: string;
    stderr: string;
    exit?: number;
}

let runs = 0;

/** Loads imds-server.ts with `args` and LISTEN_FDS `fds`; resolves once it printed "ready" (or exited). */
async function load(args: string[], fds: string | undefined): Promise<Loaded> {
    const r: Loaded = { listens: [], binds: [], servers: [], sockets: [], stdout: "", stderr: "" };
    const argv = process.argv;
    const env = process.env.LISTEN_FDS;
    const listen = net.Server.prototype.listen;
    const bind = dgram.Socket.prototype.bind;
    const write = process.stdout.write;
    const error = console.error;
    const exit = process.exit;
    class Exit extends Error {}
    net.Server.prototype.listen = function (this: net.Server, ...a: unknown[]) {
        r.listens.push(a[0]);
        r.servers.push(this);
        return (listen as (...x: unknown[]) => net.Server).call(this, 0, "127.0.0.1", a.find((x) => typeof x === "function"));
    } as typeof listen;
    dgram.Socket.prototype.bind = function (this: dgram.Socket, ...a: unknown[]) {
        const type = (this as unknown as { type: string }).type;
        r.binds.push([type, a[0], a[1]]);
        r.sockets.push(this);
        return (bind as (...x: unknown[]) => dgram.Socket).call(this, 0, type === "udp6" ? "::1" : "127.0.0.1", a.find((x) => typeof x === "function"));
    } as typeof bind;
    process.stdout.write = function (chunk: unknown, ...rest: unknown[]) {
        if (chunk === "ready\n") {
            r.stdout += chunk;
            return true;
        }
        return (write as (...x: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    } as typeof write;
    console.error = (...a: unknown[]) => void (r.stderr += a.join(" ") + "\n");
    process.exit = ((code?: number) => {
        r.exit = code;
        throw new Exit();
    }) as typeof process.exit;
    process.argv = [argv[0], "imds-server.ts", ...args];
    if (fds === undefined) delete process.env.LISTEN_FDS;
    else process.env.LISTEN_FDS = fds;
    try {
        if (!process.env.VITEST) {
            const req = createRequire(__filename);
            const file = req.resolve("../../src/local/imds-server");
            delete req.cache[file];
            req(file);
        } else {
            const spec = `../../src/local/imds-server?run=${runs++}`;
            await import(spec);
        }
    } catch (e) {
        if (!(e instanceof Exit)) throw e;
    } finally {
        process.argv = argv;
        if (env === undefined) delete process.env.LISTEN_FDS;
        else process.env.LISTEN_FDS = env;
        net.Server.prototype.listen = listen;
        dgram.Socket.prototype.bind = bind;
        console.error = error;
        process.exit = exit;
    }
    for (let i = 0; i < 200 && r.exit === undefined && r.stdout === ""; i++) await new Promise((res) => setTimeout(res, 10));
    process.stdout.write = write;
    return r;
}

function close(r: Loaded): void {
    for (const s of r.servers) s.close();
    for (const s of r.sockets) s.close();
}

async function udp(type: "udp4" | "udp6", port: number, message: Buffer): Promise<Buffer> {
    const c = dgram.createSocket(type);
    try {
        return await new Promise<Buffer>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no answer")), 2000);
            c.on("message", (m) => {
                clearTimeout(timer);
                resolve(m);
            });
            c.send(message, port, type === "udp6" ? "::1" : "127.0.0.1");
        });
    } finally {
        c.close();
    }
}

const USAGE = "usage: listen.py HOP_LIMIT ADDRESS PORT ... -- imds-server.ts INSTANCE.json REQUEST-LOG.jsonl\n";

describe("imds-server: the metadata service's process", { skip: skipReason(!hasIpv6Loopback, "needs ::1") }, () => {
    let tmp = "";
    let config = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-imds-server-"));
        config = path.join(tmp, "instance.json");
        fs.writeFileSync(config, JSON.stringify(inst));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("without the instance file, the log, or listening sockets: the usage, exit 2, nothing listening", async () => {
        const log = path.join(tmp, "none.jsonl");
        for (const [args, fds] of [[[], "1"], [[config], "1"], [[config, log], undefined], [[config, log], "0"], [[config, log], "x"]] as [string[], string | undefined][]) {
            const r = await load(args, fds);
            assert.equal(r.exit, 2, `${args.length} arguments, LISTEN_FDS ${fds}`);
            assert.equal(r.stderr, USAGE);
            assert.deepEqual([r.listens, r.binds, r.stdout], [[], [], ""]);
        }
    });

    it("serves HTTP on each inherited socket (fd 3 on), SNTP on 169.254.169.123:123, DNS on 127.0.0.1:53 and [::1]:53; 'ready' once all listen; each request logged", async () => {
        const log = path.join(tmp, "requests.jsonl");
        fs.writeFileSync(log, "");
        const r = await load([config, log], "2");
        try {
            assert.equal(r.exit, undefined);
            assert.equal(r.stdout, "ready\n");
            assert.deepEqual(r.listens, [{ fd: 3 }, { fd: 4 }]);
            assert.deepEqual(r.binds, [["udp4", 123, "169.254.169.123"], ["udp4", 53, "127.0.0.1"], ["udp6", 53, "::1"]]);
            const port = (i: number) => (r.servers[i].address() as net.AddressInfo).port;
            const put = await fetch(`http://127.0.0.1:${port(1)}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" } });
            const token = await put.text();
            const id = await fetch(`http://127.0.0.1:${port(0)}/latest/meta-data/instance-id`, { headers: { "X-aws-ec2-metadata-token": token } });
            assert.equal(await id.text(), inst.instanceId, "one service behind both sockets: the token is good on either");
            const ntpReq = Buffer.alloc(48);
            ntpReq[0] = (4 << 3) | 3;
            assert.equal((await udp("udp4", (r.sockets[0].address() as net.AddressInfo).port, ntpReq))[1], 1);
            await udp("udp4", (r.sockets[1].address() as net.AddressInfo).port, query(LOCAL_DNS_NAME, 1));
            await udp("udp6", (r.sockets[2].address() as net.AddressInfo).port, query("other.example", 28));
            assert.deepEqual(fs.readFileSync(log, "utf8").split("\n"), [
                JSON.stringify({ method: "PUT", path: "/latest/api/token", status: 200, token: false, endpoint: "127.0.0.1" }),
                JSON.stringify({ method: "GET", path: "/latest/meta-data/instance-id", status: 200, token: true, endpoint: "127.0.0.1" }),
                JSON.stringify({ method: "NTP", path: "", status: 0, token: false }),
                JSON.stringify({ method: "DNS", path: `${LOCAL_DNS_NAME} 1`, status: 0, token: false }),
                JSON.stringify({ method: "DNS", path: "other.example 28", status: 3, token: false }),
                "",
            ]);
        } finally {
            close(r);
        }
    });

    it("--no-time-server: no SNTP socket; 'ready' once the rest listen", async () => {
        const log = path.join(tmp, "requests2.jsonl");
        const r = await load([config, log, "--no-time-server"], "1");
        try {
            assert.equal(r.stdout, "ready\n");
            assert.deepEqual(r.listens, [{ fd: 3 }]);
            assert.deepEqual(r.binds, [["udp4", 53, "127.0.0.1"], ["udp6", 53, "::1"]]);
        } finally {
            close(r);
        }
        const other = await load([config, log, "--other"], "1");
        close(other);
        assert.deepEqual(other.binds.map((b) => b[1]), [123, 53, 53], "another third argument: the time server stays");
        assert.equal(other.stdout, "ready\n");
    });
});
