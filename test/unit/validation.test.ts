// Bad input: a pulumi.ResourceError naming the argument and what it accepts, before anything is registered.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, installMocks, registered, settle } from "./harness";

installMocks();

const cases: [string, Record<string, unknown>, RegExp][] = [
    ["name", { name: "ab" }, /3 to 115 characters/],
    ["name", { name: "bad*name" }, /3 to 115 characters/],
    ["name", { name: "x".repeat(116) }, /3 to 115 characters/],
    ["volumeSize", { volumeSize: 1 }, /whole number of GiB from 2 to 16384/],
    ["volumeSize", { volumeSize: 16385 }, /from 2 to 16384/],
    ["volumeSize", { volumeSize: 4.5 }, /whole number/],
    ["tpmSupport", { tpmSupport: true, bootMode: "legacy-bios" }, /only with bootMode "uefi" or "uefi-preferred"/],
    ["sshIngressCidrs", { sshIngressCidrs: ["10.0.0.1"] }, /CIDRs such as/],
    ["sshIngressCidrs", { sshIngressCidrs: ["300.1.1.1/32"] }, /CIDRs such as/],
    ["sshIngressCidrs", { sshIngressCidrs: ["10.0.0.0/33"] }, /CIDRs such as/],
    ["sshIngressCidrs", { sshIngressCidrs: [] }, /at least one CIDR/],
    ["packages", { packages: ["vim", "Bad Name"] }, /Arch package names/],
    ["packages", { packages: ["-rf"] }, /not starting with/],
    ["packages", { packages: ["vim;reboot"] }, /Arch package names/],
    ["filesystem", { filesystem: "xfs" }, /one of "ext4", "btrfs"/],
    ["bootMode", { bootMode: "bios" }, /one of "uefi-preferred", "uefi", "legacy-bios"/],
    ["kernel", { kernel: "linux-zen" }, /one of "linux", "linux-lts"/],
    ["bootstrapMethod", { bootstrapMethod: "docker" }, /one of "official", "pacstrap"/],
    ["hostname", { hostname: "Bad_Host" }, /hostname/],
    ["hostname", { hostname: "-lead.example" }, /hostname/],
    ["locale", { locale: "en US" }, /locale as in \/etc\/locale.gen/],
    ["locale", { locale: "en_US.UTF-8\nX=1" }, /locale/],
    ["timezone", { timezone: "Mars/Olympus" }, /tz database zone/],
    ["timezone", { timezone: "../etc/passwd" }, /tz database zone/],
    ["defaultUser", { defaultUser: "root" }, /not root/],
    ["defaultUser", { defaultUser: "Admin" }, /user name/],
    ...["yes", "no", "on", "off", "true", "false", "null", "y", "n"].map(
        (w): [string, Record<string, unknown>, RegExp] => ["defaultUser", { defaultUser: w }, /not a word YAML reads as a boolean or null/],
    ),
    ["mirror", { mirror: "http://mirror.example/$repo/os/$arch" }, /an https:\/\/ URL: .*set allowInsecureMirror: true/],
    ["imageMirror", { imageMirror: "http://mirror.example/$repo/os/$arch" }, /an https:\/\/ URL/],
    ["imageMirror", { imageMirror: "file:///srv/repo/$repo/os/$arch" }, /http\(s\) URL .* that instances can reach/],
    ["imageMirror", { imageMirror: "https://mirror.example/os" }, /containing "\$repo"/],
    ["bootstrapMirror", { bootstrapMirror: "http://mirror.example" }, /an https:\/\/ URL/],
    ["allowInsecureMirror", { allowInsecureMirror: "yes" }, /true or false/],
    ["bootstrapDate", { bootstrapDate: "2024.04.01" }, /from 2024\.05\.01 on \(the first \.tar\.zst release/],
    ["repositorySnapshot", { repositorySnapshot: "2023.06.15" }, /from 2024\.05\.01 on .*set "bootstrapDate" to a later release/],
    ["bootstrapSha256", { bootstrapMethod: "pacstrap", bootstrapSha256: "a".repeat(64) }, /no value with bootstrapMethod "pacstrap"/],
    ["rebuildToken", { rebuildToken: "a\nb" }, /one line/],
    ["rebuildToken", { rebuildToken: "r".repeat(257) }, /at most 256 characters on one line/],
    // The URL is checked whole: nothing before the scheme, no blank anywhere.
    ["bootstrapMirror", { bootstrapMirror: "xhttps://mirror.example" }, /an http\(s\) or file URL without spaces, e\.g\. "https:\/\/geo\.mirror\.pkgbuild\.com"/],
    ["bootstrapMirror", { bootstrapMirror: "https://mirror.example/arch x" }, /an http\(s\) or file URL without spaces/],
    ["mirror", { mirror: "ftp://mirror/$repo" }, /http\(s\) or file URL/],
    ["mirror", { mirror: "https://mirror.example/os" }, /containing "\$repo"/],
    ["repositorySnapshot", { repositorySnapshot: "2026.02.30" }, /YYYY.MM.DD/],
    ["bootstrapDate", { bootstrapDate: "2026-11-01" }, /"latest" or a release date/],
    ["bootstrapSha256", { bootstrapSha256: "abc" }, /64 hexadecimal digits/],
    ["instanceType", { instanceType: "t3" }, /EC2 instance type/],
    ["instanceType", { instanceType: "9t3.small" }, /EC2 instance type/],
    ["instanceType", { instanceType: "t3.small " }, /EC2 instance type/],
    ["description", { description: "d".repeat(256) }, /at most 255/],
    // A private builder is never reached from the deployer's public address: the default cannot apply.
    ["sshIngressCidrs", { associatePublicIp: false, sshIngressCidrs: undefined }, /with associatePublicIp false the default .* can never be/],
    ["retainImages", { retainImages: "yes" }, /true or false/],
];

describe("isCidr", () => {
    it("takes an IPv4 or IPv6 address, one slash and a prefix length that fits it", async () => {
        const { isCidr } = await import("../../src/settings/builder");
        const accepted = ["0.0.0.0/0", "203.0.113.7/32", "10.0.0.0/8", "10.0.0.0/16", "2001:db8::/64", "::/0", "2001:db8::7/128", "::ffff:1.2.3.4/100"];
        const refused = [
            "10.0.0.1", // no prefix length
            "10.0.0.0/", // an empty one
            "10.0.0.0/8/16", // two
            "/10.0.0.0/8", // before the address
            "10.0.0.0/8x",
            "10.0.0.0/x8",
            "10.0.0.0/ 8",
            "10.0.0.0/8.0",
            "10.0.0.0/0x8",
            "10.0.0.0/0008",
            "10.0.0.0/33",
            "1.2.3.4/64", // an IPv6 length on an IPv4 address
            "2001:db8::/129",
            "300.1.1.1/32",
            "foo/8",
            "/8",
        ];
        for (const c of accepted) assert.equal(isCidr(c), true, c);
        for (const c of refused) assert.equal(isCidr(c), false, c);
    });
});

describe("resolveBuilder", () => {
    const message = (arg: string, got: string, expected: string) =>
        `ArchAmi "arch": argument "${arg}" is invalid: got ${got}; expected ${expected}. Fix "${arg}" and run again (nothing was created).`;
    it("names the builder's argument and what it takes, exactly", async () => {
        const { resolveBuilder } = await import("../../src/settings/builder");
        const refused: [Record<string, unknown>, string][] = [
            [{ associatePublicIp: "yes", sshIngressCidrs: ["10.0.0.0/8"] }, message("associatePublicIp", '"yes"', "true or false")],
            [{ sshIngressCidrs: "10.0.0.0/8" }, message("sshIngressCidrs", '"10.0.0.0/8"', "a list of strings")],
            [
                { associatePublicIp: false },
                message(
                    "sshIngressCidrs",
                    "undefined",
                    "the CIDRs the builder's private address is reached from (VPN, Direct Connect, a bastion's subnet), e.g. " +
                        '["10.0.0.0/16"]: with associatePublicIp false the default (this machine\'s public IPv4) can never be where the connection comes from',
                ),
            ],
        ];
        for (const [args, m] of refused) assert.throws(() => resolveBuilder("arch", args), (e: Error) => e.message === m, JSON.stringify(args));
    });
});

describe("argument validation", () => {
    for (const [arg, bad, accepted] of cases) {
        it(`rejects ${arg} = ${JSON.stringify(Object.values(bad)[0]).slice(0, 40)} before registering anything`, async () => {
            const { ArchAmi } = await import("../../src");
            const before = registered.length;
            assert.throws(
                () => new ArchAmi(`bad-${arg}`, { ...BASE_ARGS, ...bad }),
                (e: unknown) => {
                    assert.ok(pulumi.ResourceError.isInstance(e), "a pulumi.ResourceError");
                    const msg = (e as Error).message;
                    assert.match(msg, new RegExp(`argument "${arg}"`));
                    assert.match(msg, accepted);
                    assert.match(msg, /nothing was created/);
                    return true;
                },
            );
            await settle();
            assert.equal(registered.length, before, "no resource registered");
        });
    }

    it("accepts every valid non-default value", async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("good", {
            ...BASE_ARGS,
            sshIngressCidrs: ["203.0.113.0/24", "2001:db8::/64"],
            name: "my-arch (v1)",
            volumeSize: 16,
            filesystem: "btrfs",
            bootMode: "uefi",
            tpmSupport: true,
            kernel: "linux-lts",
            packages: ["vim", "docker-compose", "lib32-glibc", "gtk+3", "python-pip"],
            locale: "de_DE.UTF-8",
            timezone: "Europe/Berlin",
            hostname: "build.example.com",
            defaultUser: "ops_user",
            repositorySnapshot: "2026.11.01",
            bootstrapDate: "2026.11.01",
            bootstrapSha256: "A".repeat(64),
            imageMirror: "https://mirror.example/archlinux/$repo/os/$arch",
            rebuildToken: "fresh-2026-11",
        });
        assert.ok(a);
        await settle();
    });

    it("accepts http mirrors with allowInsecureMirror: true", async () => {
        const { resolveSettings } = await import("../../src/settings");
        const s = resolveSettings("insecure", {
            allowInsecureMirror: true,
            mirror: "http://mirror.example/$repo/os/$arch",
            imageMirror: "http://mirror.example/$repo/os/$arch",
            bootstrapMirror: "http://mirror.example",
        });
        assert.equal(s.image.mirror, "http://mirror.example/$repo/os/$arch");
    });

    it("aligns the bootstrap source with repositorySnapshot unless given, and keeps a live image mirror", async () => {
        const { resolveSettings, ARCHIVE, DEFAULTS } = await import("../../src/settings");
        const s = resolveSettings("snap", { repositorySnapshot: "2026.11.17" });
        assert.equal(s.image.mirror, `${ARCHIVE}/repos/2026/11/17/$repo/os/$arch`);
        assert.equal(s.image.bootstrapDate, "2026.11.01");
        assert.equal(s.bootstrapMirror, ARCHIVE);
        assert.equal(s.image.imageMirror, DEFAULTS.imageMirror);
        const both = resolveSettings("snap", { repositorySnapshot: "2026.11.17", bootstrapDate: "2026.10.01", bootstrapMirror: "https://m.example" });
        assert.equal(both.image.bootstrapDate, "2026.10.01");
        assert.equal(both.bootstrapMirror, "https://m.example");
        const pinned = resolveSettings("snap", { repositorySnapshot: "2026.11.17", imageMirror: `${ARCHIVE}/repos/2026/11/17/$repo/os/$arch` });
        assert.equal(pinned.image.imageMirror, pinned.image.mirror, "pinning the image to the snapshot is possible on purpose");
    });

    it("words the bootstrap date's and the command size's refusals exactly", async () => {
        const { resolveSettings } = await import("../../src/settings");
        assert.throws(
            () => resolveSettings("arch", { bootstrapDate: "2024.04.01" }),
            (e: Error) =>
                e.message ===
                'ArchAmi "arch": argument "bootstrapDate" is invalid: got "2024.04.01"; expected a bootstrap release from 2024.05.01 on ' +
                    "(the first .tar.zst release; earlier ones are .tar.gz, which arch-ami does not read). " +
                    'Fix "bootstrapDate" and run again (nothing was created).',
        );
        // Equal shares of files and scripts: "files" is named; neither (a long package list): "packages".
        const half = "x".repeat(50_000);
        assert.throws(() => resolveSettings("arch", { files: [{ path: "/etc/a", content: half }], scripts: [{ name: "s", content: half }] }), /ArchAmi "arch": argument "files" is invalid: got "1 files and 1 scripts"/);
        assert.throws(() => resolveSettings("arch", { packages: Array.from({ length: 15_000 }, (_, i) => `pkg${i}`) }), /ArchAmi "arch": argument "packages" is invalid: got "0 files and 0 scripts"/);
        const files = Array.from({ length: 3000 }, (_, i) => ({ path: `/etc/many/f${i}`, content: "x" }));
        assert.throws(
            () => resolveSettings("arch", { files }),
            (e: Error) =>
                /^ArchAmi "arch": argument "files" is invalid: got "3000 files and 0 scripts"; expected files, scripts and lists that render a provisioning command of at most 122880 bytes \(this one has \d{6}; the config travels in the remote command's command line, one argument Linux limits to 128 KiB\)\. Ship larger content as a package \(localPackages\), or let a script download it\. Fix "files"/.test(
                    e.message,
                ),
        );
    });

    it("accepts a rebuild token of exactly 256 characters", async () => {
        const { resolveSettings } = await import("../../src/settings");
        assert.equal(resolveSettings("token", { rebuildToken: "r".repeat(256) }).image.rebuildToken, "r".repeat(256));
    });

    it("pins no hostname by default (instances take the metadata hostname)", async () => {
        const { resolveSettings } = await import("../../src/settings");
        assert.equal(resolveSettings("host", {}).image.hostname, "");
        assert.equal(resolveSettings("host", { hostname: "web.example.com" }).image.hostname, "web.example.com");
    });
});
