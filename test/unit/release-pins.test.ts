// The release keys pinned in provision/build-tarball.sh (RELEASE_KEY_FINGERPRINTS) against Arch's own keyring,
// as Debian packages it (package archlinux-keyring, installed by scripts/setup): /usr/share/keyrings/archlinux.gpg
// (the keys), archlinux-trusted (the master keys, in gpg ownertrust format) and archlinux-revoked (one
// fingerprint a line: keys pacman-key disables). Every pin must be in archlinux.gpg, neither revoked nor expired
// there, not listed in archlinux-revoked, and fully valid in a keyring populated the way pacman-key does it.
// Without the package the test skips outside CI and fails in CI (CI=true), like the image tests.
// The comparison is only as recent as that package (Debian bookworm: 0~20231113): every test prints its version.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const script = path.resolve(__dirname, "../../provision/build-tarball.sh");
const KEYRINGS = "/usr/share/keyrings";
const keyringFiles = ["archlinux.gpg", "archlinux-trusted", "archlinux-revoked"].map((f) => path.join(KEYRINGS, f));

/** Skip (outside CI) with the reason, or undefined when the prerequisite is there. */
function skipUnless(missing: string[], what: string): string | undefined {
    if (missing.length === 0) return undefined;
    const msg = `${what} needs: ${missing.join(", ")} (run scripts/setup as root)`;
    if (process.env.CI === "true") throw new Error(`CI cannot skip: ${msg}`);
    return msg;
}
/** The installed archlinux-keyring package's version (dpkg), printed by every test: the pins are compared with
 * that snapshot of Arch's keyring, not with Arch's current one. */
function keyringVersion(): string {
    const r = spawnSync("dpkg-query", ["--show", "--showformat=${Version}", "archlinux-keyring"], { encoding: "utf8" });
    return r.status === 0 && r.stdout ? r.stdout.trim() : "unknown (not installed with dpkg)";
}
const keyringSkip = () => skipUnless(keyringFiles.filter((f) => !fs.existsSync(f)).map((f) => `${f} (apt package archlinux-keyring)`), "comparing the pins with Arch's keyring");

/** The pins as bash reads the script's own assignment (not a copy of the list). */
function pins(): string[] {
    const r = spawnSync("bash", ["-c", 'eval "$(grep -E "^RELEASE_KEY_FINGERPRINTS=" "$1")"; printf "%s\\n" "${RELEASE_KEY_FINGERPRINTS[@]}"', "-", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const list = r.stdout.split("\n").filter(Boolean);
    assert.ok(list.length >= 1, "build-tarball.sh pins at least one release key");
    for (const fpr of list) assert.match(fpr, /^[0-9A-F]{40}$/, "a pin is a full v4 fingerprint, upper case");
    return list;
}

function gpgHome(): string {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-keyring-"));
    fs.chmodSync(home, 0o700);
    return home;
}

/** `gpg --with-colons --list-keys` records of a primary key: [pub fields, …]. Field 2 is the validity
 * ("r" revoked, "e" expired, "f" full…), field 7 the expiry, field 12 the capabilities ("D": disabled)
 * (gpg/gnupg doc/DETAILS, "Format of the colon listings"). */
function primaryKeys(home: string): Map<string, string[]> {
    const r = spawnSync("gpg", ["--homedir", home, "--batch", "--with-colons", "--list-keys"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const keys = new Map<string, string[]>();
    let pub: string[] | undefined;
    for (const line of r.stdout.split("\n")) {
        const f = line.split(":");
        if (f[0] === "pub") pub = f;
        else if (f[0] === "sub") pub = undefined;
        else if (f[0] === "fpr" && pub) {
            keys.set(f[9], pub);
            pub = undefined;
        }
    }
    return keys;
}

describe("pinned release keys against Arch's keyring (Debian package archlinux-keyring)", () => {
    it("archlinux.gpg holds every pin as a primary key that is neither revoked nor expired", (t) => {
        const skip = keyringSkip();
        if (skip) return t.skip(skip);
        t.diagnostic(`archlinux-keyring package ${keyringVersion()}`);
        const home = gpgHome();
        try {
            const imported = spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", "--import", path.join(KEYRINGS, "archlinux.gpg")], { encoding: "utf8" });
            assert.equal(imported.status, 0, imported.stderr);
            const keys = primaryKeys(home);
            assert.ok(keys.size > 10, `archlinux.gpg holds Arch's keys (found ${keys.size})`);
            for (const fpr of pins()) {
                const pub = keys.get(fpr);
                assert.ok(pub, `archlinux.gpg holds the pinned key ${fpr}`);
                assert.ok(!["r", "e"].includes(pub[1]), `pinned key ${fpr} is not revoked or expired in archlinux.gpg (validity ${pub[1]})`);
                assert.ok(pub[6] === "" || Number(pub[6]) > Date.now() / 1000, `pinned key ${fpr} has not expired (expiry ${pub[6]})`);
            }
        } finally {
            spawnSync("gpgconf", ["--homedir", home, "--kill", "all"]);
            fs.rmSync(home, { recursive: true, force: true });
        }
    });

    it("archlinux-revoked lists no pin (and does list the formerly pinned 4AA4767B…)", (t) => {
        const skip = keyringSkip();
        if (skip) return t.skip(skip);
        t.diagnostic(`archlinux-keyring package ${keyringVersion()}`);
        const revoked = fs
            .readFileSync(path.join(KEYRINGS, "archlinux-revoked"), "utf8")
            .split("\n")
            .map((l) => l.trim().toUpperCase())
            .filter((l) => /^[0-9A-F]{40}$/.test(l));
        // The file is read as intended: it lists the key this repository pinned until Arch's keyring showed it revoked.
        assert.ok(revoked.includes("4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC"), "archlinux-revoked lists 4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC");
        for (const fpr of pins()) assert.ok(!revoked.includes(fpr), `pinned key ${fpr} is listed in archlinux-revoked`);
    });

    // pacman's scripts/pacman-key.sh.in, populate_keyring: imports <keyring>.gpg, locally signs the keys of
    // <keyring>-trusted and imports it as ownertrust, then disables every key of <keyring>-revoked. A pin must
    // come out fully valid ("f": certified by Arch's master keys) and not disabled.
    it("a keyring populated the way pacman-key does it holds every pin as fully valid and not disabled", (t) => {
        const missing = keyringFiles.filter((f) => !fs.existsSync(f)).map((f) => `${f} (apt package archlinux-keyring)`);
        if (spawnSync("sh", ["-c", "command -v pacman-key"]).status !== 0) missing.push("pacman-key (apt package pacman-package-manager)");
        if (process.getuid?.() !== 0) missing.push("root (pacman-key --init/--populate)");
        const skip = skipUnless(missing, "populating Arch's keyring with pacman-key");
        if (skip) return t.skip(skip);
        t.diagnostic(`archlinux-keyring package ${keyringVersion()}`);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-pacman-key-"));
        const gnupg = path.join(dir, "gnupg");
        const conf = path.join(dir, "pacman.conf");
        fs.writeFileSync(conf, `[options]\nGPGDir = ${gnupg}\n`);
        try {
            for (const step of [["--init"], ["--populate", "archlinux"]]) {
                const r = spawnSync("pacman-key", ["--config", conf, "--gpgdir", gnupg, ...step], { encoding: "utf8" });
                assert.equal(r.status, 0, `pacman-key ${step.join(" ")}: ${r.stderr}`);
            }
            const keys = primaryKeys(gnupg);
            // The file-level facts above, seen through pacman's own tool: the unpinned revoked key is disabled.
            assert.match(keys.get("4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC")?.[11] ?? "", /D/, "pacman-key disables 4AA4767B…");
            for (const fpr of pins()) {
                const pub = keys.get(fpr);
                assert.ok(pub, `the populated keyring holds ${fpr}`);
                assert.equal(pub[1], "f", `pinned key ${fpr} is fully valid in Arch's keyring (validity ${pub[1]})`);
                assert.doesNotMatch(pub[11], /D/, `pinned key ${fpr} is not disabled (capabilities ${pub[11]})`);
            }
        } finally {
            spawnSync("gpgconf", ["--homedir", gnupg, "--kill", "all"]);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
