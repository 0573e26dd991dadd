// `arch-ami boot-local` as users run it: the compiled CLI (bin/src/local/cli.js, the package's bin, built
// here with `npm run build` so the run never tests a stale build), spawned as a process, its exit code and
// output checked. Not under tsx: what ships is the compiled JavaScript, and its paths differ (local/listen.py
// and local/relay.py three folders up, the metadata service as imds-server.js). Usage errors exit 2 naming
// the option; `--verify` exits 0 on the test image (verify.sh passed, the guest powered itself off) and,
// on a copy of it with a unit that fails at boot, exits with verify.sh's status 1 naming the check and the
// unit. ARCH_AMI_BOOT_LOCAL_IMAGE names another image to boot (a raw image, with or without its record).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { skipUnlessCapable, testImage } from "../image/testImage";
import { imageInfoPath } from "../../src/local/imageInfo";
import { outputPath } from "../lib/output";
import { SSH_TIMEOUT } from "./firstboot";

const repo = path.resolve(__dirname, "../..");
const CLI = path.join(repo, "bin/src/local/cli.js");
const skip = skipUnlessCapable();
/** The unit the broken image fails at boot. */
const BROKEN_UNIT = "arch-ami-broken-on-purpose.service";

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** Runs the compiled CLI; its output goes to test-output/firstboot/<log> as it comes. SIGTERM after `timeoutSeconds`. */
function cli(args: string[], log: string, timeoutSeconds: number): Promise<Run> {
    const file = outputPath("firstboot", log);
    fs.writeFileSync(file, `$ arch-ami ${args.join(" ")}\n`);
    const start = Date.now();
    return new Promise((resolve) => {
        const p = spawn(process.execPath, [CLI, ...args], { cwd: os.tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d: Buffer) => {
            stdout += d.toString();
            fs.appendFileSync(file, d);
        });
        p.stderr.on("data", (d: Buffer) => {
            stderr += d.toString();
            fs.appendFileSync(file, d);
        });
        const timer = setTimeout(() => p.kill("SIGTERM"), timeoutSeconds * 1000);
        p.on("exit", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr, seconds: (Date.now() - start) / 1000 });
        });
    });
}

/** A sparse copy of `image` (and its record) with a unit that fails at every boot, enabled in multi-user.target. */
function brokenCopy(image: string, copy: string): void {
    execFileSync("cp", ["--sparse=always", image, copy]);
    if (fs.existsSync(imageInfoPath(image))) fs.copyFileSync(imageInfoPath(image), imageInfoPath(copy));
    // Read-write this time; partx because this kernel does not scan partitions on loop devices (test/image/attach.ts).
    const loop = execFileSync("losetup", ["--find", "--show", copy], { encoding: "utf8" }).trim();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-broken-root-"));
    try {
        execFileSync("partx", ["-a", loop]);
        execFileSync("mount", [`${loop}p3`, root]);
        try {
            const unit = path.join(root, "etc/systemd/system", BROKEN_UNIT);
            fs.writeFileSync(unit, "[Unit]\nDescription=A unit that fails on purpose (boot-local test)\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/false\n\n[Install]\nWantedBy=multi-user.target\n");
            const wants = path.join(root, "etc/systemd/system/multi-user.target.wants");
            fs.mkdirSync(wants, { recursive: true });
            fs.symlinkSync(`/etc/systemd/system/${BROKEN_UNIT}`, path.join(wants, BROKEN_UNIT));
        } finally {
            execFileSync("umount", [root]);
        }
    } finally {
        execFileSync("partx", ["-d", loop]);
        execFileSync("losetup", ["-d", loop]);
        fs.rmdirSync(root);
    }
}

describe("arch-ami boot-local", () => {
    before(() => {
        execFileSync("npm", ["run", "build"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] });
    });

    it("exits 2 naming the option for a usage error: an unknown option, no IMAGE, a missing IMAGE, a bad value", async () => {
        const cases: [string[], RegExp][] = [
            [["boot-local", "image.raw", "--no-such-option"], /boot-local: unknown option "--no-such-option"/],
            [["boot-local", "--verify"], /boot-local: no IMAGE given/],
            [["boot-local", "/nonexistent/image.raw"], /boot-local: IMAGE \/nonexistent\/image\.raw: no such file/],
            [["boot-local", "image.raw", "--firmware", "coreboot"], /boot-local: --firmware "coreboot": expected uefi or bios/],
            [["boot-local", "image.raw", "--ssh-port", "65536"], /boot-local: --ssh-port "65536": expected a whole number from 1 to 65535/],
            [["boot-local", "image.raw", "--timeout"], /boot-local: --timeout needs a value/],
        ];
        for (const [args, message] of cases) {
            const r = await cli(args, "boot-local-usage.log", 60);
            assert.equal(r.status, 2, `${args.join(" ")}: exit 2 (usage error):\n${r.stdout}${r.stderr}`);
            assert.match(r.stderr, message, args.join(" "));
        }
        const help = await cli(["boot-local", "--help"], "boot-local-help.log", 60);
        assert.equal(help.status, 0);
        assert.match(help.stdout, /NO internet access/, "--help says the instance has no internet");
    });

    describe("--verify", { skip }, () => {
        let image = "";
        let work = "";
        before(() => {
            image = process.env.ARCH_AMI_BOOT_LOCAL_IMAGE ?? testImage().image;
            work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-boot-local-test-"));
        });
        after(() => fs.rmSync(work, { recursive: true, force: true }));
        const timeout = (SSH_TIMEOUT + 2400) * 1000;

        it("passes on the test image: verify.sh's checks all pass, the guest powers itself off, exit 0", { timeout }, async () => {
            const r = await cli(["boot-local", image, "--verify", "--timeout", String(SSH_TIMEOUT)], "boot-local-verify-pass.log", SSH_TIMEOUT + 2300);
            const out = `${r.stdout}\n${r.stderr}`;
            assert.equal(r.status, 0, `boot-local --verify exits 0 on the test image:\n${out.slice(-4000)}`);
            assert.match(r.stdout, /^verify: all checks passed$/m);
            assert.equal((r.stdout.match(/^ok: /gm) ?? []).length, 8, "verify.sh's eight checks passed");
            assert.match(r.stdout, /^ok: DNS through systemd-resolved \(arch-ami-local\.example\)$/m, "the DNS check asked the local DNS server's name");
            assert.match(r.stdout, /the guest powered itself off \(QEMU exit 0\)/);
            console.log(`boot-local --verify (pass): ${r.seconds.toFixed(1)} s`);
        });

        it("fails on an image with a failed unit: exit 1 (verify.sh's), naming the check and the unit", { timeout }, async () => {
            const copy = path.join(work, "broken.raw");
            brokenCopy(image, copy);
            const r = await cli(["boot-local", copy, "--verify", "--timeout", String(SSH_TIMEOUT)], "boot-local-verify-fail.log", SSH_TIMEOUT + 2300);
            const out = `${r.stdout}\n${r.stderr}`;
            assert.equal(r.status, 1, `boot-local --verify exits with verify.sh's status 1:\n${out.slice(-4000)}`);
            assert.match(r.stdout, new RegExp(`^FAILED: system running, no failed unit: .*${BROKEN_UNIT.replace(/\./g, "\\.")}`, "m"), "the failed check names the unit");
            assert.match(r.stdout, /^verify: 1 check\(s\) failed: system running, no failed unit$/m, "only that check failed");
            assert.match(r.stderr, /verification of the new AMI failed \(verify\.sh exit 1\)/, "the AWS check's own failure message");
            assert.match(r.stdout, /verification failed \(verify\.sh exit 1\)/);
            console.log(`boot-local --verify (fail): ${r.seconds.toFixed(1)} s`);
        });
    });
});
