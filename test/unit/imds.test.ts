// The metadata service itself, in process: IMDSv2 only, the layout cloud-init's Ec2 datasource crawls, and
// EC2's documented behaviour (cited in src/local/imds.ts and beside each case): 403 for a token PUT with
// X-Forwarded-For; the SNTP responder and the test DNS server. What needs the VMs' network namespace (hop
// limit, both endpoints) is in test/firstboot/imds.test.ts.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { AddressInfo } from "node:net";
import * as http from "node:http";
import { Imds, LOCAL_DNS_ADDRESS, LOCAL_DNS_NAME, dnsQuestion, dnsReply, localHostname, ntpReply } from "../../src/local/imds";
import { inst, query } from "../lib/imdsFixtures";

describe("test metadata service", () => {
    let server: http.Server;
    let base = "";
    before(async () => {
        server = new Imds(inst).server();
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    const token = async () => {
        const r = await fetch(`${base}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600" } });
        assert.equal(r.status, 200);
        return r.text();
    };
    const get = (path: string, t?: string) => fetch(`${base}${path}`, { headers: t ? { "X-aws-ec2-metadata-token": t } : {} });

    it("refuses IMDSv1: a GET without a token gets 401, a PUT without a TTL 400, a made-up token 401", async () => {
        assert.equal((await get("/latest/meta-data/instance-id")).status, 401);
        assert.equal((await get("/2021-03-23/meta-data/instance-id")).status, 401);
        assert.equal((await fetch(`${base}/latest/api/token`, { method: "PUT" })).status, 400);
        assert.equal((await get("/latest/meta-data/instance-id", "bm90LWEtdG9rZW4=")).status, 401);
    });

    it("serves the meta-data tree with a token, as cloud-init's crawler reads it", async () => {
        const t = await token();
        assert.equal(await (await get("/2021-03-23/meta-data/instance-id", t)).text(), inst.instanceId);
        const top = (await (await get("/2021-03-23/meta-data/", t)).text()).split("\n");
        for (const k of ["instance-id", "instance-type", "local-hostname", "local-ipv4", "public-ipv4", "mac", "network/", "placement/", "public-keys/"]) {
            assert.ok(top.includes(k), `meta-data lists ${k}`);
        }
        assert.equal(await (await get("/2021-03-23/meta-data/public-keys/", t)).text(), "0=test-key");
        assert.equal(await (await get("/2021-03-23/meta-data/public-keys/0/openssh-key", t)).text(), inst.openSshKey);
        assert.equal(await (await get("/2021-03-23/meta-data/local-hostname", t)).text(), localHostname(inst));
        assert.equal(await (await get("/2021-03-23/meta-data/placement/availability-zone", t)).text(), "us-east-1a");
        assert.equal(await (await get(`/2021-03-23/meta-data/network/interfaces/macs/${inst.mac}/local-ipv4s`, t)).text(), "10.0.2.15");
        assert.equal(await (await get(`/2021-03-23/meta-data/network/interfaces/macs/${inst.mac}/device-number`, t)).text(), "0");
        const doc = JSON.parse(await (await get("/2021-03-23/dynamic/instance-identity/document", t)).text()) as Record<string, string>;
        assert.equal(doc.instanceId, inst.instanceId);
        assert.equal(doc.region, "us-east-1");
        assert.equal((await get("/2021-03-23/user-data", t)).status, 404, "no user data: 404, as EC2");
        assert.equal((await get("/2021-03-23/meta-data/no-such-key", t)).status, 404);
    });

    // "IMDSv2 will not issue session tokens to any caller with an X-Forwarded-For header" (AWS Security Blog,
    // 2019-11-19, "Add defense in depth against open firewalls, reverse proxies, and SSRF vulnerabilities with
    // enhancements to the EC2 Instance Metadata Service"); "403 - Forbidden – The request is not allowed"
    // (EC2 User Guide, instancedata-data-retrieval, error codes).
    it("refuses a token PUT carrying X-Forwarded-For with 403 (EC2: no token through a proxy)", async () => {
        const r = await fetch(`${base}/latest/api/token`, {
            method: "PUT",
            headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600", "X-Forwarded-For": "203.0.113.7" },
        });
        assert.equal(r.status, 403);
        assert.equal(await r.text(), "", "no token in the body");
        // The same request without the header gets a token: the header alone is refused.
        assert.ok((await token()).length > 0);
    });

    it("serves user data when the instance has some", async () => {
        const s = new Imds({ ...inst, userData: "#cloud-config\n{}\n" });
        const t = s.handle("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "60" }).body;
        assert.equal(s.handle("GET", "/latest/user-data", { "x-aws-ec2-metadata-token": t }).body, "#cloud-config\n{}\n");
    });
});

describe("SNTP responder (Amazon Time Sync stand-in)", () => {
    it("answers a client request as a stratum-1 server, echoing the client's transmit time", () => {
        const req = Buffer.alloc(48);
        req[0] = (4 << 3) | 3;
        req.writeUInt32BE(0xe1234567, 40);
        req.writeUInt32BE(0x89abcdef, 44);
        const now = Date.UTC(2026, 0, 1);
        const rep = ntpReply(req, now)!;
        assert.equal(rep[0] & 7, 4, "mode server");
        assert.equal((rep[0] >> 3) & 7, 4, "client's version");
        assert.equal(rep[1], 1, "stratum 1");
        assert.equal(rep.readUInt32BE(24), 0xe1234567);
        assert.equal(rep.readUInt32BE(28), 0x89abcdef);
        assert.equal(rep.readUInt32BE(40), now / 1000 + 2208988800);
        assert.equal(ntpReply(Buffer.alloc(48)), undefined, "not a client request");
    });
});

describe("local DNS server (one name)", () => {
    it("answers an A query for its name with its address, authoritative, echoing id, RD and the question", () => {
        const q = query("Arch-AMI-Local.example", 1); // LOCAL_DNS_NAME in mixed case
        const { reply, rcode } = dnsReply(q, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.equal(rcode, 0);
        assert.equal(reply.readUInt16BE(0), 0x1234, "id");
        assert.equal(reply[2], 0x85, "QR, AA, RD");
        assert.equal(reply[3] & 0x0f, 0, "NOERROR");
        assert.deepEqual([reply.readUInt16BE(4), reply.readUInt16BE(6), reply.readUInt16BE(8), reply.readUInt16BE(10)], [1, 1, 0, 0]);
        assert.deepEqual(reply.subarray(12, q.length), q.subarray(12), "the question, as asked");
        const rr = reply.subarray(q.length);
        assert.equal(rr.readUInt16BE(0), 0xc00c, "owner: the question's name");
        assert.equal(rr.readUInt16BE(2), 1, "type A");
        assert.equal(rr.readUInt16BE(4), 1, "class IN");
        assert.equal(rr.readUInt16BE(10), 4);
        assert.equal([...rr.subarray(12, 16)].join("."), "192.0.2.53");
    });

    it("NXDOMAIN for any other name, no data for another type of its name, an OPT record back for EDNS", () => {
        const other = dnsReply(query("archlinux.org", 1), LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.equal(other.rcode, 3);
        assert.equal(other.reply[3] & 0x0f, 3, "NXDOMAIN");
        assert.equal(other.reply.readUInt16BE(6), 0, "no answer");
        const sub = dnsReply(query(`x.${LOCAL_DNS_NAME}`, 1), LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.equal(sub.rcode, 3, "a name below it is another name");
        const aaaa = dnsReply(query(LOCAL_DNS_NAME, 28, true), LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS)!;
        assert.equal(aaaa.rcode, 0);
        assert.equal(aaaa.reply.readUInt16BE(6), 0, "no AAAA record");
        assert.equal(aaaa.reply.readUInt16BE(10), 1, "an OPT record");
        const opt = aaaa.reply.subarray(aaaa.reply.length - 11);
        assert.equal(opt.readUInt16BE(1), 41);
        assert.equal(opt.readUInt32BE(5) & 0x8000, 0, "no DNSSEC (DO clear)");
        assert.equal(dnsQuestion(Buffer.from(aaaa.reply)), undefined, "a response is not a query");
        assert.equal(dnsReply(aaaa.reply, LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS), undefined, "responses are not answered");
    });
});
