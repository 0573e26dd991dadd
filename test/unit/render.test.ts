// What the component hands to the scripts, read back by the scripts themselves: the config file through
// provision.sh's own read_config (sourced), the provisioning command line, the tarball script's environment,
// and where the package's provision/ folder is found.
// Also in this file:
// The tarball stage's two pure parts: reading build-tarball.sh's report, and what the upload sends when the
// tarball is not on this machine (a text provision.sh recognizes and refuses, with the way to recover).
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ImageSettings } from "../../src/settings/types";
import { provisionCommand, provisionDir, renderConfig, tarballEnvironment } from "../../src/render";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, value } from "./harness";

const provisionSh = path.resolve(__dirname, "../../provision/provision.sh");

/** Every setting different from its default and from each other, so a swapped key shows. */
const image: ImageSettings = {
    volumeSize: 12,
    filesystem: "btrfs",
    kernel: "linux-lts",
    packages: ["vim", "htop"],
    locale: "de_DE.UTF-8",
    timezone: "Europe/Berlin",
    hostname: "archbox",
    defaultUser: "ops",
    mirror: "https://mirror.example.org/archlinux/$repo/os/$arch",
    imageMirror: "https://image-mirror.example.org/$repo/os/$arch",
    allowInsecureMirror: true,
    rebuildToken: "r1",
    bootstrapDate: "2026.11.01",
    bootstrapSha256: "ab".repeat(32),
    customization: {
        files: [{ path: "/etc/motd", mode: "0640", owner: "root:wheel", content: "hi\n" }],
        scripts: [{ name: "one", content: "echo 1\n" }],
        services: ["fstrim.timer", "sshd.service"],
        kernelParameters: ["quiet", "console=ttyS0"],
        localPackages: [
            { file: "hello-1.0-1-x86_64.pkg.tar.zst", sha256: "cd".repeat(32) },
            { file: "world-2.0-1-any.pkg.tar.zst", sha256: "ef".repeat(32) },
        ],
        aurPackages: ["yay-bin@0123abc", "paru-bin"],
        aurUrl: "https://aur.example.org",
    },
};

/** provision.sh's read_config on CONFIG (sourced, so its main does not run), then every CFG entry, FILE and SCRIPT. */
function readByProvisionSh(config: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-render-"));
    const file = path.join(dir, "build.conf");
    fs.writeFileSync(file, config);
    const r = spawnSync(
        "bash",
        ["-c", `set -Eeuo pipefail; source '${provisionSh}'; read_config '${file}'; for k in "\${!CFG[@]}"; do printf 'CFG %s=%s\\n' "$k" "\${CFG[$k]}"; done; printf 'FILE %s\\n' "\${FILES[@]}"; printf 'SCRIPT %s\\n' "\${SCRIPTS[@]}"`],
        { encoding: "utf8" },
    );
    fs.rmSync(dir, { recursive: true });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const cfg = Object.fromEntries(r.stdout.split("\n").filter((l) => l.startsWith("CFG ")).map((l) => [l.slice(4, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    const lines = (kind: string) => r.stdout.split("\n").filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
    return { cfg, files: lines("FILE"), scripts: lines("SCRIPT") };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("renderConfig, as provision.sh reads it", () => {
    const config = renderConfig(image, { volumeId: "vol-0123456789abcdef0", deviceName: "/dev/xvdf" });

    it("gives provision.sh every setting under the key it reads", () => {
        const { cfg, files, scripts } = readByProvisionSh(config);
        assert.deepEqual(cfg, {
            VOLUME_ID: "vol-0123456789abcdef0",
            DEVICE_NAME: "/dev/xvdf",
            // Where the upload puts the tarball (upload.ts), which provision.sh checks and extracts.
            BOOTSTRAP_TARBALL: "/home/admin/arch-ami-bootstrap.tar.zst",
            FILESYSTEM: "btrfs",
            KERNEL: "linux-lts",
            PACKAGES: "vim htop",
            LOCALE: "de_DE.UTF-8",
            TIMEZONE: "Europe/Berlin",
            HOSTNAME: "archbox",
            DEFAULT_USER: "ops",
            MIRROR: "https://mirror.example.org/archlinux/$repo/os/$arch",
            IMAGE_MIRROR: "https://image-mirror.example.org/$repo/os/$arch",
            SERVICES: "fstrim.timer sshd.service",
            KERNEL_PARAMETERS: "quiet console=ttyS0",
            LOCAL_PACKAGES: "/home/admin/arch-ami-packages/hello-1.0-1-x86_64.pkg.tar.zst /home/admin/arch-ami-packages/world-2.0-1-any.pkg.tar.zst",
            AUR_URL: "https://aur.example.org",
            AUR_PACKAGES: "yay-bin@0123abc paru-bin",
        });
        assert.deepEqual(files, [`/etc/motd 0640 root:wheel ${b64("hi\n")}`]);
        assert.deepEqual(scripts, [`one ${b64("echo 1\n")}`]);
    });

    it("is a text file: a comment naming its author first, one KEY=value per line, a final newline", () => {
        const lines = config.split("\n");
        assert.equal(lines[0], "# arch-ami build configuration, rendered by the ArchAmi component");
        assert.equal(lines.at(-1), "", "ends with a newline");
        for (const l of lines.slice(1, -1)) assert.match(l, /^[A-Z_]+=/);
        assert.equal(lines.length, 1 + 17 + 1 + 1 + 1);
    });
});

describe("provisionCommand", () => {
    it("stops at the first failing line, waits for cloud-init, writes the config and runs provision.sh as root", () => {
        const conf = "VOLUME_ID=vol-1\n";
        assert.deepEqual(provisionCommand(conf, "/home/admin/arch-ami/provision").split("\n"), [
            "set -eu",
            "if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || echo 'builder cloud-init reported errors; continuing'; fi",
            `echo ${b64(conf)} | base64 -d > /home/admin/arch-ami-build.conf`,
            "sudo bash /home/admin/arch-ami/provision/provision.sh /home/admin/arch-ami-build.conf",
        ]);
    });
});

describe("tarballEnvironment", () => {
    it("passes the pinned release and mirrors, and empties the tests' overrides the deployer's shell may hold", () => {
        assert.deepEqual(tarballEnvironment(image, "pacstrap", "https://boot.example.org"), {
            ARCH_AMI_BOOTSTRAP_METHOD: "pacstrap",
            ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01",
            ARCH_AMI_BOOTSTRAP_SHA256: "ab".repeat(32),
            ARCH_AMI_BOOTSTRAP_MIRROR: "https://boot.example.org",
            ARCH_AMI_MIRROR: "https://mirror.example.org/archlinux/$repo/os/$arch",
            ARCH_AMI_ALLOW_INSECURE_MIRROR: "true",
            ARCH_AMI_TEST_TRUST_ANCHORS: "",
            ARCH_AMI_TEST_MODE: "",
        });
    });
});

describe("provisionDir", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-provdir-"));
    const deep = path.join(root, "a/b/c/d/e");
    fs.mkdirSync(deep, { recursive: true });
    const plant = (dir: string) => {
        fs.mkdirSync(path.join(dir, "provision"), { recursive: true });
        fs.writeFileSync(path.join(dir, "provision/provision.sh"), "");
    };

    it("is this package's provision/ from src/", () => {
        assert.equal(provisionDir(), path.resolve(__dirname, "../../provision"));
    });

    it("finds provision/ in the folder itself or up to three above, the nearest first", () => {
        plant(path.join(root, "a/b"));
        assert.equal(provisionDir(path.join(root, "a/b/c/d/e")), path.join(root, "a/b/provision"), "three above");
        assert.equal(provisionDir(path.join(root, "a/b/c")), path.join(root, "a/b/provision"), "one above");
        assert.equal(provisionDir(path.join(root, "a/b")), path.join(root, "a/b/provision"), "in the folder");
        plant(path.join(root, "a/b/c/d"));
        assert.equal(provisionDir(path.join(root, "a/b/c/d/e")), path.join(root, "a/b/c/d/provision"), "the nearest");
    });

    it("refuses a provision/ four folders above, or one without provision.sh, naming where it looked", () => {
        const far = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-provdir-far-"));
        plant(far);
        const from = path.join(far, "1/2/3/4");
        fs.mkdirSync(from, { recursive: true });
        fs.mkdirSync(path.join(far, "1/2/3/provision"));
        assert.throws(
            () => provisionDir(from),
            (e: Error) => e.message === `arch-ami: provision/provision.sh not found in ${from} or the three folders above it; the package is incomplete`,
        );
        fs.rmSync(far, { recursive: true });
    });
});


installMocks();

const repo = path.resolve(__dirname, "../..");
const SHA = "0123456789abcdef".repeat(4);
const line = (o: Record<string, unknown>) => JSON.stringify(o);

describe("parseTarballInfo (build-tarball.sh's last line)", () => {
    let parse: typeof import("../../src/build/tarball").parseTarballInfo;
    before(async () => {
        ({ parseTarballInfo: parse } = await import("../../src/build/tarball"));
    });

    it("reads the last line after the progress output, with the script's trailing newline", () => {
        const info = { path: "/c/archlinux-bootstrap-2026.11.01-x86_64.tar.zst", sha256: SHA, date: "2026.11.01" };
        assert.deepEqual(parse(`downloading...\nverifying\n${line(info)}\n`), info);
        assert.deepEqual(parse(`  ${line(info)}  \n\n`), info);
    });

    for (const [what, bad] of [
        ["a path that is not a string", { path: 7, sha256: SHA, date: "2026.11.01" }],
        ["no path", { sha256: SHA, date: "2026.11.01" }],
        ["a sha256 one digit short", { path: "/t", sha256: SHA.slice(1), date: "2026.11.01" }],
        ["a sha256 with a character before it", { path: "/t", sha256: `x${SHA}`, date: "2026.11.01" }],
        ["a sha256 with a character after it", { path: "/t", sha256: `${SHA}x`, date: "2026.11.01" }],
        ["an upper-case sha256", { path: "/t", sha256: SHA.toUpperCase(), date: "2026.11.01" }],
        ["a date that is not a string", { path: "/t", sha256: SHA, date: 20261101 }],
        ["no date", { path: "/t", sha256: SHA }],
    ] as const) {
        it(`refuses ${what}, quoting the line`, () => {
            const last = line(bad);
            assert.throws(() => parse(`progress\n${last}\n`), (e: Error) => e.message === `arch-ami: build-tarball.sh printed an unexpected last line: ${last}`);
        });
    }
});

describe("tarballAsset (the upload's source)", () => {
    let mod: typeof import("../../src/build/tarball");
    before(async () => {
        mod = await import("../../src/build/tarball");
    });
    const urn = "urn:pulumi:dev::p::arch-ami:index:ArchAmi$arch-ami:index:ArchAmiBuild$command:local:Command::arch-0123456789ab-tarball";

    it("is the file itself when this machine holds it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-tarball-"));
        const file = path.join(dir, "t.tar.zst");
        fs.writeFileSync(file, "x");
        const a = await value(mod.tarballAsset(pulumi.output({ path: file, sha256: SHA, date: "2026.11.01" }), pulumi.output(urn)));
        assert.ok(a instanceof pulumi.asset.FileAsset);
        assert.equal(await a.path, file);
        fs.rmSync(dir, { recursive: true });
    });

    it("is a text provision.sh refuses, naming the tarball and the command to re-run, when it does not", async () => {
        const a = await value(mod.tarballAsset(pulumi.output({ path: "/nonexistent/t.tar.zst", sha256: SHA, date: "2026.11.01" }), pulumi.output(urn)));
        assert.ok(a instanceof pulumi.asset.StringAsset);
        assert.equal(
            await a.text,
            `arch-ami placeholder: the bootstrap tarball ${SHA} is not on the machine that ran this update.\n` +
                `Run the tarball command again on this machine: pulumi up --replace '${urn}'\n`,
        );
        // The oracle is provision.sh's own test (check_inputs): the first 64 bytes match grep's pattern.
        const pattern = /head -c (\d+) "\$tarball" \| grep -q '\^([^']+)'/.exec(fs.readFileSync(path.join(repo, "provision/provision.sh"), "utf8"));
        assert.ok(pattern, "provision.sh still recognizes the placeholder");
        assert.ok((await a.text).slice(0, Number(pattern[1])).startsWith(pattern[2]));
        assert.equal(mod.PLACEHOLDER_MARKER, pattern[2]);
    });
});
