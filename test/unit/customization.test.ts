// The customization arguments (issue 10): each bad input is a ResourceError naming the argument before
// anything registers; each argument, and a local package's content, is part of the build hash; the config
// provision.sh reads carries them; local packages are uploaded where the config says; provision/owned-paths
// covers every image path provision.sh writes.
import { after, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, byRole, capturedByTypeName, captureOptions, installMocks, optionsByName, registered, settle } from "./harness";
import { ArchAmiArgs } from "../../src/args";
import { buildHash } from "../../src/identity";
import { localPackageRemotePath, provisionDir, renderConfig } from "../../src/render";
import { MAX_COMMAND_BYTES, readPathRules } from "../../src/customization";
import { provisionCommand } from "../../src/render";
import { resolveSettings } from "../../src/settings";

installMocks();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-custom-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pkg = (name: string, content: string) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, content);
    return p;
};
const localA = pkg("hello-1.0-1-x86_64.pkg.tar.zst", "package A");

const cases: [string, ArchAmiArgs | Record<string, unknown>, RegExp][] = [
    ["files[0].path", { files: [{ path: "etc/relative", content: "x" }] }, /an absolute path in the image/],
    ["files[0].path", { files: [{ path: "/etc/../../root/x", content: "x" }] }, /no "\." or "\.\." segments/],
    ["files[0].path", { files: [{ path: "/etc/my file", content: "x" }] }, /an absolute path in the image/],
    ["files[0].path", { files: [{ path: "/etc/dir/", content: "x" }] }, /no trailing \//],
    ["files[0].path", { files: [{ path: "/etc/fstab", content: "x" }] }, /\/etc\/fstab is written by provision\.sh.*overwrite: true/],
    ["files[0].path", { files: [{ path: "/boot/grub/custom.cfg", content: "x" }] }, /\/boot\/ is written by provision\.sh/],
    ["files[0].path", { files: [{ path: "/var/log/app.log", content: "x" }] }, /the image cleanup, which runs after your files, removes it/],
    ["files[0].path", { files: [{ path: "/etc/ssh/ssh_host_ed25519_key", content: "x" }] }, /cleanup/],
    ["files[0].path", { files: [{ path: "/run/app.conf", content: "x" }] }, /mount point of the running system/],
    ["files[0].content", { files: [{ path: "/etc/app.conf", content: pulumi.secret("hunter2") }] }, /a secret must never be baked into an image.*can read every file/],
    ["files[0].content", { files: [{ path: "/etc/app.conf", content: pulumi.output("x") }] }, /Pulumi Output cannot be used/],
    ["files[0].content", { files: [{ path: "/etc/app.conf" }] }, /a plain string/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "0999" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "x644" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "0644x" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "x1777" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "17777" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: "64" }] }, /octal digits/],
    ["files[0].mode", { files: [{ path: "/etc/app.conf", content: "x", mode: 420 }] }, /plain string/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "root" }] }, /user:group/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "root:wheel:x" }] }, /user:group/],
    // Names are checked whole: nothing before or after, at most 32 characters (useradd's limit).
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "!root:root" }] }, /user:group/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "root:root!" }] }, /user:group/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: `${"r".repeat(33)}:root` }] }, /user:group/],
    ["files[0].overwrite", { files: [{ path: "/etc/fstab", content: "x", overwrite: "yes" }] }, /true or false/],
    ["files", { files: [{ path: "/etc/a", content: "1" }, { path: "/etc/a", content: "2" }] }, /each path at most once/],
    ["files", { files: [{ path: "/etc/big", content: "x".repeat(100 * 1024) }] }, /provisioning command of at most 122880 bytes.*localPackages/],
    ["files", { files: Array.from({ length: 3000 }, (_, i) => ({ path: `/etc/many/f${i}`, content: "x" })) }, /provisioning command of at most/],
    ["scripts", { scripts: Array.from({ length: 2000 }, (_, i) => ({ name: `s${i}`, content: `echo "step ${i} of a long generated setup"` })) }, /provisioning command of at most/],
    ["files[0].path", { files: [{ path: `/etc/${"d".repeat(4100)}`, content: "x" }] }, /shorter than 4096/],
    ["files", { files: [{ path: "/etc/app", content: "1" }, { path: "/etc/app/x.conf", content: "2" }] }, /\/etc\/app\/x\.conf is inside \/etc\/app/],
    ["files[0].path", { files: [{ path: "/var/run/app.pid", content: "x" }] }, /mount point of the running system/],
    ["files[0].owner", { files: [{ path: "/home/arch/.bashrc", content: "x", owner: "arch:arch" }] }, /created by cloud-init only at first boot/],
    ["files", { files: pulumi.secret([{ path: "/etc/app.conf", content: "hunter2" }]) }, /a secret must never be baked into an image/],
    ["services[0]", { services: [pulumi.output("a.service")] }, /A Pulumi Output cannot be used/],
    ["services", { services: ["-x.service"] }, /unit names/],
    ["kernelParameters", { kernelParameters: ["--", "init=/bin/sh"] }, /not starting with -/],
    ["files[0]", { files: ["/etc/a"] }, /an object of plain values/],
    ["scripts[0].name", { scripts: [{ name: "my script", content: "true" }] }, /letters, digits and \. _ -/],
    ["scripts[0].name", { scripts: [{ name: "!setup", content: "true" }] }, /letters, digits and \. _ -/],
    ["scripts[0].name", { scripts: [{ name: "setup!", content: "true" }] }, /letters, digits and \. _ -/],
    ["scripts[0].name", { scripts: [{ name: "s".repeat(65), content: "true" }] }, /1–64 letters/],
    ["scripts[0].content", { scripts: [{ name: "empty", content: "  \n" }] }, /not empty/],
    ["scripts[0].content", { scripts: [{ name: "s", content: pulumi.secret("echo token") }] }, /secret must never be baked/],
    ["scripts", { scripts: [{ name: "s", content: "true" }, { name: "s", content: "false" }] }, /each name at most once/],
    ["services", { services: ["docker"] }, /unit names with their type/],
    ["services", { services: ["x.service; reboot"] }, /unit names/],
    ["services", { services: ["a.service", "a.service"] }, /each unit at most once/],
    ["kernelParameters", { kernelParameters: ['quiet splash="1"'] }, /no spaces, quotes/],
    ["kernelParameters", { kernelParameters: ["a=$(reboot)"] }, /no spaces, quotes, \$/],
    ["kernelParameters", { kernelParameters: ["x=1\ny=2"] }, /newlines/],
    ["kernelParameters", { kernelParameters: ["a".repeat(1025)] }, /at most 1024 characters/],
    ["localPackages[0]", { localPackages: [path.join(tmp, "missing-1.0-1-x86_64.pkg.tar.zst")] }, /an existing file on this machine/],
    ["localPackages[0]", { localPackages: [pkg("notes.txt", "x")] }, /\.pkg\.tar\.zst/],
    ["localPackages", { localPackages: [localA, localA] }, /each file name at most once/],
    ["aurPackages", { aurPackages: ["Yay"] }, /AUR package names/],
    ["aurPackages", { aurPackages: ["!yay"] }, /AUR package names/],
    ["aurPackages", { aurPackages: ["yay!"] }, /AUR package names/],
    ["aurPackages", { aurPackages: ["yay@main"] }, /@<7–40 hex digits>/],
    ["aurPackages", { aurPackages: ["yay", "yay@0123456789abcdef0123456789abcdef01234567"] }, /each package at most once/],
    ["aurUrl", { aurUrl: "http://aur.example" }, /https:\/\/ URL: over plain http/],
    ["aurUrl", { aurUrl: "ssh://aur@aur.archlinux.org" }, /https:\/\/ \(or file:\/\/ on the builder\) URL/],
    ["aurUrl", { aurUrl: "xhttps://aur.example" }, /https:\/\/ \(or file:\/\/ on the builder\) URL/],
    ["aurUrl", { aurUrl: "https://aur.example/x y" }, /https:\/\/ \(or file:\/\/ on the builder\) URL/],
    ["aurPackages", { aurPackages: ["a".repeat(171)] }, /AUR package names/],
    ["services", { services: [`${"a".repeat(249)}.service`] }, /unit names/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "root:arch" }] }, /created by cloud-init only at first boot/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: "arch:root" }] }, /created by cloud-init only at first boot/],
    ["localPackages[0]", { localPackages: [pkg("!hello-1.0-1-x86_64.pkg.tar.zst", "x")] }, /\.pkg\.tar\.zst/],
    ["localPackages[0]", { localPackages: [pkg("hello-1.0-1-x86_64.pkg.tar.zst.part", "x")] }, /\.pkg\.tar\.zst/],
    // Each argument is named when its value has the wrong type.
    ["scripts", { scripts: "setup.sh" }, /expected a list\./],
    ["files[0].path", { files: [{ path: 5, content: "x" }] }, /a plain string/],
    ["files[0].owner", { files: [{ path: "/etc/app.conf", content: "x", owner: 5 }] }, /a plain string/],
    ["scripts[0].name", { scripts: [{ name: 5, content: "true" }] }, /a plain string/],
    ["localPackages", { localPackages: "hello-1.0-1-x86_64.pkg.tar.zst" }, /a list of strings/],
    ["kernelParameters", { kernelParameters: "quiet" }, /a list of strings/],
    ["aurPackages", { aurPackages: "yay" }, /a list of strings/],
    ["aurUrl", { aurUrl: 5 }, /a plain string/],
    // Limits of the whole: the parameters' command line, each within its own limit; a path of exactly PATH_MAX.
    ["kernelParameters", { kernelParameters: ["a".repeat(600), "b".repeat(600)] }, /at most 1024 characters/],
    ["files[0].path", { files: [{ path: `/etc/${"d".repeat(4091)}`, content: "x" }] }, /shorter than 4096/],
    ["files[0].path", { files: [{ path: "/etc/./app.conf", content: "x" }] }, /no "\." or "\.\." segments/],
];

describe("customization arguments: bad input", () => {
    for (const [arg, bad, accepted] of cases) {
        it(`rejects ${arg} (${accepted.source.slice(0, 40)}) before registering anything`, async () => {
            const { ArchAmi } = await import("../../src");
            const before = registered.length;
            assert.throws(
                () => new ArchAmi(`bad-custom`, { ...BASE_ARGS, ...(bad as ArchAmiArgs) }),
                (e: unknown) => {
                    assert.ok(pulumi.ResourceError.isInstance(e), "a pulumi.ResourceError");
                    const msg = (e as Error).message;
                    assert.ok(msg.includes(`argument "${arg}"`), `names ${arg}: ${msg}`);
                    assert.match(msg, accepted);
                    assert.match(msg, /nothing was created/);
                    assert.doesNotMatch(msg, /hunter2|echo token/, "never prints a secret");
                    return true;
                },
            );
            await settle();
            assert.equal(registered.length, before, "no resource registered");
        });
    }

    it("accepts a file on a provisioning-owned path with overwrite: true, and spelled-out defaults", () => {
        const s = resolveSettings("arch", {
            ...BASE_ARGS,
            files: [
                { path: "/etc/pacman.d/mirrorlist", content: "Server = https://m.example/$repo/os/$arch\n", overwrite: true },
                { path: "/etc/app/app.conf", content: "a", mode: "600", owner: "root:root" },
                { path: "/etc/app/sticky", content: "b", mode: "1777", owner: "root:root" },
            ],
        });
        assert.deepEqual(
            s.image.customization.files.map((f) => [f.path, f.mode, f.owner]),
            [
                ["/etc/pacman.d/mirrorlist", "0644", "root:root"],
                ["/etc/app/app.conf", "0600", "root:root"],
                ["/etc/app/sticky", "1777", "root:root"],
            ],
        );
    });
});

describe("customization arguments: limits", () => {
    it("accepts each length limit exactly: a 256-character unit, a 170-character AUR package, 1024 characters of kernel parameters", () => {
        const unit = `${"a".repeat(248)}.service`;
        const aur = "a".repeat(170);
        const params = ["a".repeat(500), "b".repeat(523)];
        const c = resolveSettings("arch", { ...BASE_ARGS, services: [unit], aurPackages: [aur], kernelParameters: params }).image.customization;
        assert.deepEqual([c.services, c.aurPackages, c.kernelParameters], [[unit], [aur], params]);
    });
    it("counts the space between kernel parameters: two of 512 characters make 1025, refused and shown as one command line", () => {
        const [a, b] = ["a".repeat(512), "b".repeat(512)];
        assert.throws(
            () => resolveSettings("arch", { ...BASE_ARGS, kernelParameters: [a, b] }),
            (e: Error) => e.message.includes(`argument "kernelParameters" is invalid: got "${a} ${b}"; expected at most 1024 characters together`),
        );
    });
    it("keeps the AUR URL, less its trailing slashes, only when an AUR package is asked for", () => {
        const aur = (a: ArchAmiArgs) => resolveSettings("arch", { ...BASE_ARGS, ...a }).image.customization.aurUrl;
        assert.equal(aur({ aurPackages: ["yay"], aurUrl: "https://aur.example//" }), "https://aur.example");
        assert.equal(aur({ aurUrl: "https://aur.example" }), "");
    });
});

describe("customization arguments: build hash", () => {
    const hashOf = (a: ArchAmiArgs) => buildHash(resolveSettings("arch", { ...BASE_ARGS, ...a }));
    const h0 = hashOf({});
    const changes: [string, ArchAmiArgs][] = [
        ["files", { files: [{ path: "/etc/a.conf", content: "1" }] }],
        ["a file's content", { files: [{ path: "/etc/a.conf", content: "2" }] }],
        ["a file's mode", { files: [{ path: "/etc/a.conf", content: "1", mode: "0600" }] }],
        ["a file's owner", { files: [{ path: "/etc/a.conf", content: "1", owner: "root:wheel" }] }],
        ["scripts", { scripts: [{ name: "one", content: "true" }] }],
        ["a script's content", { scripts: [{ name: "one", content: "false" }] }],
        ["script order", { scripts: [{ name: "one", content: "true" }, { name: "two", content: "true" }] }],
        ["script order (reversed)", { scripts: [{ name: "two", content: "true" }, { name: "one", content: "true" }] }],
        ["services", { services: ["fstrim.timer"] }],
        ["kernelParameters", { kernelParameters: ["mitigations=auto"] }],
        ["localPackages", { localPackages: [localA] }],
        ["aurPackages", { aurPackages: ["yay-bin"] }],
        ["an AUR pin", { aurPackages: ["yay-bin@0123abc"] }],
        ["aurUrl (with an AUR package)", { aurPackages: ["yay-bin"], aurUrl: "https://aur.example" }],
    ];
    it("does not change with aurUrl alone (no AUR package: never used) or with the order of services", () => {
        assert.equal(hashOf({ aurUrl: "https://aur.example" }), h0);
        assert.equal(hashOf({ services: ["b.service", "a.timer"] }), hashOf({ services: ["a.timer", "b.service"] }));
    });
    const seen = new Map<string, string>([[h0, "defaults"]]);
    for (const [what, change] of changes) {
        it(`changes with ${what}`, () => {
            const h = hashOf(change);
            assert.ok(!seen.has(h), `its own hash (same as ${seen.get(h)})`);
            seen.set(h, what);
        });
    }

    it("changes with a local package's content, not with where the file lies", () => {
        const a = pkg("tool-1.0-1-x86_64.pkg.tar.zst", "v1");
        const h1 = hashOf({ localPackages: [a] });
        fs.mkdirSync(path.join(tmp, "moved"), { recursive: true });
        const moved = path.join(tmp, "moved", "tool-1.0-1-x86_64.pkg.tar.zst");
        fs.copyFileSync(a, moved);
        assert.equal(hashOf({ localPackages: [moved] }), h1, "same content elsewhere: same build");
        fs.writeFileSync(a, "v2");
        assert.notEqual(hashOf({ localPackages: [a] }), h1, "new content: new build");
    });

    it("does not change with an explicit empty customization or overwrite: false", () => {
        assert.equal(hashOf({ files: [], scripts: [], services: [], kernelParameters: [], localPackages: [], aurPackages: [] }), h0);
        assert.equal(
            hashOf({ files: [{ path: "/etc/a.conf", content: "1", overwrite: false }] }),
            hashOf({ files: [{ path: "/etc/a.conf", content: "1" }] }),
        );
    });
});

describe("customization arguments: what reaches the builder", () => {
    it("keeps every accepted provisioning command below Linux's 128 KiB limit for one argument", () => {
        const big = (a: ArchAmiArgs) => {
            const s = resolveSettings("arch", { ...BASE_ARGS, ...a });
            return Buffer.byteLength(provisionCommand(renderConfig(s.image, { volumeId: "vol-0123456789abcdef0", deviceName: "/dev/sdf" }), "/home/admin/arch-ami/provision"));
        };
        const accepted = [
            big({ files: [{ path: "/etc/big", content: "x".repeat(60 * 1024) }] }),
            big({ files: Array.from({ length: 1000 }, (_, i) => ({ path: `/etc/many/f${i}`, content: "x" })) }),
            big({ scripts: [{ name: "s", content: "y".repeat(60 * 1024) }], kernelParameters: ["k".repeat(1000)] }),
        ];
        for (const n of accepted) assert.ok(n <= MAX_COMMAND_BYTES && MAX_COMMAND_BYTES < 128 * 1024, `${n} bytes`);
    });
    it("accepts a provisioning command of exactly the limit, measured with the longest volume id, and nothing longer", () => {
        // The command is measured as the builder will send it: with the longest EBS volume id (vol- and 17 hex
        // digits). Its size moves in steps of 4 bytes (the config travels base64-encoded), so the file's path
        // length is varied too: one of them reaches the limit exactly.
        const files = (p: number, n: number): ArchAmiArgs => ({ ...BASE_ARGS, files: [{ path: `/etc/${"p".repeat(p)}`, content: "x".repeat(n) }] });
        const accepted = (a: ArchAmiArgs) => {
            try {
                resolveSettings("arch", a);
                return true;
            } catch (e) {
                if (/provisioning command of at most/.test((e as Error).message)) return false;
                throw e;
            }
        };
        const bytes = (a: ArchAmiArgs) =>
            Buffer.byteLength(provisionCommand(renderConfig(resolveSettings("arch", a).image, { volumeId: "vol-0123456789abcdef0", deviceName: "/dev/sdf" }), "/home/admin/arch-ami/provision"));
        const sizes: number[] = [];
        for (let p = 1; p <= 6; p++) {
            let [lo, hi] = [1, 120 * 1024];
            while (lo < hi) {
                const mid = Math.ceil((lo + hi) / 2);
                if (accepted(files(p, mid))) lo = mid;
                else hi = mid - 1;
            }
            assert.ok(accepted(files(p, lo)) && !accepted(files(p, lo + 1)));
            sizes.push(bytes(files(p, lo)));
        }
        for (const n of sizes) assert.ok(n <= MAX_COMMAND_BYTES, `the longest accepted command with the real volume id: ${n} bytes`);
        assert.ok(sizes.includes(MAX_COMMAND_BYTES), `one of the longest accepted commands is exactly ${MAX_COMMAND_BYTES} bytes: ${sizes.join(", ")}`);
    });

    it("renders each into provision.sh's config, content base64-encoded, in order", () => {
        const s = resolveSettings("arch", {
            ...BASE_ARGS,
            files: [{ path: "/etc/motd", content: "hello\n$USER `x`\n", mode: "0600" }],
            scripts: [
                { name: "first", content: "echo 1 > /root/one\n" },
                { name: "second", content: "cat /root/one\n" },
            ],
            services: ["fstrim.timer", "getty@ttyS1.service"],
            kernelParameters: ["mitigations=auto", "console=ttyS1,115200"],
            localPackages: [localA],
            aurPackages: ["yay-bin@0123abc", "paru-bin"],
        });
        const conf = renderConfig(s.image, { volumeId: "vol-1", deviceName: "/dev/sdf" });
        const line = (k: string) => conf.split("\n").filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
        assert.deepEqual(line("SERVICES"), ["fstrim.timer getty@ttyS1.service"]);
        assert.deepEqual(line("KERNEL_PARAMETERS"), ["mitigations=auto console=ttyS1,115200"]);
        assert.deepEqual(line("LOCAL_PACKAGES"), ["/home/admin/arch-ami-packages/hello-1.0-1-x86_64.pkg.tar.zst"]);
        assert.deepEqual(line("AUR_URL"), ["https://aur.archlinux.org"]);
        assert.deepEqual(line("AUR_PACKAGES"), ["yay-bin@0123abc paru-bin"]);
        const [file] = line("FILE");
        const [p, mode, owner, b64] = file.split(" ");
        assert.deepEqual([p, mode, owner], ["/etc/motd", "0600", "root:root"]);
        assert.equal(Buffer.from(b64, "base64").toString(), "hello\n$USER `x`\n");
        assert.deepEqual(
            line("SCRIPT").map((l) => l.split(" ")[0]),
            ["first", "second"],
        );
        assert.ok(conf.split("\n").every((l) => !/[\r]/.test(l)), "one line per key");
    });

    it("uploads each local package to the path the config names, before provisioning starts", async () => {
        const { ArchAmi } = await import("../../src");
        new ArchAmi("custom-upload", { ...BASE_ARGS, localPackages: [localA] }, { transformations: [captureOptions()] });
        await settle();
        const uploads = registered.filter((r) => r.type === "command:remote:CopyToRemote" && /^custom-upload-[0-9a-f]{12}-upload-package-0$/.test(r.name));
        assert.equal(uploads.length, 1);
        const u = uploads[0];
        assert.equal(u.inputs.remotePath, localPackageRemotePath(localA));
        assert.equal(u.inputs.remotePath, "/home/admin/arch-ami-packages/hello-1.0-1-x86_64.pkg.tar.zst");
        assert.equal(await (u.inputs.source as { path: Promise<string> | string }).path, localA);
        assert.deepEqual(capturedByTypeName.get(`command:remote:CopyToRemote::${u.name}`)?.ignoreChanges, ["connection", "source"]);
        const provision = byRole("provision", "custom-upload");
        const deps = ((optionsByName.get(provision.name)?.dependsOn as { __name?: string }[]) ?? []).map((d) => d.__name);
        assert.ok(deps.includes(u.name), `provisioning waits for ${u.name}: ${deps.join(", ")}`);
    });
});

describe("provision/owned-paths", () => {
    const rules = readPathRules(path.join(provisionDir(), "owned-paths"));
    const match = (p: string) => rules.find((r) => r.re.test(p))?.kind;

    it("matches folders with everything below them and * within one segment", () => {
        assert.equal(match("/boot/grub/grub.cfg"), "owned");
        assert.equal(match("/boot"), "owned");
        assert.equal(match("/bootstrap.conf"), undefined);
        assert.equal(match("/home/arch/.ssh/authorized_keys"), "cleaned");
        assert.equal(match("/home/arch/.config/x"), undefined);
        assert.equal(match("/etc/passwd-"), "cleaned");
        assert.equal(match("/etc/app/x-"), undefined);
    });

    it("reads each rule as kind, absolute pattern: comments, blank lines and surrounding blanks ignored, a bad line refused by name", () => {
        const file = path.join(tmp, "owned-paths");
        fs.writeFileSync(file, "# a comment\n\n  owned   /etc/app/  \n\truntime /run\ncleaned /var/log/*.log\n");
        const rules = readPathRules(file);
        assert.deepEqual(
            rules.map((r) => [r.kind, r.pattern, r.re.source]),
            [
                ["owned", "/etc/app/", "^\\/etc\\/app(\\/.*)?$"],
                ["runtime", "/run", "^\\/run$"],
                ["cleaned", "/var/log/*.log", "^\\/var\\/log\\/[^/]*\\.log$"],
            ],
        );
        const [owned, runtime, cleaned] = rules.map((r) => r.re);
        assert.deepEqual([owned.test("/etc/app"), owned.test("/etc/app/x/y"), owned.test("/etc/apps")], [true, true, false]);
        assert.deepEqual([runtime.test("/run"), runtime.test("/run/x")], [true, false], "without a trailing / a rule is that path only");
        assert.deepEqual([cleaned.test("/var/log/a.log"), cleaned.test("/var/log/x/a.log"), cleaned.test("/var/log/a_log")], [true, false, false]);
        for (const bad of ["owned", "kept /etc/x", "owned etc/x", "owned /etc/x extra", "Owned /etc/x"]) {
            fs.writeFileSync(file, `${bad}\n`);
            assert.throws(() => readPathRules(file), { message: `${file}: bad line "${bad}"` }, bad);
        }
    });

    it("covers every image path provision.sh writes or removes (each $TARGET/<path> it names)", () => {
        const script = fs.readFileSync(path.join(provisionDir(), "provision.sh"), "utf8");
        // Paths provision.sh only reads, looks up, or makes folders of.
        const readOnly = [
            /^\/usr\//,
            /^\/home$/,
            /^\/efi$/,
            /\/\$/, // built from variables ($dir/$unit…)
            /^\/etc\/(cloud\/cloud\.cfg\.d|mkinitcpio\.conf\.d|ssh\/sshd_config\.d|systemd\/network|systemd\/timesyncd\.conf\.d|systemd\/system\/(sshdgenkeys|cloud-init-main|cloud-init-local)\.service\.d)$/,
        ];
        const paths = [...new Set([...script.matchAll(/\$TARGET"?(\/[^"\s)]*)/g)].map((m) => m[1].replace(/^\/\$.*/, "/$")))];
        assert.ok(paths.length > 20, `found ${paths.length} paths`);
        const uncovered = paths.filter((p) => !readOnly.some((re) => re.test(p)) && match(p) === undefined);
        assert.deepEqual(uncovered, [], "add these to provision/owned-paths (or to this test's read-only list)");
    });
});
