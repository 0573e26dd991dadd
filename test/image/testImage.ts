// Shared by the image and boot tests: the raw image built by arch-ami build-local (buildTestImage.ts) through the real provisioning
// path, cached by the content of everything that shapes it. Missing prerequisites fail in CI (CI=true)
// and skip elsewhere, always naming what is missing.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as assert from "node:assert/strict";

export const repo = path.resolve(__dirname, "../..");
/** The explicit hostname the test images are built with (the btrfs image's; buildTestImage.ts). */
export const TEST_IMAGE_HOSTNAME = "arch-test";
export const TEST_CACHE = process.env.ARCH_AMI_TEST_CACHE ?? "/var/cache/arch-ami-test";

const REQUIRED_COMMANDS = ["qemu-system-x86_64", "qemu-img", "mmdebstrap", "sgdisk", "partx", "losetup", "mdir", "blkid", "bsdtar", "zstd"];

/** What this machine lacks for the offline proof; empty when it can run it. */
export function missingPrerequisites(): string[] {
    const missing: string[] = [];
    if (process.getuid?.() !== 0) missing.push("root (loop devices, mount, chroot)");
    for (const c of REQUIRED_COMMANDS) {
        if (spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0) missing.push(c);
    }
    if (!fs.existsSync("/usr/share/OVMF/OVMF_CODE.fd") && !fs.existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd")) missing.push("OVMF (apt package ovmf)");
    return missing;
}

/** Node test option: skip (outside CI) with the reason, or undefined when the proof can run. */
export function skipUnlessCapable(): string | undefined {
    const missing = missingPrerequisites();
    if (missing.length === 0) return undefined;
    const msg = `offline proof needs: ${missing.join(", ")} (run scripts/setup as root)`;
    if (process.env.CI === "true") throw new Error(`CI cannot skip: ${msg}`);
    return msg;
}

function filesBelow(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? filesBelow(p) : [p];
    });
}

/**
 * Of src/local/, the modules that shape an image (the build, its arguments); the others (boot-local, the
 * VM, the metadata service, the prerequisite checks, the CLI's dispatch, the image record) never touch one.
 */
const LOCAL_BUILD = ["build.ts", "argsFile.ts"].map((f) => path.join(repo, "src/local", f));
const shapesImage = (f: string) => !f.startsWith(path.join(repo, "src/local/")) || LOCAL_BUILD.includes(f);

/** Hash of everything that shapes the test image: the component (src/), the package's scripts (provision/, local/) and the test image's own inputs. */
export function imageKey(): string {
    const h = createHash("sha256");
    const inputs = [...filesBelow(path.join(repo, "provision")), ...filesBelow(path.join(repo, "local")), ...filesBelow(path.join(repo, "test/image")), ...filesBelow(path.join(repo, "src"))];
    for (const f of inputs.sort()) {
        // The image's inputs only (scripts, the customization, the build and its arguments, the variants
        // chosen in this file): not the tests that inspect it.
        if (f.endsWith(".test.ts") || f.endsWith("/test/image/attach.ts") || !shapesImage(f) || /\/local\/[^/]+\.py$/.test(f)) continue;
        h.update(path.relative(repo, f)).update(fs.readFileSync(f));
    }
    return h.digest("hex").slice(0, 16);
}

export interface TestImage {
    image: string;
    log: string;
    results: Map<string, number>;
}

/**
 * Builds (or reuses) a test image through build-local (buildTestImage.ts): the customized ext4 image with
 * the CLI as users run it; the btrfs image with the refusal cases queued first on the same surrogate.
 */
export function testImage(filesystem: "ext4" | "btrfs" = "ext4"): TestImage {
    const dir = path.join(TEST_CACHE, "images", `${imageKey()}-${filesystem}`);
    const image = path.join(dir, "image.raw");
    if (!fs.existsSync(image)) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "test/image/buildTestImage.ts"), filesystem, image], {
            cwd: repo,
            stdio: ["ignore", process.stderr, process.stderr],
        });
        if (r.status !== 0) {
            throw new Error(`build-local failed with exit ${r.status}; see its output above and ${image}.log`);
        }
    }
    const results = new Map(
        fs
            .readFileSync(`${image}.results`, "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split(" "))
            .map(([n, code]) => [n, Number(code)] as [string, number]),
    );
    // The serial console ends lines with CR LF.
    return { image, log: fs.readFileSync(`${image}.log`, "utf8").replace(/\r/g, ""), results };
}

/** Exit code of the surrogate command named NAME (its file is NN-NAME), or undefined when it did not run. */
export function exitOf(t: TestImage, name: string): number | undefined {
    for (const [n, code] of t.results) if (n.replace(/^\d+-/, "") === name) return code;
    return undefined;
}

/** The serial log of the surrogate command named NAME (from its start line to its exit line). */
export function runLog(t: TestImage, name: string): string {
    const n = [...t.results.keys()].find((k) => k.replace(/^\d+-/, "") === name);
    if (n === undefined) throw new Error(`no surrogate command ${name} (ran: ${[...t.results.keys()].join(", ")})`);
    const start = t.log.lastIndexOf(`=== surrogate command ${n} ===`);
    const end = t.log.lastIndexOf(`=== surrogate command ${n} exit`);
    assert.ok(start >= 0 && end > start, `surrogate command ${n} in the log`);
    return t.log.slice(start, end);
}

/** Path of a file the test bootstrap build left (the tarball, key fingerprints, lists). */
export function bootstrapArtefactPath(name: string): string {
    return path.join(TEST_CACHE, "test-bootstrap", name);
}

/** Content of a file the test bootstrap build left next to the tarball (key fingerprints, lists). */
export function bootstrapArtefact(name: string): string {
    return fs.readFileSync(bootstrapArtefactPath(name), "utf8").trim();
}
