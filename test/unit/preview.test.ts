// `pulumi up` starts with a preview, where the tarball command does not run and its output is unknown.
// pulumi-command 1.2.1's CopyToRemote Check fails on an unknown `source` ("either asset or archive must
// be set", pulumi-command #754, fixed only after 1.2.1): every upload's source must be known in a preview.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, installMocks, registered, settle } from "./harness";

installMocks({ preview: true });

describe("preview (the first step of every up)", () => {
    it("runs with unknown command outputs", async () => {
        assert.equal(pulumi.runtime.isDryRun(), true);
    });
    it("gives every CopyToRemote a known source", async () => {
        const { ArchAmi } = await import("../../src");
        new ArchAmi("arch", BASE_ARGS);
        await settle();
        const uploads = registered.filter((r) => r.type === "command:remote:CopyToRemote");
        assert.equal(uploads.length, 2);
        for (const u of uploads) {
            const src = u.inputs.source as Record<string, unknown> | undefined;
            assert.ok(src && (src.__pulumiAsset || src.__pulumiArchive), `${u.name}: source is ${JSON.stringify(src)}`);
        }
        const tarballCmd = registered.find((r) => r.type === "command:local:Command")!;
        assert.ok(tarballCmd, "the tarball command is registered");
    });
});
