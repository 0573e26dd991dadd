// Static properties of provision.sh that only AWS would otherwise show, and its functions (sourced) that
// need no disk: package-file names, the build mirror the scripts see, verify.sh's reading of cloud-init.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const provision = path.resolve(__dirname, "../../provision/provision.sh");
const verify = path.resolve(__dirname, "../../provision/verify.sh");
const script = fs.readFileSync(provision, "utf8");

/** bash with SCRIPT_FILE sourced (its main does not run), then CODE. */
function sourced(file: string, code: string, env: Record<string, string> = {}) {
    return spawnSync("bash", ["-c", `set -Eeuo pipefail; source '${file}'; ${code}`], { encoding: "utf8", env: { ...process.env, ...env } });
}

describe("provision.sh on the Debian builder", () => {
    it("waits for the dpkg lock (apt-daily at boot) in every apt-get call", () => {
        const calls = script.split("\n").filter((l) => /\bapt-get\b/.test(l) && !/^\s*#/.test(l));
        assert.ok(calls.length > 0);
        for (const l of calls) assert.match(l, /DPkg::Lock::Timeout=\d+|"\$\{apt\[@\]\}"/, l);
        assert.match(script, /apt=\(apt-get -o DPkg::Lock::Timeout=600\b/);
    });
    it("names openbsd-netcat among the image's packages (cloud-init >= 24.3 runs nc -U)", () => {
        const line = /^PACKAGES=\((.*)\)$/m.exec(script)![1].split(" ");
        assert.ok(line.includes("openbsd-netcat"), line.join(" "));
    });
    it("settles udev after mkfs, before grub-mkconfig looks for /dev/disk/by-uuid", () => {
        const mkfs = /^make_filesystems\(\) \{[\s\S]*?^\}/m.exec(script)![0];
        assert.ok(mkfs.indexOf("udevadm settle") > mkfs.lastIndexOf("mkfs."), "settle after the last mkfs");
    });
});

describe("provision.sh: the debug package filter (makepkg names it ${pkgbase}-debug)", () => {
    // makepkg's package file name: <pkgname>-<pkgver>-<pkgrel>-<arch><PKGEXT> (pacman's makepkg, create_package).
    const cases: [string, string][] = [
        ["/home/b/foo/foo-debug-tools-1.0-1-x86_64.pkg.tar.zst", "foo-debug-tools"],
        ["foo-debug-2:1.0.r3-2-x86_64.pkg.tar.zst", "foo-debug"],
        ["foo-1.0-1-any.pkg.tar.xz", "foo"],
    ];
    for (const [file, name] of cases) {
        it(`reads ${name} from ${path.basename(file)}`, () => {
            const r = sourced(provision, `package_name '${file}'`);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout.trim(), name);
        });
    }
    it("skips exactly ${pkgbase}-debug, never a package that only contains -debug-", () => {
        assert.match(script, /\$\(package_name "\$file"\) != "\$\{pkgbase:-\$name\}-debug"/);
        assert.doesNotMatch(script, /\*-debug-\*/);
    });
});

describe("provision.sh: the build mirror while scripts run", { skip: process.getuid?.() !== 0 ? "needs root (bind mount)" : undefined }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-mirror-"));
    after(() => {
        spawnSync("umount", [path.join(dir, "work/root.x86_64/mnt/var/tmp/arch-ami-build-mirror")]);
        fs.rmSync(dir, { recursive: true, force: true });
    });
    const boot = path.join(dir, "work/root.x86_64");
    const target = path.join(boot, "mnt");
    const list = path.join(target, "etc/pacman.d/mirrorlist");
    const original = "# arch-ami: imageMirror\nServer = https://geo.mirror.pkgbuild.com/$repo/os/$arch\n";
    fs.mkdirSync(path.join(boot, "srv/repo/core/os/x86_64"), { recursive: true });
    fs.writeFileSync(path.join(boot, "srv/repo/core/os/x86_64/core.db"), "db");
    fs.mkdirSync(path.dirname(list), { recursive: true });
    fs.writeFileSync(list, original);
    const vars = `WORK='${dir}/work'; BOOT_ROOT='${boot}'; TARGET='${target}'; CFG[MIRROR]='file:///srv/repo/$repo/os/$arch'`;

    it("puts the build mirror first (a file:// one bind-mounted read-only), and restores the image's mirrorlist after", () => {
        const r = sourced(provision, `${vars}; open_build_mirror; head -n 2 '${list}'; cat '${target}/var/tmp/arch-ami-build-mirror/core/os/x86_64/core.db'; echo
            touch '${target}/var/tmp/arch-ami-build-mirror/x' 2>/dev/null && echo writable || echo read-only
            close_build_mirror`);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, [
            "scripts: the target's pacman uses the build mirror first (file:///var/tmp/arch-ami-build-mirror/$repo/os/$arch)",
            "# arch-ami: the build mirror, while the customization scripts run",
            "Server = file:///var/tmp/arch-ami-build-mirror/$repo/os/$arch",
            "db",
            "read-only",
            "",
        ].join("\n"));
        assert.equal(fs.readFileSync(list, "utf8"), original);
        assert.ok(!fs.existsSync(path.join(target, "var/tmp/arch-ami-build-mirror")), "mount point removed");
    });
    it("uses an https build mirror as it is, and keeps a script's own change to the mirrorlist", () => {
        const r = sourced(provision, `${vars}; CFG[MIRROR]='https://archive.archlinux.org/repos/2026/11/01/$repo/os/$arch'; open_build_mirror
            echo 'Server = https://mirror.example/$repo/os/$arch' >>'${list}'; close_build_mirror`);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(list, "utf8"), `${original}Server = https://mirror.example/$repo/os/$arch\n`);
    });
});

describe("verify.sh reads cloud-init's JSON from stdout only", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-verify-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** A cloud-init on PATH printing JSON on stdout and a warning on stderr, with exit code RC. */
    function run(json: string, rc: number) {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(bin, "cloud-init"), `#!/bin/sh\necho 'DeprecationWarning: a warning on stderr' >&2\nprintf '%s\\n' '${json}'\nexit ${rc}\n`, { mode: 0o755 });
        return sourced(verify, "check_cloud_init", { PATH: `${bin}:${process.env.PATH}` });
    }
    it("passes a done status although stderr has a warning", () => {
        const r = run('{"status": "done", "errors": [], "recoverable_errors": {}, "detail": "DataSourceEc2Local"}', 0);
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });
    it("fails an error status, naming it and showing stderr", () => {
        const r = run('{"status": "error", "errors": ["x failed"], "recoverable_errors": {}, "detail": "DataSourceEc2Local"}', 1);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /status error \(exit 1\); errors: \['x failed'\]; stderr: DeprecationWarning: a warning on stderr/);
    });
});

describe("provision.sh: validpgpkeys fetched one at a time from the keyserver (real gpg and dirmngr, a local HKP server)", () => {
    // Set up in a before hook, not in the describe body: a runner that collects this file but runs none of
    // these tests (Vitest under `npm run mutate`, filtered per mutant) would otherwise start a gpg-agent and
    // a server whose after hook never runs.
    const missing = "0FEDCBA9876543210FEDCBA9876543210FEDCBA9";
    let dir = "", signer = "", builder = "", real = "", port = "", pid = "", serverStderr = "", pkg = "";
    const gpg = (home: string, ...args: string[]) => spawnSync("gpg", ["--homedir", home, "--batch", ...args], { encoding: "utf8" });
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-pgp-"));
        signer = path.join(dir, "signer");
        builder = path.join(dir, "builder");
        fs.mkdirSync(signer, { mode: 0o700 });
        fs.mkdirSync(builder, { mode: 0o700 });
        gpg(signer, "--passphrase", "", "--quick-gen-key", "upstream <upstream@example.invalid>", "ed25519", "sign", "never");
        real = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(signer, "--with-colons", "--list-keys").stdout)![1];
        fs.writeFileSync(path.join(dir, "key.asc"), gpg(signer, "--armor", "--export", real).stdout);
        // The HKP lookup dirmngr sends (draft-shaw-openpgp-hkp: GET /pks/lookup?op=get&search=0x<fingerprint>):
        // the key when it is the exported one, 404 otherwise.
        const server = spawnSync("sh", ["-c", `python3 -c '
import http.server, sys, threading, os
key = open(sys.argv[1], "rb").read()
fpr = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path.startswith("/pks/lookup") and fpr.lower() in self.path.lower()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/pgp-keys")
        self.end_headers()
        if ok: self.wfile.write(key)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
child = os.fork()
if child:
    print(s.server_address[1], child, flush=True)
    sys.exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2): os.dup2(null, fd)
s.serve_forever()
' '${path.join(dir, "key.asc")}' ${real}`], { encoding: "utf8" });
        [port, pid] = server.stdout.trim().split(" ");
        serverStderr = server.stderr;
        pkg = path.join(dir, "boot/home/arch-ami-build/demo");
        fs.mkdirSync(pkg, { recursive: true });
    });
    after(() => {
        if (/^\d+$/.test(pid)) process.kill(Number(pid));
        if (!dir) return;
        spawnSync("sh", ["-c", `gpgconf --homedir '${builder}' --kill all; gpgconf --homedir '${signer}' --kill all`]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    function importKeys(keys: string[]) {
        fs.writeFileSync(path.join(pkg, ".SRCINFO"), `pkgbase = demo\n${keys.map((k) => `\tvalidpgpkeys = ${k}\n`).join("")}\npkgname = demo\n`);
        // as_builder runs the command as the build user in the bootstrap root; here: in the build user's keyring.
        return sourced(provision, `BOOT_ROOT='${path.join(dir, "boot")}'; PGP_KEYSERVER=hkp://127.0.0.1:${port}
            as_builder() { shift; GNUPGHOME='${builder}' "$@"; }; import_aur_pgp_keys demo`);
    }
    it("warns about the key it cannot fetch and fetches the other", () => {
        assert.match(port, /^\d+$/, serverStderr);
        const r = importKeys([missing, real]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`warning: AUR package 'demo': validpgpkey ${missing} could not be fetched from hkp://127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(r.stdout, new RegExp(`validpgpkey ${real} could not`));
        assert.doesNotMatch(r.stdout, /none of its/);
        assert.equal(gpg(builder, "--list-keys", real).status, 0, "the fetched key is in the build user's keyring");
    });
    it("warns when none can be fetched, leaving the verdict to makepkg", () => {
        const r = importKeys([missing]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /warning: AUR package 'demo': none of its 1 validpgpkeys could be fetched; makepkg will refuse its PGP-signed sources/);
    });
});

describe("provision.sh: grub.cfg must boot the root by UUID", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-grub-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, "boot/grub"), { recursive: true });
    /** make_grub_cfg on a grub.cfg with this kernel line (grub-mkconfig itself, run in the target, is skipped). */
    function check(linux: string) {
        fs.writeFileSync(path.join(dir, "boot/grub/grub.cfg"), `menuentry 'Arch' {\n\tlinux\t/boot/vmlinuz-linux ${linux}\n\tinitrd\t/boot/initramfs-linux.img\n}\n`);
        return sourced(provision, `TARGET='${dir}'; in_target() { :; }; make_grub_cfg`);
    }
    it("accepts root=UUID=", () => {
        const r = check("root=UUID=0b3c6f1e-1111-2222-3333-444455556666 rw console=ttyS0,115200");
        assert.equal(r.status, 0, r.stderr);
    });
    it("refuses a device path (grub's fallback without /dev/disk/by-uuid in the chroot), naming the line", () => {
        const r = check("root=/dev/nvme1n1p3 rw console=ttyS0,115200");
        assert.equal(r.status, 1);
        assert.match(r.stderr, /provision: error: grub\.cfg boots the kernel without root=UUID= \(linux\t\/boot\/vmlinuz-linux root=\/dev\/nvme1n1p3 rw .*\): \/dev\/disk\/by-uuid was missing in the chroot/);
    });
});
