// The local commands' own inputs, in process: boot-local's options (the usage text in src/local/boot.ts is
// the specification), the --args and --stack readers of build-local, the prerequisite check's message and
// the QEMU machine line. The CLI's exit codes are checked end to end by test/unit/cli.test.ts.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "../../src/local/boot";
import { readArgsFile, readStackArgs } from "../../src/local/argsFile";
import { UsageError, checkPrerequisites } from "../../src/local/prerequisites";
import { DISK_SERIAL, machineArgs } from "../../src/local/qemu";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-args-"));
const file = (name: string, text: string) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, text);
    return p;
};

function usage(f: () => unknown, message: RegExp): void {
    assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof UsageError, "a UsageError (exit 2)");
        assert.match((e as Error).message, message);
        return true;
    });
}

describe("boot-local options", () => {
    it("defaults: UEFI unset (the image's own record decides), NVMe, port 2222, no verify, 900 s", () => {
        assert.deepEqual(parseArgs(["img.raw"]), { bus: "nvme", sshPort: 2222, verify: false, timeoutSeconds: 900, image: "img.raw" });
    });

    it("every option, as --opt VALUE and as --opt=VALUE", () => {
        const o = parseArgs(["--firmware", "bios", "--bus=virtio", "--disk-size", "16384", "--ssh-key=k.pub", "--ssh-port", "65535", "--timeout=1", "--verify", "x.raw"]);
        assert.deepEqual(o, { firmware: "bios", bus: "virtio", diskSizeGiB: 16384, sshKey: "k.pub", sshPort: 65535, timeoutSeconds: 1, verify: true, image: "x.raw" });
        assert.equal((parseArgs(["--firmware=uefi", "--bus", "nvme", "-"]) as { firmware: string }).firmware, "uefi");
        assert.equal(parseArgs(["x.raw", "-h"]), "help");
        assert.equal(parseArgs(["--help"]), "help");
    });

    it("refuses what it cannot use, naming the option", () => {
        usage(() => parseArgs(["--fast", "x.raw"]), /unknown option "--fast" \(arch-ami boot-local --help\)/);
        usage(() => parseArgs(["x.raw", "--bus"]), /--bus needs a value/);
        usage(() => parseArgs(["--firmware", "coreboot", "x.raw"]), /--firmware "coreboot": expected uefi or bios/);
        usage(() => parseArgs(["--bus", "scsi", "x.raw"]), /--bus "scsi": expected nvme or virtio/);
        usage(() => parseArgs(["--disk-size", "0", "x.raw"]), /--disk-size "0": expected a whole number from 1 to 16384/);
        usage(() => parseArgs(["--disk-size", "16385", "x.raw"]), /from 1 to 16384/);
        usage(() => parseArgs(["--disk-size", "1.5", "x.raw"]), /--disk-size "1.5"/);
        usage(() => parseArgs(["--ssh-port", "65536", "x.raw"]), /--ssh-port "65536": expected a whole number from 1 to 65535/);
        usage(() => parseArgs(["--timeout", "-5", "x.raw"]), /--timeout "-5"/);
        usage(() => parseArgs([]), /no IMAGE given/);
        usage(() => parseArgs(["a.raw", "b.raw"]), /one IMAGE expected, got "a.raw", "b.raw"/);
    });
});

describe("build-local --args and --stack", () => {
    it("reads a JSON or a YAML object; an empty file is no arguments", () => {
        assert.deepEqual(readArgsFile(file("a.json", '{"packages": ["vim"], "volumeSize": 6}')), { packages: ["vim"], volumeSize: 6 });
        assert.deepEqual(readArgsFile(file("a.yaml", "packages:\n  - vim\nverify: false\n")), { packages: ["vim"], verify: false });
        assert.deepEqual(readArgsFile(file("empty.yaml", "")), {});
    });

    it("refuses a missing file, text that is neither, and a value that is not one object", () => {
        usage(() => readArgsFile(path.join(tmp, "none.json")), new RegExp(`^--args ${path.join(tmp, "none.json").replace(/[.]/g, "\\.")}: no such file$`));
        usage(() => readArgsFile(file("bad.json", '{"packages": [')), /--args .*bad\.json: not JSON or YAML/);
        usage(() => readArgsFile(file("list.json", '["vim"]')), /must hold one object of ArchAmi arguments/);
        usage(() => readArgsFile(file("word.yaml", "vim")), /must hold one object/);
    });

    it("reads a stack's config as the CLI hands it over: namespaced keys, project keys without one, structured values as JSON", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "project-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: images\nruntime: nodejs\n");
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  arch-ami:volumeSize: 6\n  arch-ami:packages: [vim, htop]\n  images:filesystem: btrfs\n  kernel: linux-lts\n");
        assert.deepEqual(readStackArgs(dir, "dev", "arch-ami"), { volumeSize: 6, packages: ["vim", "htop"] });
        assert.deepEqual(readStackArgs(dir, "dev", "images"), { filesystem: "btrfs", kernel: "linux-lts" });
    });

    it("refuses a secret by name, and names a missing stack file", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "project-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: images\n");
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), "config:\n  arch-ami:files:\n    secure: v1:abc\n");
        usage(() => readStackArgs(dir, "prod", "arch-ami"), /--stack prod \(.*Pulumi\.prod\.yaml\): .*"arch-ami:files" is a secret/);
        usage(() => readStackArgs(dir, "nope", "arch-ami"), /--stack: the stack file .*Pulumi\.nope\.yaml: no such file/);
    });
});

describe("build-local and boot-local prerequisites", () => {
    it("names each missing program once, with its package on Debian/Ubuntu, Arch and Fedora", () => {
        const req = { command: "arch-ami-no-such-tool", debian: "deb-pkg", arch: "arch-pkg", fedora: "fedora-pkg" };
        usage(
            () => checkPrerequisites("boot-local", [req, { command: "sh", debian: "dash", arch: "bash", fedora: "bash" }, req]),
            /^boot-local cannot run on this host; it needs:\n {2}- arch-ami-no-such-tool: install deb-pkg \(Debian\/Ubuntu: apt install deb-pkg; Arch: pacman -S arch-pkg; Fedora: dnf install fedora-pkg\)$/,
        );
        assert.doesNotThrow(() => checkPrerequisites("boot-local", [{ command: "sh", debian: "dash", arch: "bash", fedora: "bash" }]));
    });
});

describe("the QEMU machine line", () => {
    it("q35, two vCPUs, 1 GiB unless told, no reboot unless told, the console to the file, the disk on NVMe with the volume's serial", () => {
        const a = machineArgs({ firmware: "bios", bus: "nvme", disk: "/d.qcow2", work: tmp, serialFile: "/s.log" });
        const after = (flag: string) => a[a.indexOf(flag) + 1];
        assert.equal(after("-machine"), "q35");
        assert.equal(after("-smp"), "2");
        assert.equal(after("-m"), "1024");
        assert.ok(a.includes("-no-reboot"));
        assert.ok(a.includes("-nodefaults"));
        assert.equal(after("-serial"), "file:/s.log");
        assert.ok(a.includes(`nvme,drive=disk,serial=${DISK_SERIAL}`));
        assert.ok(a.includes("file=/d.qcow2,if=none,id=disk,format=qcow2"));
        assert.ok(!a.some((x) => x.startsWith("if=pflash")), "BIOS: no UEFI firmware");
        const v = machineArgs({ firmware: "bios", bus: "virtio", disk: "/d.qcow2", work: tmp, serialFile: "/s.log", memoryMiB: 2048, reboot: true });
        assert.equal(v[v.indexOf("-m") + 1], "2048");
        assert.ok(!v.includes("-no-reboot"));
        assert.ok(v.includes("file=/d.qcow2,if=virtio,format=qcow2"));
        assert.ok(!v.some((x) => x.startsWith("nvme")));
    });
});
