// Validation of the customization arguments (files, scripts, services, kernelParameters, localPackages,
// aurPackages, aurUrl): everything is checked here, before anything is registered; provision.sh only
// carries them out (provision/README.md, "customization").
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ArchAmiArgs } from "./args";
import { NESTED_DEFAULTS } from "./argSpec";
import { PLAIN_VALUE_ADVICE, check, fail, notOutput, plainObject, plainString, stringList } from "./validate";

/** The customization of one image, validated; all of it is part of the build hash. */
export interface CustomizationSettings {
    files: { path: string; mode: string; owner: string; content: string }[];
    scripts: { name: string; content: string }[];
    services: string[];
    kernelParameters: string[];
    /** Each local package by file name and content hash (not by where it lies on the deploying machine). */
    localPackages: { file: string; sha256: string }[];
    /** `name` or `name@commit`. */
    aurPackages: string[];
    aurUrl: string;
}

/**
 * Files and scripts travel base64-encoded inside the config, which travels base64-encoded in the remote
 * command's command line: one argument of `bash -c` (sshd runs `$SHELL -c <command>`), which Linux limits to
 * 128 KiB (MAX_ARG_STRLEN = 32 pages). The whole rendered command must stay below this, with room to spare.
 */
export const MAX_COMMAND_BYTES = 120 * 1024;
/** Linux's PATH_MAX. */
const PATH_MAX = 4096;

const FILE_PATH = /^(\/[A-Za-z0-9._@+=,:~-]+)+$/;
const MODE = /^0?[0-7]{3}$|^[0-7]{4}$/;
const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const SCRIPT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const UNIT = /^[A-Za-z0-9_][A-Za-z0-9:_.\\-]*(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|timer|path|target|mount|automount)$/;
const KERNEL_PARAMETER = /^[A-Za-z0-9_.,:/=+@%~][A-Za-z0-9_.,:/=+@%~-]*$/;
const PACKAGE_FILE = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*\.pkg\.tar\.zst$/;
const AUR_PACKAGE = /^([a-z0-9_+][a-z0-9._+-]*)(?:@([0-9a-f]{7,40}))?$/;
const KERNEL_PARAMETERS_MAX = 1024;

export type PathRule = { kind: "owned" | "cleaned" | "runtime"; pattern: string; re: RegExp };

/** The rules of provision/owned-paths: which image paths provisioning writes, removes, or mounts over. */
export function readPathRules(file: string): PathRule[] {
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => {
            const [kind, pattern, ...rest] = l.split(/\s+/);
            if (!["owned", "cleaned", "runtime"].includes(kind) || !pattern?.startsWith("/") || rest.length > 0) {
                throw new Error(`${file}: bad line "${l}"`);
            }
            const body = pattern
                .replace(/\/$/, "")
                .split("")
                .map((c) => (c === "*" ? "[^/]*" : c.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
                .join("");
            const re = new RegExp(pattern.endsWith("/") ? `^${body}(/.*)?$` : `^${body}$`);
            return { kind: kind as PathRule["kind"], pattern, re };
        });
}

function text(r: string, arg: string, v: unknown): string {
    notOutput(r, arg, v);
    check(r, arg, typeof v === "string" ? "(text)" : v, { ok: typeof v === "string", expected: `a plain string: ${PLAIN_VALUE_ADVICE}` });
    return v as string;
}

function list(r: string, arg: string, v: unknown): unknown[] {
    if (v === undefined) return [];
    notOutput(r, arg, v);
    check(r, arg, v, { ok: Array.isArray(v), expected: "a list" });
    return v as unknown[];
}

function unique(r: string, arg: string, values: string[], what: string): void {
    const seen = new Set<string>();
    for (const v of values) {
        check(r, arg, v, { ok: !seen.has(v), expected: `each ${what} at most once` });
        seen.add(v);
    }
}

function resolveFiles(r: string, args: ArchAmiArgs, rules: PathRule[], defaultUser: string): CustomizationSettings["files"] {
    const d = NESTED_DEFAULTS.FileArgs;
    const files = list(r, "files", args.files).map((f, i) => {
        const a = `files[${i}]`;
        const o = plainObject(r, a, f) ?? fail(r, a, "an object { path, content, mode?, owner?, overwrite? }", f);
        const p = plainString(r, `${a}.path`, o.path);
        check(r, `${a}.path`, p, {
            ok: p !== undefined && p.length < PATH_MAX && FILE_PATH.test(p) && !p.split("/").some((s) => s === "." || s === ".."),
            expected:
                'an absolute path in the image such as "/etc/myapp/config.toml": letters, digits, / and . _ - + @ = , : ~, ' +
                `no "." or ".." segments, no trailing /, shorter than ${PATH_MAX}`,
        });
        const rule = rules.find((x) => x.re.test(p!));
        if (rule?.kind === "runtime") {
            fail(r, `${a}.path`, `a path outside ${rule.pattern} (a mount point of the running system: nothing written there reaches an instance)`, p);
        }
        if (rule?.kind === "cleaned") {
            fail(r, `${a}.path`, `a path outside ${rule.pattern}: the image cleanup, which runs after your files, removes it (provision/owned-paths)`, p);
        }
        const overwrite = o.overwrite ?? d.overwrite;
        check(r, `${a}.overwrite`, overwrite, { ok: typeof overwrite === "boolean", expected: "true or false" });
        if (rule?.kind === "owned" && !overwrite) {
            fail(
                r,
                `${a}.path`,
                `a path the provisioning does not write (${rule.pattern} is written by provision.sh: see provision/owned-paths), ` +
                    `or set ${a}.overwrite: true to replace it on purpose`,
                p,
            );
        }
        const content = text(r, `${a}.content`, o.content);
        const mode = plainString(r, `${a}.mode`, o.mode) ?? d.mode;
        check(r, `${a}.mode`, mode, { ok: MODE.test(mode), expected: 'permission bits as octal digits, e.g. "0600" or "0644"' });
        const owner = plainString(r, `${a}.owner`, o.owner) ?? d.owner;
        const [user, group, ...more] = owner.split(":");
        check(r, `${a}.owner`, owner, {
            ok: more.length === 0 && NAME.test(user) && group !== undefined && NAME.test(group),
            expected: 'user:group, e.g. "root:root" (both must exist in the image when it is built)',
        });
        check(r, `${a}.owner`, owner, {
            ok: user !== defaultUser && group !== defaultUser,
            expected:
                `an owner that exists when the image is built: "${defaultUser}" (defaultUser) is created by cloud-init only at ` +
                "first boot; write the file for root, or give it to that user from a script in user data (or a systemd unit) at boot",
        });
        return { path: p!, mode: mode.padStart(4, "0"), owner, content };
    });
    unique(r, "files", files.map((f) => f.path), "path");
    for (const f of files) {
        const inside = files.find((g) => g.path.startsWith(`${f.path}/`));
        check(r, "files", f.path, {
            ok: inside === undefined,
            expected: `no path that is also the folder of another (${inside?.path} is inside ${f.path}): a path is one file`,
        });
    }
    return files;
}

function resolveScripts(r: string, args: ArchAmiArgs): CustomizationSettings["scripts"] {
    const scripts = list(r, "scripts", args.scripts).map((x, i) => {
        const a = `scripts[${i}]`;
        const o = plainObject(r, a, x) ?? fail(r, a, "an object { name, content }", x);
        const name = plainString(r, `${a}.name`, o.name);
        check(r, `${a}.name`, name, { ok: name !== undefined && SCRIPT_NAME.test(name), expected: "1–64 letters, digits and . _ -" });
        const content = text(r, `${a}.content`, o.content);
        check(r, `${a}.content`, "(text)", { ok: content.trim() !== "", expected: "a script that is not empty" });
        return { name: name!, content };
    });
    unique(r, "scripts", scripts.map((s) => s.name), "name");
    return scripts;
}

function resolveLocalPackages(r: string, args: ArchAmiArgs): { packages: CustomizationSettings["localPackages"]; paths: string[] } {
    const paths = stringList(r, "localPackages", args.localPackages) ?? [];
    const packages = paths.map((p, i) => {
        const a = `localPackages[${i}]`;
        const file = path.basename(p);
        check(r, a, p, {
            ok: PACKAGE_FILE.test(file),
            expected: "the path of a pacman package file named like <name>-<version>-<rel>-<arch>.pkg.tar.zst (what makepkg builds)",
        });
        const st = fs.statSync(path.resolve(p), { throwIfNoEntry: false });
        check(r, a, p, {
            ok: st?.isFile() === true,
            expected: `an existing file on this machine (looked for ${path.resolve(p)}; relative paths start at ${process.cwd()})`,
        });
        return { file, sha256: createHash("sha256").update(fs.readFileSync(path.resolve(p))).digest("hex") };
    });
    unique(r, "localPackages", packages.map((p) => p.file), "file name");
    return { packages, paths: paths.map((p) => path.resolve(p)) };
}

/** Validates the customization arguments; `localPackagePaths` are absolute paths for the uploads. */
export function resolveCustomization(
    r: string,
    args: ArchAmiArgs,
    opts: { aurUrlDefault: string; allowInsecureMirror: boolean; ownedPaths: string; defaultUser: string },
): { customization: CustomizationSettings; localPackagePaths: string[] } {
    const files = resolveFiles(r, args, readPathRules(opts.ownedPaths), opts.defaultUser);
    const scripts = resolveScripts(r, args);
    const services = [...(stringList(r, "services", args.services) ?? [])];
    for (const u of services) {
        check(r, "services", u, {
            ok: u.length <= 256 && UNIT.test(u),
            expected: 'systemd unit names with their type, e.g. "docker.service", "fstrim.timer", "getty@ttyS1.service"',
        });
    }
    unique(r, "services", services, "unit");
    // Enabling is order-free: one image, one hash, whatever order they are listed in.
    services.sort();

    const kernelParameters = stringList(r, "kernelParameters", args.kernelParameters) ?? [];
    for (const k of kernelParameters) {
        check(r, "kernelParameters", k, {
            ok: KERNEL_PARAMETER.test(k),
            expected:
                'one parameter per entry, e.g. "mitigations=auto" or "console=ttyS1,115200": letters, digits and _ . , : / = + @ % ~ -, ' +
                'not starting with - ("--" would hand the rest of the command line to init); ' +
                "no spaces, quotes, $, backslashes or newlines (the command line is written into GRUB's shell-style config)",
        });
    }
    check(r, "kernelParameters", kernelParameters.join(" "), {
        ok: kernelParameters.join(" ").length <= KERNEL_PARAMETERS_MAX,
        expected: `at most ${KERNEL_PARAMETERS_MAX} characters together (the kernel's command line holds 2048)`,
    });

    const local = resolveLocalPackages(r, args);

    const aurPackages = stringList(r, "aurPackages", args.aurPackages) ?? [];
    for (const p of aurPackages) {
        check(r, "aurPackages", p, {
            ok: p.length <= 170 && AUR_PACKAGE.test(p),
            expected: 'AUR package names (lowercase letters, digits and . _ + -), each optionally pinned to a commit of its AUR git repository: "yay-bin" or "yay-bin@<7–40 hex digits>"',
        });
    }
    unique(r, "aurPackages", aurPackages.map((p) => AUR_PACKAGE.exec(p)![1]), "package");

    const aurUrl = (plainString(r, "aurUrl", args.aurUrl) ?? opts.aurUrlDefault).replace(/\/+$/, "");
    check(r, "aurUrl", aurUrl, {
        ok: /^(https?|file):\/\/[^\s$]+$/.test(aurUrl),
        expected: 'an https:// (or file:// on the builder) URL without spaces, e.g. "https://aur.archlinux.org"',
    });
    check(r, "aurUrl", aurUrl, {
        ok: opts.allowInsecureMirror || !aurUrl.startsWith("http://"),
        expected: "an https:// URL: over plain http anyone on the path can change the build scripts; or set allowInsecureMirror: true",
    });

    return {
        // Without AUR packages the URL is never used: it neither renders nor enters the build hash.
        customization: { files, scripts, services, kernelParameters, localPackages: local.packages, aurPackages, aurUrl: aurPackages.length ? aurUrl : "" },
        localPackagePaths: local.paths,
    };
}
