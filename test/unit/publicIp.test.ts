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
    async function serve(answer: string): Promise<string> {
        const p = spawn(process.execPath, ["-e", "require('http').createServer((q, s) => s.end(process.argv[1])).listen(0, '127.0.0.1', function () { console.log(this.address().port) })", answer]);
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
