// Default SSH ingress: the deployer's public IPv4 as /32, detected at run time; a clear error naming
// sshIngressCidrs when detection fails (never 0.0.0.0/0).
import { after, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { byName, installMocks, settle } from "./harness";

installMocks();

describe("SSH ingress detection", () => {
    // The detection is synchronous (it must finish before anything registers), so the fake "what is my
    // IP" service runs in its own process.
    const servers: ChildProcess[] = [];
    /** A service answering ANSWER after DELAYMS, or with the (decoded) path it is asked for when ECHO. */
    async function serve(answer: string, delayMs = 0, echo = false): Promise<string> {
        const p = spawn(process.execPath, [
            "-e",
            "require('http').createServer((q, s) => setTimeout(() => s.end(process.argv[3] ? decodeURIComponent(q.url.slice(1)) : process.argv[1]), +process.argv[2]))" +
                ".listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
            answer,
            String(delayMs),
            echo ? "echo" : "",
        ]);
        servers.push(p);
        const port = await new Promise<string>((r) => p.stdout!.once("data", (d: Buffer) => r(d.toString().trim())));
        return `http://127.0.0.1:${port}/`;
    }
    after(() => servers.forEach((p) => p.kill()));

    it("uses the detected public IPv4 as a /32", async () => {
        process.env.ARCH_AMI_PUBLIC_IP_URL = await serve("198.51.100.23\n");
        const { ArchAmi } = await import("../../src");
        new ArchAmi("detected", {});
        await settle();
        const ingress = byName("detected-sg").inputs.ingress as { cidrBlocks: string[] }[];
        assert.deepEqual(ingress[0].cidrBlocks, ["198.51.100.23/32"]);
    });

    it("takes a JavaScript caller's missing arguments as none (defaults and the detected address)", async () => {
        process.env.ARCH_AMI_PUBLIC_IP_URL = await serve("198.51.100.24\n");
        const { ArchAmi } = await import("../../src");
        new (ArchAmi as unknown as new (name: string) => unknown)("noargs");
        await settle();
        const ingress = byName("noargs-sg").inputs.ingress as { cidrBlocks: string[] }[];
        assert.deepEqual(ingress[0].cidrBlocks, ["198.51.100.24/32"]);
    });

    it("asks for sshIngressCidrs when the answer is not an IPv4 address", async () => {
        process.env.ARCH_AMI_PUBLIC_IP_URL = await serve("<html>captive portal</html>");
        const { ArchAmi } = await import("../../src");
        assert.throws(() => new ArchAmi("garbled", {}), /argument "sshIngressCidrs" is not set .* could not be detected/);
    });

    it("asks AWS's checkip service unless ARCH_AMI_PUBLIC_IP_URL says otherwise", async () => {
        const { PUBLIC_IP_URL } = await import("../../src/publicIp");
        assert.equal(PUBLIC_IP_URL, "https://checkip.amazonaws.com");
    });

    it("takes only a whole dotted-quad IPv4 answer, each part at most 255", async () => {
        const { detectPublicIpv4Cidr, ipv4Cidr } = await import("../../src/publicIp");
        const answers: [string, string | undefined][] = [
            ["198.51.100.23", "198.51.100.23/32"],
            ["255.255.255.255", "255.255.255.255/32"],
            ["198.51.100.256", undefined],
            ["256.1.1.1", undefined],
            ["x198.51.100.23", undefined],
            ["198.51.100.23x", undefined],
            ["198.51.100", undefined],
            ["2001:db8::1", undefined],
            // Each part is a number at most 255 here: only the pattern's anchors refuse them.
            ["1.2.3.4.5", undefined],
            ["-1.2.3.4", undefined],
            ["1.2.3.4e0", undefined],
        ];
        for (const [answer, cidr] of answers) assert.equal(ipv4Cidr(answer), cidr, JSON.stringify(answer));
        // Through the service: the answer's surrounding white space is dropped, a bad answer is no address.
        const echo = (await serve("", 0, true)).replace(/\/$/, "");
        for (const [answer, cidr] of [["198.51.100.23\n", "198.51.100.23/32"], ["1.2.3.4.5", undefined]] as const) {
            process.env.ARCH_AMI_PUBLIC_IP_URL = `${echo}/${encodeURIComponent(answer)}`;
            assert.equal(detectPublicIpv4Cidr(), cidr, JSON.stringify(answer));
        }
    });

    it("waits for a slow answer up to its timeout, and gives up after it", async () => {
        const { detectPublicIpv4Cidr } = await import("../../src/publicIp");
        // The process gets 2 s more than the request (timeoutMs + 2000): an answer after 0.6 s of 1.5 arrives.
        process.env.ARCH_AMI_PUBLIC_IP_URL = await serve("198.51.100.25", 600);
        assert.equal(detectPublicIpv4Cidr(1500), "198.51.100.25/32", "answered after 0.6 s of 1.5");
        process.env.ARCH_AMI_PUBLIC_IP_URL = await serve("198.51.100.26", 1500);
        const t = Date.now();
        assert.equal(detectPublicIpv4Cidr(400), undefined, "answered after 1.5 s of 0.4");
        assert.ok(Date.now() - t < 1400, `gave up after ${Date.now() - t} ms`);
    });

    it("asks for sshIngressCidrs when the service cannot be reached", async () => {
        process.env.ARCH_AMI_PUBLIC_IP_URL = "http://127.0.0.1:9/";
        const { ArchAmi } = await import("../../src");
        assert.throws(() => new ArchAmi("offline", {}), (e: Error) => {
            assert.match(e.message, /sshIngressCidrs/);
            // The CLI shows a ResourceError with hideStack as its message alone (@pulumi/pulumi errors.ts).
            assert.equal((e as { hideStack?: boolean }).hideStack, true, "shown without a stack trace");
            assert.match(e.message, /203\.0\.113\.7\/32/);
            assert.doesNotMatch(e.message, /0\.0\.0\.0\/0/);
            return true;
        });
    });
});
