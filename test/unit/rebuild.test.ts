// Rebuild exactly when the image would change: one build hash over every image-affecting input and the
// provisioning scripts' content; inputs that don't affect the image (tags, builder settings) keep it.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildHash } from "../../src/identity";
import { provisionDir } from "../../src/render";
import { resolveSettings } from "../../src/settings";
import { ArchAmiArgs } from "../../src/args";

const base: ArchAmiArgs = { sshIngressCidrs: ["203.0.113.7/32"] };
const hashOf = (a: ArchAmiArgs, dir?: string) => buildHash(resolveSettings("arch", { ...base, ...a }), dir);

describe("build hash", () => {
    const h0 = hashOf({});

    it("is stable for identical inputs and for spelled-out defaults", () => {
        assert.equal(hashOf({}), h0);
        assert.equal(hashOf({ volumeSize: 4, filesystem: "ext4", kernel: "linux", locale: "en_US.UTF-8", timezone: "UTC" }), h0);
    });

    const imageChanges: [string, ArchAmiArgs][] = [
        ["volumeSize", { volumeSize: 8 }],
        ["filesystem", { filesystem: "btrfs" }],
        ["kernel", { kernel: "linux-lts" }],
        ["packages", { packages: ["vim"] }],
        ["package order", { packages: ["vim", "htop"] }],
        ["locale", { locale: "de_DE.UTF-8" }],
        ["timezone", { timezone: "Europe/Berlin" }],
        ["hostname", { hostname: "other" }],
        ["defaultUser", { defaultUser: "ops" }],
        ["mirror", { mirror: "https://mirror.example/$repo/os/$arch" }],
        ["repositorySnapshot", { repositorySnapshot: "2026.11.01" }],
        ["bootstrapDate", { bootstrapDate: "2026.11.01" }],
        ["bootstrapSha256", { bootstrapSha256: "b".repeat(64) }],
        ["imageMirror", { imageMirror: "https://mirror.example/$repo/os/$arch" }],
        ["rebuildToken (a fresh image on purpose)", { rebuildToken: "2026-11-26" }],
        ["allowInsecureMirror", { allowInsecureMirror: true }],
    ];
    const seen = new Set([h0]);
    for (const [what, change] of imageChanges) {
        it(`changes with ${what}`, () => {
            const h = hashOf(change);
            assert.notEqual(h, h0);
            assert.ok(!seen.has(h), "each change gives its own hash");
            seen.add(h);
        });
    }
    it("gives each rebuildToken its own hash, and the empty token the default's", () => {
        assert.equal(hashOf({ rebuildToken: "" }), h0);
        assert.notEqual(hashOf({ rebuildToken: "a" }), hashOf({ rebuildToken: "b" }));
    });
    it("treats packages in another order as another image", () => {
        assert.notEqual(hashOf({ packages: ["vim", "htop"] }), hashOf({ packages: ["htop", "vim"] }));
    });

    const neutral: [string, ArchAmiArgs][] = [
        ["tags", { tags: { team: "x" } }],
        ["name", { name: "other-name" }],
        ["description", { description: "other" }],
        ["instanceType", { instanceType: "m6i.large" }],
        ["sshIngressCidrs", { sshIngressCidrs: ["198.51.100.0/24"] }],
        ["associatePublicIp", { associatePublicIp: false }],
        ["subnetId", { subnetId: "subnet-123" }],
        ["builderAmi", { builderAmi: "ami-123" }],
        ["bootstrapMethod", { bootstrapMethod: "pacstrap" }],
        ["bootstrapMirror", { bootstrapMirror: "https://other.example" }],
        // Registration only: a new AMI from the same snapshot, no new build (lifecycle.test.ts).
        ["bootMode", { bootMode: "legacy-bios" }],
        ["tpmSupport", { tpmSupport: true }],
        ["retainImages", { retainImages: true }],
    ];
    for (const [what, change] of neutral) {
        it(`does not change with ${what}`, () => assert.equal(hashOf(change), h0));
    }

    it("changes with the content of any provisioning script", () => {
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-prov-"));
        fs.cpSync(provisionDir(), copy, { recursive: true });
        assert.equal(hashOf({}, copy), h0);
        fs.appendFileSync(path.join(copy, "provision.sh"), "\n# changed\n");
        const h1 = hashOf({}, copy);
        assert.notEqual(h1, h0);
        fs.writeFileSync(path.join(copy, "new-helper.sh"), "true\n");
        assert.notEqual(hashOf({}, copy), h1);
    });

    it("does not change with verify.sh (the check has its own identity) or owned-paths (only validation reads it)", () => {
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-prov-"));
        fs.cpSync(provisionDir(), copy, { recursive: true });
        fs.appendFileSync(path.join(copy, "verify.sh"), "\n# changed\n");
        assert.equal(hashOf({}, copy), h0, "a new verify.sh re-checks the AMI, it does not rebuild it");
        fs.appendFileSync(path.join(copy, "owned-paths"), "\n# changed\n");
        assert.equal(hashOf({}, copy), h0);
    });
});

describe("AMI name", () => {
    it("is <name>-<suffix12>, another name for another build, so a rebuilt AMI never clashes with the one it replaces", async () => {
        const { installMocks, value } = await import("./harness");
        installMocks();
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("arch", { ...base, name: "team-arch" });
        const b = new ArchAmi("arch2", { ...base, name: "team-arch", volumeSize: 8 });
        const [na, nb] = [await value(a.amiName), await value(b.amiName)];
        assert.match(na, /^team-arch-[0-9a-f]{12}$/);
        assert.notEqual(na, nb);
    });
});

describe("AMI name and retained images", () => {
    it("differs for a new snapshot with identical arguments (destroy then up, a reverted change), so a retained AMI never blocks it", async () => {
        const { amiNameFor } = await import("../../src/identity");
        assert.notEqual(amiNameFor("arch", "abc", "snap-1"), amiNameFor("arch", "abc", "snap-2"));
        assert.equal(amiNameFor("arch", "abc", "snap-1"), amiNameFor("arch", "abc", "snap-1"));
        assert.match(amiNameFor("arch", "abc", "snap-1"), /^arch-[0-9a-f]{12}$/);
    });
    it("the build hash changes with the component code that makes a build, not with the registration's", () => {
        const src = path.resolve(__dirname, "../../src");
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-src-"));
        fs.cpSync(src, copy, { recursive: true });
        const settings = resolveSettings("arch", base);
        const h = buildHash(settings, provisionDir(), copy);
        assert.equal(buildHash(settings, provisionDir(), src), h, "the same code, the same hash");
        fs.appendFileSync(path.join(copy, "image/archAmiImage.ts"), "\n// changed\n");
        assert.equal(buildHash(settings, provisionDir(), copy), h, "registration code is not part of the build");
        fs.appendFileSync(path.join(copy, "build/provision.ts"), "\n// changed\n");
        assert.notEqual(buildHash(settings, provisionDir(), copy), h, "a changed build stage is a new build");
    });
    it("the build hash covers the component code that makes a build (src/build/, the identities, the rendering)", async () => {
        const { buildCodeDigest } = await import("../../src/identity");
        const src = path.resolve(__dirname, "../../src");
        const d = buildCodeDigest();
        assert.equal(buildCodeDigest(src, ".ts"), d);
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-src-"));
        fs.cpSync(src, copy, { recursive: true });
        assert.equal(buildCodeDigest(copy, ".ts"), d);
        fs.appendFileSync(path.join(copy, "build/builder.ts"), "\n// changed\n");
        const d1 = buildCodeDigest(copy, ".ts");
        assert.notEqual(d1, d);
        fs.appendFileSync(path.join(copy, "render.ts"), "\n// changed\n");
        const d2 = buildCodeDigest(copy, ".ts");
        assert.notEqual(d2, d1, "the rendering of the config and the command is part of the build");
        fs.appendFileSync(path.join(copy, "identity.ts"), "\n// changed\n");
        const d3 = buildCodeDigest(copy, ".ts");
        assert.notEqual(d3, d2, "the build hash's own code is part of the build");
        fs.appendFileSync(path.join(copy, "image/ami.ts"), "\n// changed\n");
        fs.appendFileSync(path.join(copy, "image/verify.ts"), "\n// changed\n");
        fs.appendFileSync(path.join(copy, "settings/distribution.ts"), "\n// changed\n");
        assert.equal(buildCodeDigest(copy, ".ts"), d3, "registration, check and distribution code is not part of the build");
    });
});
