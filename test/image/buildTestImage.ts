// Builds the test images through `arch-ami build-local` (src/local/build.ts), offline: the test bootstrap
// tarball and package repository (build-test-bootstrap.sh) instead of the real release and mirrors.
//   tsx buildTestImage.ts ext4 OUT   the customized image, through the CLI as users run it (bin/src/local/cli.js,
//                                    compiled by `npm run build`): --args FILE --tarball … --out OUT
//   tsx buildTestImage.ts btrfs OUT  the btrfs image through the same buildLocal(), with the refusal cases
//                                    queued before it on the same surrogate (the real run after them proves
//                                    a re-run after failures is clean)
// Exit status: the build's.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ArchAmiArgs } from "../../src/args";
import { REMOTE, TARGET_DEVICE, provisionCommand, provisionDir, renderConfig } from "../../src/render";
import { scriptsLanding } from "../../src/build/upload";
import { SurrogateCommand, buildLocal, resolveLocalSettings } from "../../src/local/build";
import { testCustomization } from "./customization";

const repo = path.resolve(__dirname, "../..");
const TEST_CACHE = process.env.ARCH_AMI_TEST_CACHE ?? "/var/cache/arch-ami-test";
/** The volume id of the refusal run's target disk (its NVMe serial without the dash). */
const VOLUME_ID = "vol-0a1b2c3d4e5f67890";
const DISK_GIB = 4;
/** The test repository inside the test bootstrap root. */
const TEST_MIRROR = "file:///srv/arch-ami-test-repo/$repo/os/$arch";

function testBootstrap(): string {
    const r = spawnSync("bash", [path.join(__dirname, "build-test-bootstrap.sh")], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`build-test-bootstrap.sh failed with exit ${r.status}`);
    return r.stdout.trim().split("\n").pop()!;
}

const base = (filesystem: "ext4" | "btrfs", hostname: string): ArchAmiArgs => ({
    sshIngressCidrs: ["127.0.0.1/32"],
    volumeSize: DISK_GIB,
    filesystem,
    hostname,
    mirror: TEST_MIRROR,
});

/** The customized image: built without a hostname (the product default), every customization. */
function ext4Args(tarball: string): ArchAmiArgs {
    const dir = path.dirname(tarball);
    const localPackage = path.join(dir, "local/arch-ami-test-local-1.0-1-x86_64.pkg.tar.zst");
    if (!fs.existsSync(localPackage)) throw new Error(`the test bootstrap build left no local package at ${localPackage}`);
    const aur = fs.readFileSync(path.join(dir, "aur-packages"), "utf8").trim();
    return { ...base("ext4", ""), ...testCustomization("full", aur, localPackage) };
}

/** The command line the component would run for `args` on a volume `volumeId`, optionally with one config line replaced after validation. */
function rendered(args: ArchAmiArgs, volumeId: string, corrupt?: string): string {
    const settings = resolveLocalSettings("test-image", args);
    let config = renderConfig(settings.image, { volumeId, deviceName: TARGET_DEVICE });
    if (corrupt) config = config.replace(new RegExp(`^${corrupt.split("=")[0]}=.*$`, "m"), corrupt);
    return provisionCommand(config, scriptsLanding(provisionDir()));
}

/**
 * The refusal cases (provision/README.md exit codes): an unknown volume, a disk with a mounted filesystem,
 * a corrupt tarball (the disk left untouched), a missing package, a package signed by an unknown key, a
 * tampered package, a failure inside "configure" (a config line the validation would never allow), a
 * failing customization script, then a check that the failed run left nothing mounted.
 */
function refusals(args: ArchAmiArgs): SurrogateCommand[] {
    const dev = "/dev/nvme0n1";
    const tb = REMOTE.tarball;
    const run = (extra: ArchAmiArgs = {}, corrupt?: string) => rendered({ ...args, ...extra }, VOLUME_ID, corrupt);
    return [
        { name: "unknown-volume", expect: 3, command: rendered(args, "vol-0fffffffffffffff0") },
        {
            name: "mounted-disk",
            expect: 3,
            command: `sudo mkfs.ext4 -q -F ${dev} && sudo mkdir -p /mnt/busy && sudo mount ${dev} /mnt/busy\n(${run()}); rc=$?; sudo umount /mnt/busy; sudo wipefs -q -a ${dev}; exit $rc`,
        },
        {
            // The disk is left as it was: a marker written to its first sector beforehand is still there (exit 99 otherwise).
            name: "corrupt-tarball",
            expect: 4,
            command: `mv ${tb} ${tb}.good && head -c 300000 ${tb}.good > ${tb}\nprintf arch-ami-untouched | sudo dd of=${dev} conv=notrunc status=none\n(${run()}); rc=$?; mv ${tb}.good ${tb}\n[ "$(sudo head -c 18 ${dev})" = arch-ami-untouched ] || rc=99\nsudo dd if=/dev/zero of=${dev} bs=512 count=1 status=none; exit $rc`,
        },
        { name: "missing-package", expect: 1, command: run({ packages: ["arch-ami-no-such-package"] }) },
        // Package signatures (the test repository is signed; pacman.conf: SigLevel = Required DatabaseOptional).
        { name: "unknown-key", expect: 1, command: run({ packages: ["arch-ami-test-unknown-key"] }) },
        { name: "tampered-package", expect: 1, command: run({ packages: ["arch-ami-test-tampered"] }) },
        { name: "fail-in-configure", expect: 1, command: run({}, "TIMEZONE=Arch/Nowhere") },
        { name: "failing-script", expect: 5, command: run(testCustomization("failing-script", "", undefined)) },
        {
            // The failed run released its mounts: nothing of the target disk and nothing under the work folder is
            // mounted (checked before the real run, which would release leftovers itself).
            name: "left-unmounted",
            expect: 0,
            command: `lsblk -nrpo NAME,MOUNTPOINT ${dev}; findmnt -rno TARGET | grep /var/tmp/arch-ami && exit 1\n! lsblk -nrpo MOUNTPOINT ${dev} | grep -q .`,
        },
    ];
}

async function main(): Promise<number> {
    const [variant, out] = process.argv.slice(2);
    if ((variant !== "ext4" && variant !== "btrfs") || !out) throw new Error("usage: buildTestImage.ts ext4|btrfs OUT");
    const tarball = testBootstrap();
    const cache = path.join(TEST_CACHE, "local");
    if (variant === "ext4") {
        const argsFile = `${out}.args.json`;
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(argsFile, JSON.stringify(ext4Args(tarball), null, 2) + "\n");
        const cli = path.join(repo, "bin/src/local/cli.js");
        if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
        const r = spawnSync(process.execPath, [cli, "build-local", "--args", argsFile, "--tarball", tarball, "--cache", cache, "--out", out], { stdio: "inherit" });
        return r.status ?? 1;
    }
    const args = base("btrfs", "arch-test");
    const r = await buildLocal({ name: "test-image", args, out, tarball, cache, volumeId: VOLUME_ID, before: refusals(args) });
    return r.exitCode;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(e);
        process.exit(1);
    },
);
