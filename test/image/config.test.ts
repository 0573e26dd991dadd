// Issue 9 (settings that survive first boot, hotplug, image mirror, initramfs, keyring, cleanup), two ways:
// provision.sh's functions sourced on this machine (both hostname cases, the rendered cloud-init config
// parsed with PyYAML as cloud-init parses it, the work-directory guard against mounts), and the image the
// real provisioning run built in the local surrogate (arch-ami build-local, test/image/buildTestImage.ts).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AttachedImage, sh } from "./attach";
import { TestImage, bootstrapArtefact, bootstrapArtefactPath, repo, runLog, skipUnlessCapable, testImage } from "./testImage";
import { DEFAULTS } from "../../src/settings";

const skip = skipUnlessCapable();
const provision = path.join(repo, "provision/provision.sh");

/** Runs bash with provision.sh sourced (its main does not run), then SCRIPT. */
function withProvision(script: string, env: Record<string, string> = {}) {
    return spawnSync("bash", ["-c", `set -Eeuo pipefail; source '${provision}'; ${script}`], {
        encoding: "utf8",
        env: { ...process.env, ...env },
    });
}

/** cloud-init reads its config with PyYAML's safe_load (YAML 1.1: yes/no/on/off are booleans). */
function cloudInitYaml(file: string): Record<string, unknown> {
    const r = spawnSync("python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `PyYAML (apt package python3-yaml, installed by scripts/setup): ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("provision.sh functions (sourced)", () => {
    const target = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-target-"));
    fs.mkdirSync(path.join(target, "etc"), { recursive: true });

    function render(hostname: string, user = "arch") {
        const r = withProvision(
            `TARGET='${target}'; CFG[HOSTNAME]='${hostname}'; CFG[DEFAULT_USER]='${user}'; CFG[LOCALE]=de_DE.UTF-8; configure_hostname; configure_cloud_init`,
        );
        assert.equal(r.status, 0, r.stderr);
        const cfg = cloudInitYaml(path.join(target, "etc/cloud/cloud.cfg.d/90-arch-ami.cfg"));
        const hostnameFile = path.join(target, "etc/hostname");
        return { cfg, hostname: fs.existsSync(hostnameFile) ? fs.readFileSync(hostnameFile, "utf8") : undefined };
    }

    it("keeps an explicit hostname: /etc/hostname plus preserve_hostname true", () => {
        const { cfg, hostname } = render("build.example.com");
        assert.equal(hostname, "build.example.com\n");
        assert.equal(cfg.preserve_hostname, true);
    });
    it("without a hostname pins none: no /etc/hostname, preserve_hostname false (the metadata hostname wins)", () => {
        const { cfg, hostname } = render("");
        assert.equal(hostname, undefined);
        assert.equal(cfg.preserve_hostname, false);
    });
    it("turns cloud-init's locale module off (a string cloud-init's util.is_false reads as false)", () => {
        const { cfg } = render("");
        assert.equal(cfg.locale, "false");
    });
    it("renders the default user as a YAML string", () => {
        const { cfg } = render("", "arch");
        const user = (cfg.system_info as { default_user: { name: unknown } }).default_user.name;
        assert.equal(user, "arch");
    });
    for (const word of ["yes", "No", "on", "OFF", "true", "null", "y"]) {
        it(`read_config refuses DEFAULT_USER=${word} (YAML would not read a string)`, () => {
            const conf = path.join(target, "bad.conf");
            fs.writeFileSync(conf, `VOLUME_ID=vol-0123\nBOOTSTRAP_TARBALL=/x\nFILESYSTEM=ext4\nKERNEL=linux\nLOCALE=C\nTIMEZONE=UTC\nDEFAULT_USER=${word}\nMIRROR=file:///x\nIMAGE_MIRROR=https://m/$repo\n`);
            const r = withProvision(`read_config '${conf}'`);
            assert.equal(r.status, 2);
            assert.match(r.stderr, new RegExp(`DEFAULT_USER '${word}' is not a user name YAML reads as a string`));
        });
    }
    after(() => fs.rmSync(target, { recursive: true, force: true }));
});

describe("work directory cleanup never removes what is mounted below it", { skip }, () => {
    let work = "";
    let outside = "";
    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-work-"));
        outside = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-outside-"));
        fs.writeFileSync(path.join(outside, "canary"), "must survive");
        fs.mkdirSync(path.join(work, "root.x86_64/dev"), { recursive: true });
        sh("mount", ["--bind", outside, path.join(work, "root.x86_64/dev")]);
    });
    after(() => {
        spawnSync("umount", ["-l", path.join(work, "root.x86_64/dev")]);
        fs.rmSync(work, { recursive: true, force: true });
        fs.rmSync(outside, { recursive: true, force: true });
    });
    const vars = () => `WORK='${work}'; BOOT_ROOT='${work}/root.x86_64'`;

    it("fails loudly and removes nothing when a mount cannot be released", () => {
        // A mount that will not go away (busy, or a failing umount): simulated by an umount that fails.
        const r = withProvision(`${vars()}; umount() { return 1; }; release_mounts; remove_work`);
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /could not unmount .*root\.x86_64\/dev/);
        assert.match(r.stderr, /NOT removing .*: still mounted below it: .*root\.x86_64\/dev/);
        assert.equal(fs.readFileSync(path.join(outside, "canary"), "utf8"), "must survive");
        assert.ok(fs.existsSync(work), "work directory kept");
        assert.match(sh("findmnt", ["-rno", "TARGET"]), new RegExp(`${work}/root\\.x86_64/dev`));
    });
    it("unmounts, then removes the work directory and nothing outside it", () => {
        const r = withProvision(`${vars()}; release_mounts; remove_work`);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!fs.existsSync(work), "work directory removed");
        assert.equal(fs.readFileSync(path.join(outside, "canary"), "utf8"), "must survive");
    });
});

describe("provisioned image: issue 9 configuration", { skip }, () => {
    let t: TestImage;
    let img: AttachedImage;
    before(() => {
        t = testImage();
        img = new AttachedImage(t.image);
    });
    after(() => img?.detach());
    const lastRun = () => runLog(t, "provision");

    it("keeps the locale through cloud-init's first boot and, built without a hostname, pins none (rendered config)", () => {
        const cfg = cloudInitYaml(img.p("etc/cloud/cloud.cfg.d/90-arch-ami.cfg"));
        assert.equal(cfg.locale, "false", "locale module off: /etc/locale.gen and locale.conf stay as built");
        assert.equal(cfg.preserve_hostname, false, "the instance takes the metadata service's hostname");
        assert.ok(!fs.existsSync(img.p("etc/hostname")), "no /etc/hostname");
        assert.equal(img.read("etc/locale.conf"), "LANG=en_US.UTF-8\n");
        assert.equal((cfg.system_info as { default_user: { name: unknown } }).default_user.name, "arch");
    });
    it("enables cloud-init's hotplug socket", () => {
        // Enabled where its [Install] section says (cloud-init ships WantedBy=cloud-config.target).
        const wants = fs.readdirSync(img.p("etc/systemd/system")).filter((d) => d.endsWith(".wants"));
        const links = wants.filter((d) => fs.lstatSync(img.p(`etc/systemd/system/${d}/cloud-init-hotplugd.socket`), { throwIfNoEntry: false })?.isSymbolicLink());
        assert.equal(links.length, 1, `cloud-init-hotplugd.socket enabled (found in ${links.join(", ") || "no .wants folder"})`);
    });
    it("writes imageMirror (the default geo mirror), not the build mirror, into the image's mirrorlist", () => {
        const servers = img.read("etc/pacman.d/mirrorlist").split("\n").filter((l) => l.startsWith("Server"));
        assert.deepEqual(servers, [`Server = ${DEFAULTS.imageMirror}`]);
        assert.match(lastRun(), /mirror file:\/\/\/srv\/arch-ami-test-repo/, "the build itself used the test repository");
    });
    // "No DRM driver in the initramfs" is not claimed offline: the initramfs is built by the stand-in
    // mkinitcpio from a kernel without GPU modules, so such a check could not fail (README: unproven).
    it("configures the initramfs without the kms hook (the configuration Arch's mkinitcpio reads)", () => {
        const hooks = img.read("etc/mkinitcpio.conf.d/10-arch-ami.conf").match(/^HOOKS=\((.*)\)$/m)![1].split(" ");
        assert.ok(!hooks.includes("kms"), `HOOKS ${hooks.join(" ")}`);
    });
    it("has a fallback .network that never competes with the primary route nor waits for absent NICs", () => {
        const n = img.read("etc/systemd/network/80-arch-ami-dhcp.network");
        assert.match(n, /\[Link\]\nRequiredForOnline=no/);
        assert.match(n, /\[DHCPv4\][^[]*RouteMetric=2048/);
        assert.match(n, /\[IPv6AcceptRA\]\nRouteMetric=2048/);
    });
    it("orders pacman-init before the keyring WKD sync and sshd, after the clock is set but not after it is synchronized", () => {
        const u = img.read("etc/systemd/system/pacman-init.service");
        assert.match(u, /^Before=.*\barchlinux-keyring-wkd-sync\.service\b/m);
        assert.match(u, /^Before=.*\bsshd\.service\b/m);
        assert.match(u, /^After=local-fs\.target time-set\.target$/m);
        // time-sync.target is held by systemd-time-wait-sync (TimeoutStartSec=infinity) until a time server
        // answers: ordering after it would make sshd wait for the clock, forever without a time server.
        assert.doesNotMatch(u, /time-sync\.target/);
        assert.doesNotMatch(u, /^Wants=/m);
        // Its key generation yields to cloud-init on the way to the login; a oneshot unit has no start time-out
        // of its own, and the time-out applies per ExecStart= command (systemd src/core/service.c,
        // service_run_next_main re-arms it): one command, bounded, cannot hold sshd forever.
        assert.match(u, /^Nice=10$/m);
        assert.match(u, /^TimeoutStartSec=10min$/m);
        assert.equal(u.match(/^ExecStart=/gm)?.length, 1);
    });
    it("starts cloud-init's local stage before basic.target but after the system bus and udev's coldplug", () => {
        const d = img.read("etc/systemd/system/cloud-init-local.service.d/90-arch-ami.conf");
        assert.match(d, /^DefaultDependencies=no$/m);
        // hostnamectl (Arch's cloud-init sets the hostname with it, cloudinit/distros/arch.py) needs the bus.
        assert.match(d, /^After=.*\bdbus\.socket\b/m);
        assert.match(d, /^Wants=dbus\.socket$/m);
        assert.match(d, /^ExecStartPre=-\/usr\/bin\/udevadm settle/m);
        assert.doesNotMatch(d, /Before=sysinit\.target/);
        const t = img.read("etc/systemd/system/arch-ami-time-sync-check.service");
        // Type=exec: started at once, so multi-user.target (After= what it wants) does not wait 60 s for it.
        assert.match(t, /^Type=exec$/m);
    });
    it("installs dhcpcd as cloud-init's dhcp-client", () => {
        assert.ok(fs.existsSync(img.p("var/lib/pacman/local/dhcpcd-1.0-1")));
    });
    it("refreshed the bootstrap root's stale keyring before pacstrap: the packages' key is only in the new one", () => {
        const boot = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-bootstrap-"));
        try {
            execFileSync("sh", ["-c", `zstd -dc '${bootstrapArtefactPath("bootstrap.tar.zst")}' | tar -x -C '${boot}' root.x86_64/etc/pacman.conf root.x86_64/usr/share/keyrings/archlinux.gpg root.x86_64/var/lib/pacman/local`]);
            const root = path.join(boot, "root.x86_64");
            // The tarball: Arch's signature levels, the stale keyring installed, without the current packager key.
            const conf = fs.readFileSync(path.join(root, "etc/pacman.conf"), "utf8");
            assert.match(conf, /^SigLevel\s*=\s*Required DatabaseOptional$/m);
            assert.doesNotMatch(conf, /Never/);
            assert.ok(fs.existsSync(path.join(root, "var/lib/pacman/local/archlinux-keyring-20240101-1")));
            const keys = (file: string) => execFileSync("gpg", ["--batch", "--with-colons", "--show-keys", file], { encoding: "utf8" });
            const stale = keys(path.join(root, "usr/share/keyrings/archlinux.gpg"));
            assert.ok(stale.includes(bootstrapArtefact("packager-old")), "the stale keyring has the older packager key");
            assert.ok(!stale.includes(bootstrapArtefact("packager-new")), "the stale keyring lacks the key every image package is signed with");
            // The image's keyring package (what the refresh installed, from the repository) has it.
            assert.ok(keys(img.p("usr/share/keyrings/archlinux.gpg")).includes(bootstrapArtefact("packager-new")));
            assert.ok(fs.existsSync(img.p("var/lib/pacman/local/archlinux-keyring-20261201-1")));
        } finally {
            fs.rmSync(boot, { recursive: true, force: true });
        }
        // pacstrap succeeded with packages signed by that key (and refused one by a key the keyring lacks:
        // image.test.ts), so the refresh happened before it.
        const run = lastRun();
        assert.match(run, /keyring: archlinux-keyring 20240101-1 in the bootstrap root, 20261201-1 in the repositories: refreshing/);
        assert.match(run, /ARCH-AMI-PROVISION-OK/);
    });
    it("fully upgraded the bootstrap root (pacman -Syu) before pacstrap", () => {
        const run = lastRun();
        const upgrade = run.search(/upgrading arch-ami-test-buildroot/);
        assert.ok(upgrade > 0, "pacman -Syu upgraded the toolchain stand-in");
        assert.ok(upgrade < run.search(/==> \[6\/\d+\] pacstrap/));
    });
    it("installs openbsd-netcat (cloud-init >= 24.3 runs nc -U)", () => {
        assert.ok(fs.existsSync(img.p("var/lib/pacman/local/openbsd-netcat-1.0-1")));
        assert.equal(fs.readlinkSync(img.p("usr/bin/nc")), "nc.openbsd");
    });
    it("never removed the work directory while something below it was mounted (the re-run after failures)", () => {
        assert.doesNotMatch(t.log, /NOT removing/);
        assert.match(lastRun(), /previous state: cleaning leftovers/);
    });
});
