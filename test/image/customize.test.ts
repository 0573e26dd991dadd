// Issue 10: the customized test image (test/image/customization.ts), built through the real provisioning
// path: each file, script, service, kernel parameter, local package and "AUR" package, inspected in the
// image; and what must not be there (package files, the build user, the build tools, the scripts).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { AttachedImage, sh } from "./attach";
import { TestImage, skipUnlessCapable, testImage } from "./testImage";
import { TEST_FILES, TEST_KERNEL_PARAMETER, TEST_SERVICE } from "./customization";

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
    const lastRun = () => t.log.slice(t.log.lastIndexOf("=== surrogate command 07-provision ==="));
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
    it("ran both scripts in order inside the new system: the second saw the first's effect", () => {
        assert.equal(img.read("var/lib/arch-ami-test/scripts.log"), "first\nsecond saw: first\n");
        const run = lastRun();
        assert.ok(run.search(/==> \[11\/16\] script 1\/2: first-marker/) < run.search(/==> \[12\/16\] script 2\/2: second-extends/));
        assert.ok(!exists("root/.arch-ami-script"), "the script file is removed from the image");
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
        assert.deepEqual(installed("arch-ami-test-local", "arch-ami-aur-demo", "arch-ami-aur-lib", "arch-ami-test-dep"), [
            "arch-ami-test-local 1.0-1", "arch-ami-aur-demo 1.0-1", "arch-ami-aur-lib 1.0-1", "arch-ami-test-dep 1.0-1",
        ]);
        assert.equal(img.read("usr/share/arch-ami-test-local/README"), "arch-ami test: a local package\n");
        assert.equal(img.read("usr/bin/arch-ami-aur-lib-hello"), "#!/bin/sh\necho arch-ami-aur-lib 1.0\n", "the pinned 1.0, not the repository head (2.0)");
        assert.ok(fs.statSync(img.p("usr/bin/arch-ami-aur-demo")).mode & 0o111);
        assert.match(img.read(`usr/lib/systemd/system/${TEST_SERVICE}`), /ExecStart=\/usr\/bin\/arch-ami-aur-demo/);
        assert.ok(exists("usr/share/arch-ami-test-dep/README"), "the repository dependency came with them");
        // Installed as a dependency, the listed packages explicitly.
        assert.match(sh("pacman", ["--root", img.root, "--dbpath", img.p("var/lib/pacman"), "-Qi", "arch-ami-test-dep"]), /Install Reason\s*: Installed as a dependency/);
    });
    it("built the AUR packages in dependency order, as the unprivileged build user, in the bootstrap root", () => {
        const run = lastRun();
        assert.match(run, /AUR build order: arch-ami-aur-lib arch-ami-aur-demo/);
        assert.match(run, /build user: arch-ami-build \(in the bootstrap root only\)/);
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
