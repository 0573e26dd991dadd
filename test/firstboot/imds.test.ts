// The test metadata service itself (no VM): IMDSv2 only, and the layout cloud-init's Ec2 datasource crawls.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { AddressInfo } from "node:net";
import * as http from "node:http";
import { Imds, Instance, localHostname, ntpReply } from "./imds";

const inst: Instance = {
    instanceId: "i-0a1b2c3d4e5f60001",
    instanceType: "t3.small",
    region: "us-east-1",
    availabilityZone: "us-east-1a",
    imageId: "ami-0a1b2c3d4e5f67890",
    accountId: "123456789012",
    mac: "52:54:00:12:34:56",
    localIpv4: "10.0.2.15",
    publicIpv4: "198.51.100.12",
    subnetCidr: "10.0.2.0/24",
    keyName: "test-key",
    openSshKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test-key",
};

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
