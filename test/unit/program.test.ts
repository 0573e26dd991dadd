// The default program (Pulumi.yaml): config keys under "arch-ami:" reach the component; it exports amiId.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

// Stack config as the Pulumi CLI passes it, set before the runtime first reads it.
process.env.PULUMI_CONFIG = JSON.stringify({
    "arch-ami:sshIngressCidrs": '["203.0.113.7/32"]',
    "arch-ami:volumeSize": "6",
    "arch-ami:filesystem": "btrfs",
    "arch-ami:packages": '["vim"]',
});

import { byRole, installMocks, settle, value } from "./harness";

installMocks();

describe("default program", () => {
    it("is what Pulumi.yaml runs once built", () => {
        assert.match(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8"), /^main: bin\/program\/index\.js$/m);
    });

    it("exports amiId and the other outputs, configured from arch-ami: keys", async () => {
        const program = await import("../../program");
        // The AMI belongs to the registration `arch-<reg12>` (an ArchAmiImage): its resource is `arch-<reg12>-ami`.
        assert.match(await value(program.amiId), /^arch-[0-9a-f]{12}-ami-id$/);
        assert.match(await value(program.amiName), /^arch-[0-9a-f]{12}$/);
        for (const o of ["snapshotId", "builderInstanceId", "buildHash"] as const) {
            assert.ok(program[o], o);
        }
        await settle();
        assert.equal(byRole("volume").inputs.size, 6);
        assert.match(Buffer.from(/echo (\S+) \| base64 -d/.exec(String(byRole("provision").inputs.create))![1], "base64").toString(), /^FILESYSTEM=btrfs$[\s\S]*^PACKAGES=vim$/m);
    });
});
