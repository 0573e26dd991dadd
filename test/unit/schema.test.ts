// The component-package schema, computed offline the way `pulumi package add` does: Python/Go/YAML users
// consume ArchAmi through it, so every argument must be expressible there.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { ArchAmi } from "../../src";

const repo = path.resolve(__dirname, "../..");

type Prop = { type?: string; $ref?: string; items?: Prop; additionalProperties?: Prop; description?: string; plain?: boolean };
type Schema = {
    name: string;
    resources: Record<string, { isComponent: boolean; inputProperties: Record<string, Prop>; properties: Record<string, Prop>; requiredInputs?: string[] }>;
    types: Record<string, { type: string; enum?: { value: string }[] }>;
};

describe("component package schema", () => {
    let schema: Schema;
    before(async () => {
        const provider = new ComponentProvider({ name: "arch-ami", version: "0.1.0", dirname: repo, components: [ArchAmi] });
        schema = JSON.parse(await provider.getSchema()) as Schema;
    });

    it("ships PulumiPlugin.yaml with the nodejs runtime", () => {
        assert.match(fs.readFileSync(path.join(repo, "PulumiPlugin.yaml"), "utf8"), /^runtime: nodejs$/m);
    });

    it("declares the ArchAmi component with every argument, documented", () => {
        const r = schema.resources["arch-ami:index:ArchAmi"];
        assert.ok(r?.isComponent);
        const expected = [
            "name", "description", "tags", "subnetId", "instanceType", "sshIngressCidrs", "associatePublicIp", "builderAmi",
            "volumeSize", "filesystem", "bootMode", "tpmSupport", "retainImages", "encryption", "regions", "sharing", "deprecationTime", "ssmParameterName", "verify", "kernel", "packages", "locale", "timezone", "hostname",
            "defaultUser", "files", "scripts", "services", "kernelParameters", "localPackages", "aurPackages", "aurUrl", "mirror", "imageMirror", "repositorySnapshot", "allowInsecureMirror", "rebuildToken", "bootstrapMethod", "bootstrapMirror", "bootstrapDate", "bootstrapSha256",
        ];
        assert.deepEqual(Object.keys(r.inputProperties).sort(), [...expected].sort());
        for (const [k, p] of Object.entries(r.inputProperties)) {
            assert.ok(p.description && p.description.length > 10, `${k} has a description`);
        }
        assert.deepEqual(r.requiredInputs ?? [], []);
        assert.equal(r.inputProperties.volumeSize.type, "number");
        assert.equal(r.inputProperties.packages.type, "array");
        assert.equal(r.inputProperties.tags.additionalProperties?.type, "string");
    });

    it("turns the as-const enums into schema enums", () => {
        const r = schema.resources["arch-ami:index:ArchAmi"];
        const values = (ref: string | undefined) => schema.types[ref!.replace("#/types/", "")].enum!.map((e) => e.value).sort();
        assert.deepEqual(values(r.inputProperties.filesystem.$ref), ["btrfs", "ext4"]);
        assert.deepEqual(values(r.inputProperties.bootMode.$ref), ["legacy-bios", "uefi", "uefi-preferred"]);
        assert.deepEqual(values(r.inputProperties.kernel.$ref), ["linux", "linux-lts"]);
        assert.deepEqual(values(r.inputProperties.bootstrapMethod.$ref), ["official", "pacstrap"]);
    });

    it("declares the outputs", () => {
        const r = schema.resources["arch-ami:index:ArchAmi"];
        for (const o of ["amiId", "amiName", "snapshotId", "builderInstanceId", "buildHash"]) {
            assert.equal(r.properties[o]?.type, "string", o);
        }
        assert.equal(r.properties.amiIds?.type, "object");
        assert.equal(r.properties.amiIds?.additionalProperties?.type, "string");
    });

    it("expresses the customization arguments as arrays of plain objects and strings", () => {
        const r = schema.resources["arch-ami:index:ArchAmi"];
        const objectType = (p: Prop) => schema.types[p.items!.$ref!.replace("#/types/", "")] as unknown as { type: string; properties: Record<string, Prop>; required?: string[] };
        assert.equal(r.inputProperties.files.type, "array");
        const file = objectType(r.inputProperties.files);
        assert.equal(file.type, "object");
        assert.deepEqual(Object.keys(file.properties).sort(), ["content", "mode", "overwrite", "owner", "path"]);
        assert.deepEqual([...(file.required ?? [])].sort(), ["content", "path"]);
        assert.equal(file.properties.overwrite.type, "boolean");
        const script = objectType(r.inputProperties.scripts);
        assert.deepEqual([...(script.required ?? [])].sort(), ["content", "name"]);
        for (const k of ["services", "kernelParameters", "localPackages", "aurPackages"]) {
            assert.equal(r.inputProperties[k].type, "array", k);
            assert.equal(r.inputProperties[k].items?.type, "string", k);
        }
        assert.equal(r.inputProperties.aurUrl.type, "string");
    });
});
