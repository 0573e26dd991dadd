// The offline proof of provisioning: the image `arch-ami build-local` built through the real provision.sh in
// the local surrogate VM, inspected partition by partition and file by file; plus the refusal cases that ran
// first on the surrogate of the btrfs image.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { AttachedImage, partitions, sh } from "./attach";
import { TestImage, bootstrapArtefact, exitOf, runLog, skipUnlessCapable, testImage } from "./testImage";

const skip = skipUnlessCapable();
const MIB = 1024 * 1024;

describe("provisioned image", { skip }, () => {
    let t: TestImage;
    let img: AttachedImage;
    before(() => {
        t = testImage();
        img = new AttachedImage(t.image);
    });
    after(() => img?.detach());

    // lstat: a dangling symlink counts as present too.
    const exists = (rel: string) => fs.lstatSync(img.p(rel), { throwIfNoEntry: false }) !== undefined;

    describe("provisioning run", () => {
        // The refusal cases ran on the surrogate of the btrfs image, before its provisioning (buildTestImage.ts).
        let r: TestImage;
        before(() => {
            r = testImage("btrfs");
        });
        it("refused an unknown volume id with a clear error (exit 3)", () => {
            assert.equal(exitOf(r, "unknown-volume"), 3);
            assert.match(runLog(r, "unknown-volume"), /provision: error: volume vol-0fffffffffffffff0 not found: no NVMe disk with serial vol0fffffffffffffff0/);
        });
        it("refused a disk holding a mounted filesystem (exit 3)", () => {
            assert.equal(exitOf(r, "mounted-disk"), 3);
            assert.match(runLog(r, "mounted-disk"), /refusing \/dev\/nvme0n1: it holds mounted filesystems \(\/dev\/nvme0n1 on \/mnt\/busy\)/);
        });
        it("refused a corrupt tarball, leaving the disk as it was (exit 4; the marker on its first sector intact, else 99)", () => {
            assert.equal(exitOf(r, "corrupt-tarball"), 4);
            assert.match(runLog(r, "corrupt-tarball"), /bootstrap tarball '\/home\/admin\/arch-ami-bootstrap.tar.zst' is corrupt/);
        });
        it("stopped at pacstrap on a missing package, naming it", () => {
            assert.equal(exitOf(r, "missing-package"), 1);
            const run = runLog(r, "missing-package");
            assert.match(run, /target not found: arch-ami-no-such-package/);
            assert.match(run, /provisioning FAILED in step 6 \(pacstrap\)/);
        });
        it("refused a package signed by a key no keyring has (pacman could not find the key; pacstrap failed, exit 1)", () => {
            assert.equal(exitOf(r, "unknown-key"), 1);
            const run = runLog(r, "unknown-key");
            // pacman (libalpm sync.c check_keyring): the signing key is not in the keyring and cannot be
            // imported (the builder here has no network), so the transaction is refused.
            assert.match(run, /checking keyring\.\.\.\n(.*\n)*?error: required key missing from keyring/);
            // The key pacman could not find (its long id) is neither packager key of the test keyring.
            const id = /error: key "([0-9A-F]{16})" could not be looked up remotely/.exec(run)?.[1];
            assert.ok(id, "pacman names the signing key");
            for (const k of ["packager-old", "packager-new"]) assert.ok(!bootstrapArtefact(k).endsWith(id), `${id} is not ${k}`);
            assert.match(run, /provision: error: pacstrap failed \(.*a signature pacman refused/);
            assert.match(run, /provisioning FAILED in step 6 \(pacstrap\) with exit code 1/);
            assert.doesNotMatch(run, /installing arch-ami-test-unknown-key/);
        });
        it("refused a package changed after it was signed, naming the package and the signature (exit 1)", () => {
            assert.equal(exitOf(r, "tampered-package"), 1);
            const run = runLog(r, "tampered-package");
            assert.match(run, /arch-ami-test-tampered: signature from "arch-ami test packager 2026 <packager-2026@arch-ami\.invalid>" is invalid/);
            assert.match(run, /invalid or corrupted package \(PGP signature\)/);
            assert.match(run, /provision: error: pacstrap failed/);
            assert.match(run, /provisioning FAILED in step 6 \(pacstrap\) with exit code 1/);
            assert.doesNotMatch(run, /installing arch-ami-test-tampered/);
        });
        it("failed late, in configure (after pacstrap, with the target and chroot mounts live), naming the cause", () => {
            assert.equal(exitOf(r, "fail-in-configure"), 1);
            const run = runLog(r, "fail-in-configure");
            assert.match(run, /time zone Arch\/Nowhere not in the image's tzdata/);
            assert.match(run, /provisioning FAILED in step 7 \(configure\)/);
        });
        it("failed a customization script (bash -e) with exit 5, naming the script and its exit code", () => {
            assert.equal(exitOf(r, "failing-script"), 5);
            const run = runLog(r, "failing-script");
            assert.match(run, /==> \[9\/12\] script 2\/2: fails-on-purpose \(\+\d+s\)/);
            assert.match(run, /^before-the-failure$/m, "the script's output streams into the log");
            assert.doesNotMatch(run, /^after-the-failure-must-not-run$/m, "set -e: the script stopped at the failing command");
            assert.match(run, /provision: error: script 'fails-on-purpose' failed with exit code 7/);
            assert.match(run, /provisioning FAILED in step 9 \(script 2\/2: fails-on-purpose\) with exit code 5/);
            assert.match(run, /the volume is left unmounted/);
        });
        it("left the volume unmounted after the failed script (checked on the builder before the next run)", () => {
            assert.equal(exitOf(r, "left-unmounted"), 0);
        });
        it("built the customized image through the CLI (arch-ami build-local), with the provisioning's exit code", () => {
            assert.equal(exitOf(t, "provision"), 0);
            assert.match(t.log, /ARCH-AMI-PROVISION-OK/);
        });
        it("then re-ran cleanly on the same builder and succeeded", () => {
            assert.equal(exitOf(r, "provision"), 0);
            const last = runLog(r, "provision");
            assert.match(last, /previous state: cleaning leftovers/);
            assert.match(last, /ARCH-AMI-PROVISION-OK/);
        });
        it("left no gpg daemon running on the builder and nothing mounted (checked on the builder after the last run)", () => {
            assert.equal(exitOf(t, "builder-clean"), 0, runLog(t, "builder-clean"));
        });
        it("printed a numbered step header with elapsed time for every step, and a summary", () => {
            const last = runLog(t, "provision");
            const steps = [...last.matchAll(/==> \[(\d+)\/(\d+)\] (.+) \(\+\d+s\)$/gm)].map((m) => `${m[1]}/${m[2]} ${m[3]}`);
            assert.deepEqual(steps, [
                "1/17 check inputs", "2/17 find target disk", "3/17 partition", "4/17 filesystems", "5/17 bootstrap environment",
                "6/17 pacstrap", "7/17 AUR packages (build)", "8/17 local and AUR packages (install)", "9/17 configure",
                "10/17 files", "11/17 script 1/3: first-marker", "12/17 script 2/3: second-extends", "13/17 script 3/3: pacman-install",
                "14/17 services", "15/17 regenerate boot files", "16/17 clean", "17/17 unmount and verify",
            ]);
            const summary = last.slice(last.indexOf("==> summary"));
            // pacman -Q in the image: the 17 packages pacstrap installs (with archlinux-keyring and systemd as
            // dependencies), the local package, the three AUR packages, the dependency and the script's package.
            assert.match(summary, /^packages\s+23$/m);
            assert.match(summary, /^kernel\s+linux \(6\.\d+\.\d+[-+]\S*amd64\)$/m);
            assert.match(summary, /^filesystem\s+ext4$/m);
            assert.match(last, /step times:/);
        });
        it("found the target by the NVMe serial = volume id without the dash", () => {
            // The btrfs run's target disk was given the volume id vol-0a1b2c3d4e5f67890 (buildTestImage.ts); build-local
            // gives the customized run's a random one, which its log names too.
            assert.match(runLog(r, "provision"), /target disk: \/dev\/nvme0n1 .*volume vol-0a1b2c3d4e5f67890/);
            assert.match(runLog(t, "provision"), /target disk: \/dev\/nvme0n1 .*volume vol-[0-9a-f]{17}\)/);
        });
    });

    describe("disk layout", () => {
        it("is GPT with 1 MiB BIOS boot (EF02), ~300 MiB ESP (EF00) and the root (8304) filling the disk", () => {
            const p = partitions(t.image);
            assert.deepEqual(p.map((x) => x.code), ["EF02", "EF00", "8304"]);
            const size = (x: (typeof p)[number]) => (x.endSector - x.startSector + 1) * 512;
            assert.equal(size(p[0]), 1 * MIB);
            assert.equal(size(p[1]), 300 * MIB);
            assert.ok(size(p[2]) > fs.statSync(t.image).size - 302 * MIB - 2 * MIB);
            assert.equal(p[0].startSector % 2048, 0, "aligned");
        });
        it("has FAT32 on the ESP and ext4 on the root", () => {
            assert.equal(img.blkid(2, "TYPE"), "vfat");
            assert.equal(img.blkid(3, "TYPE"), "ext4");
        });
        it("has GRUB's boot code in the MBR and its core image in the BIOS boot partition", () => {
            const fd = fs.openSync(t.image, "r");
            const mbr = Buffer.alloc(512);
            fs.readSync(fd, mbr, 0, 512, 0);
            const core = Buffer.alloc(MIB);
            fs.readSync(fd, core, 0, MIB, 2048 * 512);
            fs.closeSync(fd);
            assert.ok(mbr.includes("GRUB"), "boot.img in the MBR");
            assert.equal(mbr.readUInt16LE(510), 0xaa55);
            assert.ok(core.subarray(0, 512).some((b) => b !== 0), "core.img written to the BIOS boot partition");
        });
        it("has the removable UEFI loader EFI/BOOT/BOOTX64.EFI on the ESP", () => {
            assert.match(img.espList("/EFI/BOOT"), /BOOTX64\.EFI/i);
        });
    });

    describe("configuration", () => {
        it("mounts root and ESP by UUID in fstab, matching the filesystems", () => {
            const fstab = img.read("etc/fstab");
            assert.match(fstab, new RegExp(`^UUID=${img.blkid(3, "UUID")}\\s+/\\s+ext4\\s`, "m"));
            assert.match(fstab, new RegExp(`^UUID=${img.blkid(2, "UUID")}\\s+/efi\\s+vfat\\s`, "m"));
        });
        it("boots the kernel with the EC2 command line, root by UUID and a serial terminal", () => {
            const cfg = img.read("boot/grub/grub.cfg");
            assert.match(cfg, /linux\s+\/boot\/vmlinuz-linux root=UUID=[0-9a-f-]+ .*console=tty0 console=ttyS0,115200 nvme_core\.io_timeout=4294967295/);
            assert.match(cfg, new RegExp(`root=UUID=${img.blkid(3, "UUID")}`));
            assert.match(cfg, /initrd\s+\/boot\/initramfs-linux\.img/);
            assert.match(cfg, /serial --speed=115200/);
            assert.match(cfg, /terminal_output serial console/);
        });
        it("has kernel and initramfs, built without autodetect and with NVMe/Xen/virtio drivers", () => {
            assert.ok(fs.statSync(img.p("boot/vmlinuz-linux")).size > MIB);
            assert.ok(fs.statSync(img.p("boot/initramfs-linux.img")).size > 100_000);
            const conf = img.read("etc/mkinitcpio.conf.d/10-arch-ami.conf");
            assert.match(conf, /^MODULES=\(nvme xen_blkfront virtio_blk virtio_pci virtio_scsi\)$/m);
            assert.doesNotMatch(conf.match(/^HOOKS=.*$/m)![0], /autodetect/);
            // The storage drivers are in the initramfs itself (its file list, not a note its builder wrote).
            // A driver the image's kernel has built in (its own modules.builtin) needs no module file.
            const files = sh("sh", ["-c", `zcat '${img.p("boot/initramfs-linux.img")}' | cpio -t --quiet`]).split("\n");
            const kernels = fs.readdirSync(img.p("usr/lib/modules"));
            assert.equal(kernels.length, 1, `one kernel in the image: ${kernels.join(", ")}`);
            const builtin = img.read(`usr/lib/modules/${kernels[0]}/modules.builtin`).split("\n");
            for (const m of ["nvme.ko", "nvme-core.ko", "xen-blkfront.ko", "virtio_blk.ko", "virtio_pci.ko", "virtio_scsi.ko", "ext4.ko"]) {
                const named = (f: string) => f.endsWith(`/${m}`) || f.endsWith(`/${m.replace(/-/g, "_")}`);
                assert.ok(files.some(named) || builtin.some(named), `${m} in the initramfs or built into the image's kernel`);
            }
        });
        it("sets locale, time zone and the mirror, and no hostname (built without one: the instance takes the metadata's)", () => {
            assert.match(img.read("etc/locale.gen"), /^en_US\.UTF-8 UTF-8$/m);
            assert.equal(img.read("etc/locale.conf"), "LANG=en_US.UTF-8\n");
            assert.equal(fs.readlinkSync(img.p("etc/localtime")), "/usr/share/zoneinfo/UTC");
            assert.ok(!exists("etc/hostname"), "no /etc/hostname");
            // systemd-firstboot would otherwise ask for a keymap on the first boot's console.
            assert.equal(img.read("etc/vconsole.conf"), "KEYMAP=us\n");
            // issue 9: the image's mirrorlist is imageMirror (test/image/config.test.ts), not the build mirror.
            assert.doesNotMatch(img.read("etc/pacman.d/mirrorlist"), /file:\/\//);
        });
        it("configures cloud-init: EC2 datasource, default user arch, growpart + resize, no root or password login", () => {
            const c = img.read("etc/cloud/cloud.cfg.d/90-arch-ami.cfg");
            assert.match(c, /^datasource_list: \[ Ec2, None \]$/m);
            assert.match(c, /default_user:\n\s+name: "arch"\n\s+lock_passwd: true/);
            assert.match(c, /sudo: \["ALL=\(ALL\) NOPASSWD:ALL"\]/);
            assert.match(c, /growpart:\n\s+mode: auto\n\s+devices: \["\/"\]/);
            assert.match(c, /^resize_rootfs: true$/m);
            assert.match(c, /^disable_root: true$/m);
            assert.match(c, /^ssh_pwauth: false$/m);
        });
        it("has a networkd DHCP fallback for en*/eth*, resolved's stub resolv.conf and Amazon Time Sync", () => {
            assert.match(img.read("etc/systemd/network/80-arch-ami-dhcp.network"), /Name=en\* eth\*[\s\S]*DHCP=yes/);
            assert.equal(fs.readlinkSync(img.p("etc/resolv.conf")), "../run/systemd/resolve/stub-resolv.conf");
            assert.match(img.read("etc/systemd/timesyncd.conf.d/90-amazon-time-sync.conf"), /NTP=169\.254\.169\.123 fd00:ec2::123/);
        });
        it("turns root and password login off in sshd", () => {
            const c = img.read("etc/ssh/sshd_config.d/90-arch-ami.conf");
            assert.match(c, /^PermitRootLogin no$/m);
            assert.match(c, /^PasswordAuthentication no$/m);
            assert.match(img.read("etc/ssh/sshd_config"), /^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf$/m);
        });
        it("initialises the pacman keyring on first boot", () => {
            const u = img.read("etc/systemd/system/pacman-init.service");
            assert.match(u, /ConditionFirstBoot=yes/);
            assert.match(u, /^After=local-fs\.target time-set\.target$/m);
            assert.match(u, /Before=sshd\.service cloud-final\.service/);
            assert.match(u, /^ExecStart=\/usr\/bin\/sh -c '\/usr\/bin\/pacman-key --init && \/usr\/bin\/pacman-key --populate'$/m);
        });
        it("enables sshd, networkd, resolved, timesyncd, the time sync check, pacman-init and the cloud-init units; not time-wait-sync", () => {
            const wants = (target: string) => fs.readdirSync(img.p(`etc/systemd/system/${target}.wants`));
            // Where each unit's [Install] section puts it (real systemctl, real unit files): resolved and
            // timesyncd are wanted by sysinit.target, the others by multi-user.target.
            const enabled = [...wants("multi-user.target"), ...wants("sysinit.target")];
            for (const u of ["sshd", "systemd-networkd", "systemd-resolved", "systemd-timesyncd", "arch-ami-time-sync-check", "pacman-init"]) {
                assert.ok(enabled.includes(`${u}.service`), `${u} enabled`);
            }
            // systemd-time-wait-sync.service (TimeoutStartSec=infinity) would hold time-sync.target until a time
            // server answers; it is not enabled anywhere.
            for (const dir of fs.readdirSync(img.p("etc/systemd/system")).filter((d) => d.endsWith(".wants"))) {
                assert.ok(!wants(dir.replace(/\.wants$/, "")).includes("systemd-time-wait-sync.service"), `systemd-time-wait-sync enabled in ${dir}`);
            }
            assert.ok(wants("multi-user.target").includes("sshd.service"));
            const cloud = wants("cloud-init.target");
            for (const u of ["cloud-init-main", "cloud-init-local", "cloud-init-network", "cloud-config", "cloud-final"]) {
                assert.ok(cloud.includes(`${u}.service`), `${u} enabled`);
            }
        });
    });

    describe("image hygiene", () => {
        it("has no machine-id content", () => {
            assert.ok(!exists("etc/machine-id") || fs.statSync(img.p("etc/machine-id")).size === 0);
            assert.ok(!exists("var/lib/dbus/machine-id"));
        });
        it("has no SSH host keys, no pacman keyring, no package cache, no cloud-init state", () => {
            assert.deepEqual(fs.readdirSync(img.p("etc/ssh")).filter((f) => f.startsWith("ssh_host_")), []);
            assert.ok(!exists("etc/pacman.d/gnupg"));
            assert.deepEqual(fs.readdirSync(img.p("var/cache/pacman/pkg")), []);
            assert.ok(!exists("var/lib/cloud"));
        });
        it("has no logs, shell histories or temp files", () => {
            assert.equal(sh("find", [img.p("var/log"), "-type", "f"]).trim(), "");
            assert.equal(sh("find", [img.root, "-xdev", "-name", ".bash_history"]).trim(), "");
            assert.deepEqual(fs.readdirSync(img.p("tmp")), []);
            assert.deepEqual(fs.readdirSync(img.p("var/tmp")), []);
        });
        it("holds no private key and no authorized key of the build", () => {
            const found = sh("sh", ["-c", `grep -rlI -e 'PRIVATE KEY-----' ${img.p("etc")} ${img.p("root")} ${img.p("home")} || true`]).trim();
            assert.equal(found, "");
            assert.equal(sh("find", [img.root, "-xdev", "-name", "authorized_keys"]).trim(), "");
            assert.ok(!exists("root/.ssh"));
        });
    });
});

describe("provisioned image, btrfs variant", { skip }, () => {
    let t: TestImage;
    let img: AttachedImage;
    before(() => {
        t = testImage("btrfs");
        img = new AttachedImage(t.image);
    });
    after(() => img?.detach());

    it("provisioned successfully, in the nine steps of an image without customizations", () => {
        assert.equal(exitOf(t, "provision"), 0);
        assert.equal(exitOf(t, "builder-clean"), 0);
        assert.match(t.log, /^filesystem\s+btrfs$/m);
        const steps = [...runLog(t, "provision").matchAll(/==> \[(\d+)\/(\d+)\] (.+) \(\+\d+s\)$/gm)].map((m) => `${m[1]}/${m[2]} ${m[3]}`);
        assert.deepEqual(steps, ["1/9 check inputs", "2/9 find target disk", "3/9 partition", "4/9 filesystems", "5/9 bootstrap environment", "6/9 pacstrap", "7/9 configure", "8/9 clean", "9/9 unmount and verify"]);
    });
    it("pins the explicit hostname: /etc/hostname, kept by cloud-init (preserve_hostname: true)", () => {
        assert.equal(img.read("etc/hostname"), "arch-test\n");
        assert.match(img.read("etc/cloud/cloud.cfg.d/90-arch-ami.cfg"), /^preserve_hostname: true$/m);
    });
    it("has a btrfs root mounted with zstd compression by UUID, and btrfs-progs installed", () => {
        assert.equal(img.blkid(3, "TYPE"), "btrfs");
        assert.match(img.read("etc/fstab"), new RegExp(`^UUID=${img.blkid(3, "UUID")}\\s+/\\s+btrfs\\s+rw,relatime,compress=zstd:1\\s+0 0$`, "m"));
        assert.ok(fs.existsSync(img.p("var/lib/pacman/local/btrfs-progs-1.0-1")));
        assert.ok(!fs.existsSync(img.p("var/lib/pacman/local/e2fsprogs-1.0-1")));
        assert.match(img.read("boot/grub/grub.cfg"), new RegExp(`root=UUID=${img.blkid(3, "UUID")}`));
    });
});
