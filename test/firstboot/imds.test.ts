// The metadata service as the VMs get it: hop limit 1 on the token response, the IPv6 endpoint, the test DNS
// server in the namespace (the service's answers themselves: test/unit/imds.test.ts). They are checked (src/local/vm.ts: its own
// network namespace, local/listen.py, src/local/imds-server.ts), read off the wire by hop-probe.py.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_DNS_ADDRESS, LOCAL_DNS_NAME } from "../../src/local/imds";
import { inst, query } from "../lib/imdsFixtures";
import { IMDS_IPV4, IMDS_IPV6, Vm } from "../../src/local/vm";
import { Bus, Firmware } from "../../src/local/qemu";
import { skipUnlessCapable } from "../image/testImage";

/** Runs hop-probe.py inside the namespace: the status, the body and the TTLs of the server's packets. */
function probe(netns: string, method: string, url: string, headers: string[]): { status: number; body: string; ttls: number[] } {
    const r = spawnSync("ip", ["netns", "exec", netns, "python3", path.join(__dirname, "hop-probe.py"), method, url, ...headers], { encoding: "utf8" });
    assert.equal(r.status, 0, `hop-probe.py ${method} ${url}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { status: number; body: string; ttls: number[] };
}

describe("the metadata service as the VMs get it (network namespace, both endpoints)", { skip: skipUnlessCapable() }, () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-imds-"));
    const vm = new Vm({
        name: "imds",
        firmware: Firmware.Uefi,
        bus: Bus.Nvme,
        disk: path.join(work, "unused.qcow2"),
        instance: inst,
        net: "10.0.2.0/24",
        serialLog: path.join(work, "serial.log"),
        requestLog: path.join(work, "requests.jsonl"),
    });
    before(() => vm.setUp());
    after(async () => {
        await vm.tearDown();
        fs.rmSync(work, { recursive: true, force: true });
    });
    const ttl = ["X-aws-ec2-metadata-token-ttl-seconds: 21600"];

    // HttpPutResponseHopLimit: "The desired HTTP PUT response hop limit for instance metadata requests. […]
    // Default: 1" (EC2 API Reference, InstanceMetadataOptionsRequest). The IPv4 and IPv6 endpoints:
    // 169.254.169.254 and [fd00:ec2::254] (EC2 User Guide, configuring-instance-metadata-options).
    for (const [endpoint, host] of [[IMDS_IPV4, IMDS_IPV4], [IMDS_IPV6, `[${IMDS_IPV6}]`]]) {
        it(`${endpoint}: the token PUT's response leaves with hop limit 1; the token reads metadata there`, () => {
            const put = probe(vm.netns, "PUT", `http://${host}/latest/api/token`, ttl);
            assert.equal(put.status, 200);
            assert.ok(put.ttls.length >= 2, `captured the server's packets: ${JSON.stringify(put.ttls)}`);
            assert.deepEqual([...new Set(put.ttls)], [1], `every packet of the token response has TTL / hop limit 1: ${JSON.stringify(put.ttls)}`);
            const get = probe(vm.netns, "GET", `http://${host}/latest/meta-data/instance-id`, [`X-aws-ec2-metadata-token: ${put.body}`]);
            assert.equal(get.status, 200);
            assert.equal(get.body, inst.instanceId);
            const xff = probe(vm.netns, "PUT", `http://${host}/latest/api/token`, [...ttl, "X-Forwarded-For: 203.0.113.7"]);
            assert.equal(xff.status, 403);
        });
    }

    // Where QEMU's user-networking DNS forwards (vm.ts): the namespace's resolv.conf names 127.0.0.1.
    it("the namespace's resolv.conf names the test DNS server, which answers there (IPv4 and IPv6 loopback)", () => {
        const dns = String.raw`
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 53)); print(s.recv(512).hex())`;
        const ask = (server: string, q: Buffer) => {
            const r = spawnSync("ip", ["netns", "exec", vm.netns, "python3", "-c", dns, server, q.toString("hex")], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            return Buffer.from(r.stdout.trim(), "hex");
        };
        const resolv = spawnSync("ip", ["netns", "exec", vm.netns, "cat", "/etc/resolv.conf"], { encoding: "utf8" });
        assert.equal(resolv.stdout, "nameserver 127.0.0.1\n", "ip netns exec shows the namespace's resolv.conf");
        for (const server of ["127.0.0.1", "::1"]) {
            const a = ask(server, query(LOCAL_DNS_NAME, 1));
            assert.equal(a[3] & 0x0f, 0);
            assert.equal([...a.subarray(a.length - 4)].join("."), LOCAL_DNS_ADDRESS);
            assert.equal(ask(server, query("archlinux.org", 1))[3] & 0x0f, 3, "NXDOMAIN");
        }
    });

    it("logs each request with the endpoint it came in on, and each DNS question", () => {
        const log = fs.readFileSync(vm.o.requestLog, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { method: string; path: string; status: number; endpoint?: string });
        assert.deepEqual(
            log.filter((r) => r.method !== "DNS").map((r) => `${r.method} ${r.status} ${r.endpoint}`),
            [IMDS_IPV4, IMDS_IPV6].flatMap((e) => [`PUT 200 ${e}`, `GET 200 ${e}`, `PUT 403 ${e}`]),
        );
        assert.deepEqual(
            log.filter((r) => r.method === "DNS").map((r) => `${r.path} ${r.status}`),
            [`${LOCAL_DNS_NAME} 1 0`, "archlinux.org 1 3", `${LOCAL_DNS_NAME} 1 0`, "archlinux.org 1 3"],
        );
    });
});
