// The edges of each rule on the image's and the registration's arguments: the last value accepted and the first refused, and the
// anchors of each pattern (junk before or after a valid value). Expectations are written from the README's
// argument tables and the formats the arguments end up in, not from the code.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ArchAmiArgs } from "../../src/args";
import { resolveSettings } from "../../src/settings";
import { BASE_ARGS } from "./harness";

const resolve = (a: Record<string, unknown>) => resolveSettings("arch", { ...BASE_ARGS, ...a } as ArchAmiArgs);

function refused(a: Record<string, unknown>, arg: string, expected: RegExp): string {
    let message = "";
    assert.throws(() => resolve(a), (e: unknown) => {
        message = (e as Error).message;
        assert.match(message, new RegExp(`argument "${arg}"`));
        assert.match(message, expected);
        return true;
    }, `${JSON.stringify(a)} is refused`);
    return message;
}

const accepted = (a: Record<string, unknown>) => assert.doesNotThrow(() => resolve(a), `${JSON.stringify(a)} is accepted`);

describe("image arguments at their edges", () => {
    it("volumeSize: 2 and 16384 GiB are accepted (EBS gp3 limits), 1 and 16385 are not", () => {
        accepted({ volumeSize: 2 });
        accepted({ volumeSize: 16384 });
        refused({ volumeSize: 1 }, "volumeSize", /from 2 to 16384/);
        refused({ volumeSize: 16385 }, "volumeSize", /from 2 to 16384/);
    });

    it("packages: a name of 127 characters is accepted, 128 is not; a lone string is not a list", () => {
        accepted({ packages: ["a".repeat(127)] });
        refused({ packages: ["a".repeat(128)] }, "packages", /Arch package names/);
        refused({ packages: "vim" }, "packages", /list/);
    });

    it("hostname: one-character labels and 253 characters are accepted; a label ending in '-' and 254 characters are not", () => {
        accepted({ hostname: "a.b" });
        const label = "a".repeat(63);
        const h253 = [label, label, label, "a".repeat(61)].join(".");
        assert.equal(h253.length, 253);
        accepted({ hostname: h253 });
        refused({ hostname: `${h253}a` }, "hostname", /dot-separated labels of a-z 0-9 and inner '-', each 1-63 characters/);
        refused({ hostname: "host-.example" }, "hostname", /dot-separated labels/);
        refused({ hostname: "-host.example" }, "hostname", /dot-separated labels/);
    });

    it("defaultUser: a YAML word inside a longer name is fine; junk after a valid name is not", () => {
        accepted({ defaultUser: "yesman" });
        accepted({ defaultUser: "ayes" });
        accepted({ defaultUser: "_ops" });
        refused({ defaultUser: "ops!" }, "defaultUser", /user name/);
        refused({ defaultUser: "a".repeat(33) }, "defaultUser", /at most 32/);
        accepted({ defaultUser: "a".repeat(32) });
    });

    it("locale: each optional part may be absent (C, en_US, en_US.UTF-8, de_DE@euro); junk is not", () => {
        for (const l of ["C", "en_US", "en_US.UTF-8", "de_DE@euro", "de_DE.UTF-8@euro"]) accepted({ locale: l });
        refused({ locale: "de_DE@" }, "locale", /locale/);
        refused({ locale: "de_DE@eu-ro" }, "locale", /locale/);
        refused({ locale: "en_US.UTF-8 " }, "locale", /locale/);
    });

    it("timezone: zones with several levels and signs are accepted; junk before or after a zone is not", () => {
        for (const z of ["UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"]) accepted({ timezone: z });
        for (const z of ["/UTC", "UTC/", " UTC", "Europe/Berlin\n"]) refused({ timezone: z }, "timezone", /tz database zone/);
    });

    it("dates: a real calendar day (leap years), four-digit year, nothing around it", () => {
        accepted({ repositorySnapshot: "2028.02.29" });
        refused({ repositorySnapshot: "2027.02.29" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ repositorySnapshot: "2025.13.01" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ repositorySnapshot: "2025.00.10" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ repositorySnapshot: "2025.06.00" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ repositorySnapshot: "x2025.06.01" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ repositorySnapshot: "2025.06.01x" }, "repositorySnapshot", /YYYY\.MM\.DD/);
        refused({ bootstrapDate: "2025.06.01x" }, "bootstrapDate", /"latest" or a release date/);
    });

    it("bootstrapDate: 2024.05.01 (the first .tar.zst release) is accepted, the day before is not; the message names the given value", () => {
        accepted({ bootstrapDate: "2024.05.01" });
        const m = refused({ bootstrapDate: "2024.04.30" }, "bootstrapDate", /from 2024\.05\.01 on \(the first \.tar\.zst release; earlier ones are \.tar\.gz, which arch-ami does not read\)/);
        assert.match(m, /2024\.04\.30/);
        assert.doesNotMatch(m, /keep the snapshot/, "no snapshot was given");
        const s = refused({ repositorySnapshot: "2023.06.15" }, "repositorySnapshot", /keep the snapshot and set "bootstrapDate" to a later release/);
        assert.match(s, /2023\.06\.15/, "the snapshot the user wrote, not the release derived from it");
        accepted({ repositorySnapshot: "2023.06.15", bootstrapDate: "2024.05.01" });
    });

    it("mirrors: a URL with anything before or after it is refused", () => {
        const m = "https://mirror.example/$repo/os/$arch";
        for (const arg of ["mirror", "imageMirror"]) {
            accepted({ [arg]: m });
            refused({ [arg]: `see ${m}` }, arg, /URL without spaces/);
            refused({ [arg]: `${m} x` }, arg, /URL without spaces/);
        }
    });

    it("bootstrapSha256: exactly 64 hex digits (any case), nothing around them", () => {
        accepted({ bootstrapSha256: "A".repeat(64) });
        refused({ bootstrapSha256: `x${"a".repeat(64)}` }, "bootstrapSha256", /64 hexadecimal digits/);
        refused({ bootstrapSha256: `${"a".repeat(64)}x` }, "bootstrapSha256", /64 hexadecimal digits/);
    });
});

describe("registration arguments at their edges", () => {
    it("name: 115 characters are accepted (128, EC2's AMI name limit, less '-' and the 12-character suffix), 116 are not", () => {
        accepted({ name: "n".repeat(115) });
        refused({ name: "n".repeat(116) }, "name", /3 to 115 characters/);
        accepted({ name: "abc" });
    });

    it("tpmSupport must be a boolean; true needs UEFI", () => {
        refused({ tpmSupport: "yes" }, "tpmSupport", /false, or true only with bootMode "uefi" or "uefi-preferred"/);
        refused({ tpmSupport: 1 }, "tpmSupport", /false, or true/);
        accepted({ tpmSupport: true, bootMode: "uefi" });
        accepted({ tpmSupport: false, bootMode: "legacy-bios" });
    });

    it("description: 255 characters are accepted, 256 are not; the default names the kernel and the filesystem", () => {
        accepted({ description: "d".repeat(255) });
        refused({ description: "d".repeat(256) }, "description", /at most 255 characters/);
        assert.equal(resolve({}).description, "Arch Linux (linux, ext4) built by arch-ami");
        assert.equal(resolve({ kernel: "linux-lts", filesystem: "btrfs" }).description, "Arch Linux (linux-lts, btrfs) built by arch-ami");
    });
});
