// Python, Go, C# and YAML programs reach ArchAmi through the component provider, which turns the engine's
// wire values into arguments (deserializeInputs in @pulumi/pulumi/provider/server). The customization
// arguments must survive that as plain values, and a secret must be refused with the explanation, however
// the engine marks it.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as server from "@pulumi/pulumi/provider/server";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { ArchAmiArgs } from "../../src/args";
import { resolveSettings } from "../../src/settings";

const BASE = { sshIngressCidrs: ["203.0.113.7/32"] };
const secretSig = (value: unknown) => ({ [rpc.specialSigKey]: rpc.specialSecretSig, value });
const outputValue = (value: unknown, secret: boolean) => ({ [rpc.specialSigKey]: rpc.specialOutputValueSig, value, secret });

// Exported by server.js, which the provider's Construct calls, but left out of its typings.
const { deserializeInputs } = server as unknown as {
    deserializeInputs(inputs: Struct, deps: Map<string, unknown>): Promise<Record<string, unknown>>;
};

async function fromWire(inputs: Record<string, unknown>): Promise<ArchAmiArgs> {
    return (await deserializeInputs(Struct.fromJavaScript(inputs as never), new Map())) as ArchAmiArgs;
}

describe("customization through the component provider", () => {
    it("arrives as plain values and is accepted", async () => {
        const args = await fromWire({
            files: [{ path: "/etc/app.conf", content: "a=1\n", mode: "0600" }],
            scripts: [{ name: "one", content: "true" }],
            services: ["fstrim.timer"],
            kernelParameters: ["mitigations=auto"],
            aurPackages: ["yay-bin"],
        });
        const s = resolveSettings("wire", { ...BASE, ...args });
        assert.equal(s.image.customization.files[0].content, "a=1\n");
        assert.deepEqual(s.image.customization.services, ["fstrim.timer"]);
    });

    for (const [how, content] of [
        ["a secret signature", secretSig("hunter2")],
        ["a secret output value", outputValue("hunter2", true)],
    ] as const) {
        it(`refuses a secret file content sent as ${how}, explaining why and never printing it`, async () => {
            const args = await fromWire({ files: [{ path: "/etc/token", content }] });
            assert.throws(
                () => resolveSettings("wire", { ...BASE, ...args }),
                (e: unknown) => {
                    assert.ok(pulumi.ResourceError.isInstance(e));
                    const msg = (e as Error).message;
                    assert.match(msg, /argument "files(\[0\]\.content)?"/);
                    assert.match(msg, /a secret must never be baked into an image, because everyone who can launch the AMI/);
                    assert.doesNotMatch(msg, /hunter2/);
                    return true;
                },
            );
        });
    }
});
