// The metadata service's answers in process, exactly (src/local/imds.ts Imds.handle, the meta-data tree,
// the identity document, the host names) and its UDP servers (SNTP, DNS) on loopback ports. The HTTP side
// and EC2's documented behaviour are in test/unit/imds.test.ts; this pins each value and each refusal.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { AddressInfo } from "node:net";
import * as http from "node:http";
import { Imds, LOCAL_DNS_ADDRESS, LOCAL_DNS_NAME, dnsQuestion, dnsReply, dnsServer, identityDocument, localHostname, metadataTree, ntpReply, ntpServer } from "../../src/local/imds";
import { inst, query } from "../lib/imdsFixtures";

const TOKEN_HEADER = "x-aws-ec2-metadata-token";

describe("the metadata service's answers", () => {
    const token = (s: Imds, ttl = "21600") => s.handle("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": ttl });

    it("host names: ip-<address>.ec2.internal in us-east-1, ip-<address>.<region>.compute.internal elsewhere", () => {
        assert.equal(localHostname(inst), "ip-10-0-2-15.ec2.internal");
        assert.equal(localHostname({ ...inst, region: "eu-west-1", localIpv4: "172.31.1.2" }), "ip-172-31-1-2.eu-west-1.compute.internal");
    });

    it("the meta-data tree, whole", () => {
        const mac = {
            "device-number": "0", "network-card": "0", "interface-id": "eni-0a1b2c3d4e5f60001", "local-hostname": "ip-10-0-2-15.ec2.internal",
            "local-ipv4s": "10.0.2.15", mac: "52:54:00:12:34:56", "owner-id": "123456789012", "public-hostname": "ec2-198-51-100-12.compute-1.amazonaws.com",
            "public-ipv4s": "198.51.100.12", "security-group-ids": "sg-0a1b2c3d4e5f67890", "security-groups": "arch-ami-test", "subnet-id": "subnet-0a1b2c3d4e5f67890",
            "subnet-ipv4-cidr-block": "10.0.2.0/24", "vpc-id": "vpc-0a1b2c3d4e5f67890", "vpc-ipv4-cidr-block": "10.0.2.0/24", "vpc-ipv4-cidr-blocks": "10.0.2.0/24",
        };
        assert.deepEqual(metadataTree(inst), {
            "ami-id": "ami-0a1b2c3d4e5f67890", "ami-launch-index": "0", "ami-manifest-path": "(unknown)",
            "block-device-mapping": { ami: "/dev/xvda", root: "/dev/xvda" },
            hostname: "ip-10-0-2-15.ec2.internal", "instance-action": "none", "instance-id": "i-0a1b2c3d4e5f60001", "instance-life-cycle": "on-demand",
            "instance-type": "t3.small", "local-hostname": "ip-10-0-2-15.ec2.internal", "local-ipv4": "10.0.2.15", mac: "52:54:00:12:34:56",
            metrics: { vhostmd: '<?xml version="1.0" encoding="UTF-8"?>' },
            network: { interfaces: { macs: { "52:54:00:12:34:56": mac } } },
            placement: { "availability-zone": "us-east-1a", "availability-zone-id": "use1-az1", region: "us-east-1" },
            profile: "default-hvm", "public-hostname": "ec2-198-51-100-12.compute-1.amazonaws.com", "public-ipv4": "198.51.100.12",
            "public-keys": { "0": { "openssh-key": inst.openSshKey } },
            "reservation-id": "r-0a1b2c3d4e5f60001", "security-groups": "arch-ami-test",
            services: { domain: "amazonaws.com", partition: "aws" },
        });
    });

    it("the instance identity document, as text", () => {
        assert.equal(
            identityDocument(inst),
            JSON.stringify({
                accountId: "123456789012", architecture: "x86_64", availabilityZone: "us-east-1a", billingProducts: null, devpayProductCodes: null,
                marketplaceProductCodes: null, imageId: "ami-0a1b2c3d4e5f67890", instanceId: "i-0a1b2c3d4e5f60001", instanceType: "t3.small", kernelId: null,
                pendingTime: "2026-01-01T00:00:00Z", privateIp: "10.0.2.15", ramdiskId: null, region: "us-east-1", version: "2017-09-30",
            }, null, 2),
        );
    });

    it("tokens: a TTL of 1 to 21600 seconds at any known version, none through a proxy, the TTL echoed", () => {
        const s = new Imds(inst);
        const t = token(s, "1");
        assert.equal(t.status, 200);
        assert.match(t.body, /^[A-Za-z0-9+/]{43}=$/, "32 random bytes, base64");
        assert.deepEqual(t.headers, { "X-aws-ec2-metadata-token-ttl-seconds": "1" });
        assert.notEqual(token(s).body, t.body);
        for (const v of ["1.0", "2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23"]) assert.equal(s.handle("PUT", `/${v}/api/token`, { "x-aws-ec2-metadata-token-ttl-seconds": "60" }).status, 200, v);
        for (const ttl of ["0", "21601", "1.5", "", "abc", "-1"]) assert.deepEqual(token(s, ttl), { status: 400, body: "" }, ttl);
        assert.deepEqual(s.handle("PUT", "/latest/api/token", {}), { status: 400, body: "" });
        assert.equal(token(s, "21600").status, 200);
        assert.deepEqual(s.handle("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "60", "x-forwarded-for": "" }), { status: 403, body: "" });
        for (const url of ["/2020-01-01/api/token", "/latest/api/tokens", "/latest/apis/token", "/latest/api/token/x", "/api/token", "/latest/meta-data/instance-id"]) {
            assert.deepEqual(s.handle("PUT", url, { "x-aws-ec2-metadata-token-ttl-seconds": "60" }), { status: 404, body: "" }, url);
        }
        assert.equal(s.handle("PUT", "/latest/api/token?x=1", { "x-aws-ec2-metadata-token-ttl-seconds": "60" }).status, 200, "the query is not the path");
    });

    it("GET and HEAD need a live token; another method 405; an expired token 401", async () => {
        const s = new Imds(inst);
        const t = token(s).body;
        const h = { [TOKEN_HEADER]: t };
        assert.deepEqual(s.handle("POST", "/latest/meta-data/", h), { status: 405, body: "" });
        assert.deepEqual(s.handle("DELETE", "/latest/meta-data/", h), { status: 405, body: "" });
        assert.deepEqual(s.handle("HEAD", "/latest/meta-data/instance-id", h), { status: 200, body: "i-0a1b2c3d4e5f60001" });
        assert.deepEqual(s.handle("GET", "/latest/meta-data/instance-id", {}), { status: 401, body: "" });
        assert.deepEqual(s.handle("GET", "/latest/meta-data/instance-id", { [TOKEN_HEADER]: [t, t] }), { status: 401, body: "" }, "one token, not a list");
        const short = token(s, "1").body;
        assert.equal(s.handle("GET", "/latest/meta-data/instance-id", { [TOKEN_HEADER]: short }).status, 200);
        await new Promise((r) => setTimeout(r, 1050));
        assert.deepEqual(s.handle("GET", "/latest/meta-data/instance-id", { [TOKEN_HEADER]: short }), { status: 401, body: "" });
    });

    it("the listings: versions, a version's sections, folders with a slash, the public keys as 0=<name>", () => {
        const s = new Imds({ ...inst, userData: "ud" });
        const h = { [TOKEN_HEADER]: token(s).body };
        const get = (p: string) => s.handle("GET", p, h);
        assert.deepEqual(get("/"), { status: 200, body: "1.0\n2009-04-04\n2016-09-02\n2018-09-24\n2021-03-23\nlatest" });
        assert.deepEqual(get("/latest"), { status: 200, body: "dynamic\nmeta-data\nuser-data" });
        assert.deepEqual(get("/2016-09-02/"), { status: 200, body: "dynamic\nmeta-data\nuser-data" });
        assert.deepEqual(get("/2019-01-01/meta-data/"), { status: 404, body: "" });
        assert.deepEqual(get("/latest/user-data"), { status: 200, body: "ud" });
        assert.deepEqual(get("/latest/meta-data/placement/"), { status: 200, body: "availability-zone\navailability-zone-id\nregion" });
        assert.deepEqual(get("/latest/meta-data/block-device-mapping"), { status: 200, body: "ami\nroot" });
        assert.deepEqual(get("/latest/meta-data/network/interfaces/macs/"), { status: 200, body: "52:54:00:12:34:56/" });
        assert.deepEqual(get("/latest/meta-data/public-keys/"), { status: 200, body: "0=test-key" });
        assert.deepEqual(get("/latest/meta-data/public-keys/0/"), { status: 200, body: "openssh-key" });
        assert.deepEqual(get("/latest/meta-data/public-keys/0/openssh-key?x"), { status: 200, body: inst.openSshKey });
        assert.deepEqual(get("/latest/meta-data/instance-id/more"), { status: 404, body: "" }, "below a value");
        assert.deepEqual(get("/latest/other"), { status: 404, body: "" });
        // Only the tree's own keys: not what every JavaScript object inherits.
        for (const p of ["/latest/meta-data/toString", "/latest/meta-data/constructor", "/latest/dynamic/hasOwnProperty", "/latest/meta-data/placement/__proto__"]) {
            assert.deepEqual(get(p), { status: 404, body: "" }, p);
        }
        assert.deepEqual(get("/latest/dynamic/"), { status: 200, body: "instance-identity/" });
        assert.deepEqual(get("/latest/dynamic/instance-identity"), { status: 200, body: "document" });
        assert.deepEqual(get("/latest/dynamic/instance-identity/document"), { status: 200, body: identityDocument(inst) });
        assert.deepEqual(get("/latest/dynamic/instance-identity/pkcs7"), { status: 404, body: "" });
        const top = get("/latest/meta-data/").body.split("\n");
        assert.deepEqual(top.filter((k) => k.endsWith("/")), ["block-device-mapping/", "metrics/", "network/", "placement/", "public-keys/", "services/"]);
        assert.equal(top.length, Object.keys(metadataTree(inst)).length);
    });

    describe("over HTTP", () => {
        let server: http.Server;
        let base = "";
        const seen: unknown[] = [];
        let imds: Imds;
        before(async () => {
            imds = new Imds(inst);
            server = imds.server((r) => seen.push(r));
            await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
            base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => server.close());

        it("records each request (method, path with its query, status, a valid token, the address it came in on) and answers as EC2 (Server: EC2ws, text)", async () => {
            const put = await fetch(`${base}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "30" } });
            assert.equal(put.headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "30");
            assert.equal(put.headers.get("server"), "EC2ws");
            assert.equal(put.headers.get("content-type"), "text/plain");
            const t = await put.text();
            const head = await fetch(`${base}/latest/meta-data/instance-id?a=b`, { method: "HEAD", headers: { "X-aws-ec2-metadata-token": t } });
            assert.equal(head.status, 200);
            assert.equal(await head.text(), "", "HEAD: no body");
            await fetch(`${base}/latest/meta-data/`, { headers: { "X-aws-ec2-metadata-token": "bogus" } });
            const expected = [
                { method: "PUT", path: "/latest/api/token", status: 200, token: false, endpoint: "127.0.0.1" },
                { method: "HEAD", path: "/latest/meta-data/instance-id?a=b", status: 200, token: true, endpoint: "127.0.0.1" },
                { method: "GET", path: "/latest/meta-data/", status: 401, token: false, endpoint: "127.0.0.1" },
            ];
            assert.deepEqual(seen, expected);
            assert.deepEqual(imds.requests, expected);
        });
    });
});

describe("SNTP and DNS answers, exactly", () => {
    it("ntpReply: every field of the 48 bytes", () => {
        const req = Buffer.alloc(48);
        req[0] = (3 << 3) | 3;
        req[2] = 6;
        req.writeUInt32BE(0x11223344, 40);
        req.writeUInt32BE(0x55667788, 44);
        const now = Date.UTC(2026, 0, 1) + 250;
        const rep = ntpReply(req, now)!;
        const seconds = Date.UTC(2026, 0, 1) / 1000 + 2208988800;
        const expected = Buffer.alloc(48);
        expected[0] = (3 << 3) | 4;
        expected[1] = 1;
        expected[2] = 6;
        expected[3] = 0xec;
        expected.writeUInt32BE(0x100, 8);
        expected.write("AMZN", 12, "ascii");
        for (const o of [16, 32, 40]) {
            expected.writeUInt32BE(seconds, o);
            expected.writeUInt32BE(2 ** 30, o + 4);
        }
        expected.writeUInt32BE(0x11223344, 24);
        expected.writeUInt32BE(0x55667788, 28);
        assert.deepEqual(rep, expected);
        assert.equal(ntpReply(Buffer.alloc(47, 3)), undefined, "too short");
        const server = Buffer.alloc(48);
        server[0] = 4;
        assert.equal(ntpReply(server), undefined, "mode 4 is not a request");
        const sym = Buffer.alloc(48);
        sym[0] = 0x0b; // mode 3 with bit 3 set: version 1
        assert.equal(ntpReply(sym)![0], (1 << 3) | 4);
    });

    it("dnsQuestion: id, lower-case name, type and where the question ends; undefined for what is not one standard query", () => {
        const q = query("Arch-AMI-Local.Example", 28);
        assert.deepEqual(dnsQuestion(q), { id: 0x1234, name: "arch-ami-local.example", type: 28, end: q.length });
        assert.equal(dnsQuestion(q.subarray(0, 11)), undefined, "shorter than a header");
        const response = Buffer.from(q);
        response[2] |= 0x80;
        assert.equal(dnsQuestion(response), undefined);
        const notQuery = Buffer.from(q);
        notQuery[2] |= 0x08; // opcode 1 (inverse query)
        assert.equal(dnsQuestion(notQuery), undefined);
        const two = Buffer.from(q);
        two.writeUInt16BE(2, 4);
        assert.equal(dnsQuestion(two), undefined, "two questions");
        const none = Buffer.from(q);
        none.writeUInt16BE(0, 4);
        assert.equal(dnsQuestion(none), undefined, "no question");
        assert.equal(dnsQuestion(q.subarray(0, q.length - 1)), undefined, "the type and class cut short");
        assert.equal(dnsQuestion(q.subarray(0, 14)), undefined, "a label cut short");
        assert.equal(dnsQuestion(q.subarray(0, 12)), undefined, "no name at all");
        const long = Buffer.concat([q.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 97), Buffer.from([0, 0, 1, 0, 1])]);
        assert.equal(dnsQuestion(long), undefined, "a label of 64 bytes");
        const max = Buffer.concat([q.subarray(0, 12), Buffer.from([63]), Buffer.alloc(63, 97), Buffer.from([0, 0, 1, 0, 1])]);
        assert.deepEqual(dnsQuestion(max), { id: 0x1234, name: "a".repeat(63), type: 1, end: max.length });
        const root = Buffer.concat([q.subarray(0, 12), Buffer.from([0, 0, 2, 0, 1])]);
        assert.deepEqual(dnsQuestion(root), { id: 0x1234, name: "", type: 2, end: 17 });
    });

    it("dnsReply: the whole A answer (TTL 3600), a trailing dot in the name served, FORMERR for a malformed query", () => {
        const q = query(LOCAL_DNS_NAME, 1);
        const { reply, question, rcode } = dnsReply(q, `${LOCAL_DNS_NAME.toUpperCase()}.`, "203.0.113.9")!;
        assert.equal(rcode, 0);
        assert.deepEqual(question, { id: 0x1234, name: LOCAL_DNS_NAME, type: 1 });
        assert.deepEqual(reply, Buffer.concat([
            Buffer.from([0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]),
            q.subarray(12),
            Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 203, 0, 113, 9]),
        ]));
        const noRd = Buffer.from(q);
        noRd[2] = 0;
        assert.equal(dnsReply(noRd, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!.reply[2], 0x84, "RD as asked");
        const nx = dnsReply(query("other.example", 1, true), LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.deepEqual(nx.reply.subarray(0, 12), Buffer.from([0x12, 0x34, 0x85, 0x83, 0, 1, 0, 0, 0, 0, 0, 1]));
        assert.deepEqual(nx.reply.subarray(nx.reply.length - 11), Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]), "OPT: 1232 bytes, no DO");
        const optLater = Buffer.concat([query(LOCAL_DNS_NAME, 1).subarray(0, 11), Buffer.from([1]), query(LOCAL_DNS_NAME, 1).subarray(12)]);
        assert.equal(dnsReply(optLater, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!.reply.readUInt16BE(10), 0, "an additional count without an OPT record: none back");
        const bad = Buffer.from([0xab, 0xcd, 0x79, 0x55, 0, 2, 0, 0, 0, 0, 0, 0, 3]);
        const formerr = dnsReply(bad, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.deepEqual(formerr, { reply: Buffer.from([0xab, 0xcd, 0xf9, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]), question: { id: 0xabcd, name: "", type: 0 }, rcode: 1 });
        assert.equal(dnsReply(Buffer.alloc(11), LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS), undefined);
    });

    describe("on UDP sockets", () => {
        const sockets: dgram.Socket[] = [];
        after(() => {
            for (const s of sockets) s.close();
        });
        const ask = async (server: dgram.Socket, message: Buffer): Promise<Buffer | undefined> => {
            const client = dgram.createSocket("udp4");
            sockets.push(client);
            const port = (server.address() as AddressInfo).port;
            return new Promise((resolve) => {
                const timer = setTimeout(() => resolve(undefined), 300);
                client.on("message", (m) => {
                    clearTimeout(timer);
                    resolve(m);
                });
                client.send(message, port, "127.0.0.1");
            });
        };

        it("ntpServer answers requests and reports each; dnsServer answers queries and reports question and rcode; both ignore the rest", async () => {
            let ntp = 0;
            const n = ntpServer(() => ntp++);
            sockets.push(n);
            await new Promise<void>((r) => n.bind(0, "127.0.0.1", r));
            const req = Buffer.alloc(48);
            req[0] = (4 << 3) | 3;
            const rep = await ask(n, req);
            assert.equal(rep?.length, 48);
            assert.equal(rep![0], (4 << 3) | 4);
            assert.equal(await ask(n, Buffer.alloc(48)), undefined);
            assert.equal(ntp, 1);

            const seen: unknown[] = [];
            const d = dnsServer("udp4", LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS, (q, rcode) => seen.push([q, rcode]));
            sockets.push(d);
            await new Promise<void>((r) => d.bind(0, "127.0.0.1", r));
            const q = query(LOCAL_DNS_NAME, 1);
            assert.deepEqual(await ask(d, q), dnsReply(q, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!.reply);
            assert.equal(await ask(d, dnsReply(q, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!.reply), undefined, "a response gets no answer");
            assert.deepEqual(seen, [[{ id: 0x1234, name: LOCAL_DNS_NAME, type: 1 }, 0]]);
        });
    });
});
