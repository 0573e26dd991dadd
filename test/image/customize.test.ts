// Issue 10: the customized test image (test/image/customization.ts), built through the real provisioning
// path: each file, script, service, kernel parameter, local package and "AUR" package, inspected in the
// image; and what must not be there (package files, the build user, the build tools, the scripts).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { AttachedImage, sh } from "./attach";
import { TestImage, runLog, skipUnlessCapable, testImage } from "./testImage";
import { TEST_FILES, TEST_KERNEL_PARAMETER, TEST_PACMAN_PACKAGE, TEST_SERVICE } from "./customization";

const skip = skipUnlessCapable();

describe("customized image (ext4): files, scripts, service, kernel parameter, local and AUR packages", { skip }, () => {
    let t: TestImage;
    let img: AttachedImage;
    before(() => {
        t = testImage();
        img = new AttachedImage(t.image);
    });
    after(() => img?.detach());
    const exists = (rel: string) => fs.lstatSync(img.p(rel), { throwIfNoEntry: false }) !== undefined;
    const lastRun = () => runLog(t, "provision");
    /** Group id of a group in the image's /etc/group. */
    const gid = (group: string) => Number(img.read("etc/group").split("\n").find((l) => l.startsWith(`${group}:`))!.split(":")[2]);
    /** pacman -Q against the image's own local database. */
    const installed = (...names: string[]) => sh("pacman", ["--root", img.root, "--dbpath", img.p("var/lib/pacman"), "-Q", ...names]).trim().split("\n");

    for (const f of TEST_FILES) {
        it(`has ${f.path} with its content, mode ${f.mode} and owner ${f.owner}`, () => {
            const rel = f.path.slice(1);
            assert.equal(img.read(rel), f.content);
            const st = fs.statSync(img.p(rel));
            assert.equal((st.mode & 0o7777).toString(8).padStart(4, "0"), f.mode);
            assert.equal(st.uid, 0);
            assert.equal(st.gid, gid(f.owner!.split(":")[1]));
            // Parents created by the build are plain 0755 directories.
            assert.equal((fs.statSync(img.p(rel.slice(0, rel.lastIndexOf("/")))).mode & 0o7777).toString(8), "755");
        });
    }
    it("ran the scripts in order inside the new system: the second saw the first's effect", () => {
        assert.equal(img.read("var/lib/arch-ami-test/scripts.log"), "first\nsecond saw: first\n");
        const run = lastRun();
        const at = (re: RegExp) => run.search(re);
        assert.ok(at(/==> \[11\/17\] script 1\/3: first-marker/) > 0);
        assert.ok(at(/==> \[11\/17\] script 1\/3: first-marker/) < at(/==> \[12\/17\] script 2\/3: second-extends/));
        assert.ok(at(/==> \[12\/17\] script 2\/3: second-extends/) < at(/==> \[13\/17\] script 3\/3: pacman-install/));
        assert.ok(!exists("root/.arch-ami-script"), "the script file is removed from the image");
    });
    it("let a script install a repository package with the image's pacman, signature checked (Required), keyring removed after", () => {
        assert.deepEqual(installed(TEST_PACMAN_PACKAGE), [`${TEST_PACMAN_PACKAGE} 1.0-1`]);
        assert.match(sh("pacman", ["--root", img.root, "--dbpath", img.p("var/lib/pacman"), "-Qi", TEST_PACMAN_PACKAGE]), /Install Reason\s*: Explicitly installed/);
        assert.equal(img.read(`usr/share/${TEST_PACMAN_PACKAGE}/README`), "arch-ami test: installed by a customization script with pacman\n");
        // The image's pacman.conf is Arch's: package signatures required (nothing in the image says Never).
        const conf = img.read("etc/pacman.conf");
        assert.match(conf, /^SigLevel\s*=\s*Required DatabaseOptional$/m);
        assert.doesNotMatch(conf, /Never/);
        // The build mirror the scripts used is gone again: the image's mirrorlist is imageMirror only
        // (config.test.ts), and neither the mount point nor the keyring the scripts had is left.
        assert.doesNotMatch(img.read("etc/pacman.d/mirrorlist"), /arch-ami: the build mirror|file:\/\//);
        assert.ok(!exists("var/tmp/arch-ami-build-mirror"));
        assert.ok(!exists("etc/pacman.d/gnupg"));
        assert.deepEqual(fs.readdirSync(img.p("var/cache/pacman/pkg")), [], "the downloaded package file is cleaned");
    });
    it("enabled the AUR package's service where its [Install] section says", () => {
        const link = `etc/systemd/system/multi-user.target.wants/${TEST_SERVICE}`;
        assert.ok(fs.lstatSync(img.p(link)).isSymbolicLink(), link);
        assert.equal(fs.readlinkSync(img.p(link)), `/usr/lib/systemd/system/${TEST_SERVICE}`);
    });
    it("appends the kernel parameter to the default command line in grub.cfg", () => {
        const linux = img.read("boot/grub/grub.cfg").split("\n").filter((l) => /^\s*linux\s+\/boot\/vmlinuz-linux /.test(l));
        assert.ok(linux.length > 0);
        for (const l of linux) assert.match(l, new RegExp(`nvme_core\\.io_timeout=4294967295 ${TEST_KERNEL_PARAMETER}$`), l);
        assert.match(img.read("etc/default/grub"), new RegExp(`^GRUB_CMDLINE_LINUX_DEFAULT=".* ${TEST_KERNEL_PARAMETER}"$`, "m"));
    });
    it("installed the local package and both AUR packages (the pinned commit), with their repository dependency", () => {
        assert.deepEqual(installed("arch-ami-test-local", "arch-ami-aur-demo", "arch-ami-aur-lib", "arch-ami-aur-lib-debug-tools", "arch-ami-test-dep"), [
            "arch-ami-test-local 1.0-1", "arch-ami-aur-demo 1.0-1", "arch-ami-aur-lib 1.0-1", "arch-ami-aur-lib-debug-tools 1.0-1", "arch-ami-test-dep 1.0-1",
        ]);
        // The split package whose name merely contains -debug- is kept (only ${pkgbase}-debug is skipped).
        assert.ok(exists("usr/share/arch-ami-aur-lib-debug-tools/README"));
        assert.equal(img.read("usr/share/arch-ami-test-local/README"), "arch-ami test: a local package\n");
        assert.equal(img.read("usr/bin/arch-ami-aur-lib-hello"), "#!/bin/sh\necho arch-ami-aur-lib 1.0\n", "the pinned 1.0, not the repository head (2.0)");
        assert.ok(fs.statSync(img.p("usr/bin/arch-ami-aur-demo")).mode & 0o111);
        assert.match(img.read(`usr/lib/systemd/system/${TEST_SERVICE}`), /ExecStart=\/usr\/bin\/arch-ami-aur-demo/);
        assert.ok(exists("usr/share/arch-ami-test-dep/README"), "the repository dependency came with them");
        // Installed as a dependency, the listed packages explicitly.
        assert.match(sh("pacman", ["--root", img.root, "--dbpath", img.p("var/lib/pacman"), "-Qi", "arch-ami-test-dep"]), /Install Reason\s*: Installed as a dependency/);
    });
    it("built the AUR package as the unprivileged build user, on the fully upgraded build root (records in the package)", () => {
        // Written by the PKGBUILD's build() (makepkg runs it without fakeroot): who ran it, and the version of
        // the toolchain stand-in in the build root: 0.9-1 in the tarball, 1.0-1 after the full upgrade.
        assert.equal(img.read("usr/share/arch-ami-aur-lib/built-by"), "arch-ami-build\n");
        assert.equal(img.read("usr/share/arch-ami-aur-lib/built-on"), "1.0-1\n");
    });
    it("fetched each validpgpkey on its own, each failure a warning (offline: both), and stopped the build user's dirmngr", () => {
        const run = lastRun();
        for (const key of ["A1B2C3D4E5F60718293A4B5C6D7E8F9012345678", "0FEDCBA9876543210FEDCBA9876543210FEDCBA9"]) {
            assert.match(run, new RegExp(`warning: AUR package 'arch-ami-aur-demo': validpgpkey ${key} could not be fetched`));
        }
        assert.match(run, /stopping gpg daemons left below \/var\/tmp\/arch-ami: .*dirmngr \(\d+, root \/var\/tmp\/arch-ami\/root\.x86_64\)/);
    });
    it("built the AUR packages in dependency order, in the bootstrap root", () => {
        const run = lastRun();
        assert.match(run, /AUR build order: arch-ami-aur-lib arch-ami-aur-demo/);
        assert.match(run, /AUR package arch-ami-aur-lib: [0-9a-f]+ arch-ami-aur-lib 1\.0/);
        assert.ok(run.indexOf("Finished making: arch-ami-aur-lib") < run.indexOf("Making package: arch-ami-aur-demo"));
        assert.match(run, /built: \/home\/arch-ami-build\/arch-ami-aur-demo\/arch-ami-aur-demo-1\.0-1-any\.pkg\.tar\.zst/);
    });
    it("leaves no package file, no build user and no build tools in the image", () => {
        assert.equal(sh("find", [img.root, "-xdev", "-name", "*.pkg.tar*"]).trim(), "");
        assert.doesNotMatch(img.read("etc/passwd"), /arch-ami-build/);
        assert.ok(!exists("home/arch-ami-build"));
        assert.throws(() => installed("base-devel"), "base-devel is not in the image");
        assert.throws(() => installed("git"), "git is not in the image");
    });
});
