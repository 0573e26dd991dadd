// The component's wiring (src/archAmi.ts, src/image/archAmiImage.ts): the outputs each component registers
// (what `pulumi stack output` and a consumer's stack reference read; the engine stores them from
// RegisterResourceOutputs, pulumi sdk/nodejs/resource.ts ComponentResource.registerOutputs), the check's
// argument line and what the AMI carries from the build.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, installMocks, registered, settle, value } from "./harness";

installMocks();

/** registerOutputs calls by component type, as the SDK receives them. */
const outputsOf = new Map<string, Record<string, unknown>>();
type Register = (outputs?: pulumi.Inputs | Promise<pulumi.Inputs> | pulumi.Output<pulumi.Inputs>) => void;
// registerOutputs is protected: reach the prototype's method through an untyped view of it.
const proto = pulumi.ComponentResource.prototype as unknown as { registerOutputs: Register };
const original = proto.registerOutputs;
proto.registerOutputs = function (this: unknown, outputs) {
    // The SDK keeps the first call only (its own later call, after `initialize`, passes nothing).
    const self = this as { __pulumiType: string; __registered?: boolean };
    if (!self.__registered) outputsOf.set(self.__pulumiType, outputs as Record<string, unknown>);
    return original.call(this, outputs);
};

async function resolved(o: Record<string, unknown>): Promise<Record<string, unknown>> {
    return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, v]) => [k, await value(pulumi.output(v))])));
}

describe("component wiring", () => {
    let arch: Record<string, unknown>;
    let image: Record<string, unknown>;
    let build: Record<string, unknown>;
    let reg: string;
    let hash: string;
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("wire", { ...BASE_ARGS, kernel: "linux-lts", packages: ["vim", "htop"], regions: [{ region: "eu-west-1" }] });
        hash = await value(a.buildHash);
        await value(a.amiId);
        await settle();
        reg = registered.find((r) => r.type === "arch-ami:index:ArchAmiImage")!.name;
        arch = await resolved(outputsOf.get("arch-ami:index:ArchAmi")!);
        image = await resolved(outputsOf.get("arch-ami:index:ArchAmiImage")!);
        build = await resolved(outputsOf.get("arch-ami:index:ArchAmiBuild")!);
    });

    it("ArchAmi registers its six outputs, with the values of its properties", () => {
        const build = registered.find((r) => r.type === "arch-ami:index:ArchAmiBuild")!.name;
        assert.deepEqual(arch, {
            amiId: `${reg}-ami-id`,
            amiIds: { "us-east-1": `${reg}-ami-id`, "eu-west-1": `${reg}-copy-eu-west-1-id` },
            amiName: registered.find((r) => r.name === `${reg}-ami`)!.inputs.name,
            snapshotId: `${build}-snapshot-id`,
            builderInstanceId: `${build}-builder-id`,
            buildHash: hash,
        });
        assert.equal(build, `wire-${hash.slice(0, 12)}`);
    });

    it("ArchAmiBuild registers snapshotId, builderInstanceId and bootstrapDate", () => {
        const b = registered.find((r) => r.type === "arch-ami:index:ArchAmiBuild")!.name;
        assert.deepEqual(build, { snapshotId: `${b}-snapshot-id`, builderInstanceId: `${b}-builder-id`, bootstrapDate: "2026.11.01" });
    });

    it("the root snapshot says which build it is: description and Name tag, plus the user's tags", () => {
        const b = registered.find((r) => r.type === "arch-ami:index:ArchAmiBuild")!.name;
        const snap = registered.find((r) => r.name === `${b}-snapshot`)!;
        assert.equal(snap.inputs.description, `arch-ami build ${hash} root`);
        assert.deepEqual(snap.inputs.tags, { team: "platform", "arch-ami:build-hash": hash, Name: `${b}-snapshot` });
    });

    it("ArchAmiImage registers amiId, amiIds and amiName", () => {
        assert.deepEqual(image, { amiId: arch.amiId, amiIds: arch.amiIds, amiName: arch.amiName });
    });

    it("the check runs verify.sh with the image's packages (base, the kernel, then packages in order) and requires time sync", () => {
        const check = registered.find((r) => r.type === "command:remote:Command" && r.name.startsWith(`${reg}-verify-`))!;
        assert.match(String(check.inputs.create), /\nbash \/tmp\/arch-ami-verify\.sh '--packages' 'base linux-lts vim htop' '--require-time-sync' > /);
    });

    it("the AMI carries the build's hash, bootstrap date, kernel and filesystem as tags", () => {
        const ami = registered.find((r) => r.name === `${reg}-ami`)!;
        const tags = ami.inputs.tags as Record<string, string>;
        assert.equal(tags["arch-ami:build-hash"], hash);
        assert.equal(tags["arch-ami:kernel"], "linux-lts");
        assert.equal(tags["arch-ami:filesystem"], "ext4");
        assert.equal(tags["arch-ami:bootstrap-date"], "2026.11.01");
        assert.equal(tags.team, "platform");
        assert.equal(tags.Name, ami.inputs.name);
    });
});
