// arch-ami build-local: builds the image on this machine through the same steps as on AWS. The arguments
// are the component's (a JSON/YAML file or a stack's config, validated by resolveSettings); the tarball
// comes from build-tarball.sh with the component's environment; the uploads are the component's
// (uploadSpecs) laid out as they land on the builder; the command line is the component's remote command
// (provisionCommand of renderConfig). Only the builder differs: a local Debian 13 surrogate VM
// (local/build-surrogate.sh, QEMU with KVM when usable, TCG otherwise) with the target disk attached as an
// NVMe drive whose serial is a volume id, as EBS attaches it on Nitro.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { StringDecoder } from "node:string_decoder";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ArchAmiArgs } from "../args";
import { uploadSpecs, scriptsLanding, UploadSpec } from "../build/upload";
import { parseTarballInfo } from "../build/tarball";
import { verifyArgs } from "../image/verify";
import { REMOTE, TARGET_DEVICE, provisionCommand, provisionDir, renderConfig, tarballEnvironment } from "../render";
import { resolveSettings, Settings } from "../settings";
import { readArgsFile, readStackArgs } from "./argsFile";
import { writeImageInfo } from "./imageInfo";
import { CURL, GPG, MKFS_EXT4, MMDEBSTRAP, QEMU, QEMU_IMG, UsageError, ZSTD, checkPrerequisites, kvmUsable } from "./prerequisites";

/** A command line run on the surrogate as the admin user, and the exit code it must end with. */
export interface SurrogateCommand {
    name: string;
    command: string;
    /** Expected exit code: a different one fails the build. Default 0. */
    expect?: number;
}

export interface BuildLocalOptions {
    /** The component's name (`new ArchAmi(name, …)`): part of what the settings are resolved under. */
    name: string;
    /** The component's arguments. Those only AWS uses (regions, sharing, instance type…) are validated and ignored. */
    args: ArchAmiArgs;
    /** Where the raw image goes. Next to it: IMAGE.log (the surrogate's console), IMAGE.results, IMAGE.arch-ami.json. */
    out: string;
    /** Also write a qcow2 copy (IMAGE with .qcow2 for .raw). */
    qcow2?: boolean;
    /** Use this bootstrap tarball instead of running build-tarball.sh (skips its download and signature check). */
    tarball?: string;
    /** Cache of the surrogate VM (default ~/.cache/arch-ami/local, or $XDG_CACHE_HOME/arch-ami/local). */
    cache?: string;
    /** The whole surrogate run is stopped after this many minutes (default 120). */
    timeoutMinutes?: number;
    /** Where progress goes (default stdout). */
    progress?: NodeJS.WritableStream;
    /** The volume id the target disk plays (default: a random one, as EBS gives each volume). */
    volumeId?: string;
    /**
     * Command lines run on the same surrogate before the provisioning (the test suite's refusal cases run
     * here and are expected to fail with their own exit codes). Not a CLI option.
     */
    before?: SurrogateCommand[];
}

export interface BuildLocalResult {
    /** The provisioning command's exit code (provision/README.md), or 1 when it never reported one. */
    exitCode: number;
    image: string;
    /** Exit code of every surrogate command, by file name (NN-name), in order. */
    results: Map<string, number | undefined>;
}

/** The volume id the local target disk plays (its NVMe serial is the id without the dash, as on Nitro). */
export function localVolumeId(): string {
    return `vol-${randomBytes(9).toString("hex").slice(0, 17)}`;
}

/** The default cache of build-local (the surrogate VM). */
export function defaultCache(): string {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(base, "arch-ami", "local");
}

/** The package's folder of local build assets (`local/`: build-surrogate.sh, surrogate-run). */
export function localAssetsDir(): string {
    return path.join(path.dirname(provisionDir()), "local");
}

function log(o: BuildLocalOptions, line: string): void {
    (o.progress ?? process.stdout).write(`==> build-local: ${line}\n`);
}

/** The settings of `args`, or a UsageError with the component's own message (naming the argument). */
export function resolveLocalSettings(name: string, args: ArchAmiArgs): Settings {
    try {
        return resolveSettings(name, args);
    } catch (e) {
        throw new UsageError(e instanceof Error ? e.message : String(e));
    }
}

/** build-tarball.sh, run as the component's tarball command runs it (its content, its environment). */
function runTarballScript(o: BuildLocalOptions, settings: Settings): string {
    const script = fs.readFileSync(path.join(provisionDir(), "build-tarball.sh"), "utf8");
    log(o, `bootstrap tarball: build-tarball.sh (method ${settings.bootstrapMethod}, release ${settings.image.bootstrapDate || "latest"})`);
    const r = spawnSync("/bin/bash", ["-c", script], {
        env: { ...process.env, ...tarballEnvironment(settings.image, settings.bootstrapMethod, settings.bootstrapMirror) },
        stdio: ["ignore", "pipe", "inherit"],
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
    });
    if (r.status !== 0) {
        throw Object.assign(new Error(`build-tarball.sh failed (exit ${r.status}); its messages are above`), { exitCode: r.status ?? 1 });
    }
    const info = parseTarballInfo(r.stdout);
    log(o, `bootstrap tarball ${info.date}: ${info.path} (sha256 ${info.sha256})`);
    return info.path;
}

/** Where a builder path under the admin user's home goes in the share's home/ folder. */
function underHome(shareHome: string, remote: string): string {
    const home = `/home/${REMOTE.user}/`;
    if (!remote.startsWith(home)) throw new Error(`upload outside ${home}: ${remote}`);
    return path.join(shareHome, remote.slice(home.length));
}

/** Where an upload's content lands on the builder: a file at remotePath, a folder under its own name inside it. */
export function landing(u: UploadSpec): string {
    return u.kind === "file" ? u.remotePath : scriptsLanding(u.source);
}

/**
 * Lays the uploads out in `shareHome` (the builder's /home/admin) as the component's CopyToRemotes put
 * them: the tarball, the provision/ folder, each local package. Returns the builder paths written.
 */
export function stageUploads(shareHome: string, tarball: string, localPackages: string[]): string[] {
    const specs = uploadSpecs(provisionDir(), localPackages);
    const all: UploadSpec[] = [{ ...specs.tarball, source: tarball }, specs.scripts, ...specs.packages];
    for (const u of all) {
        const dest = underHome(shareHome, landing(u));
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        if (u.kind === "file") fs.copyFileSync(u.source, dest);
        else fs.cpSync(u.source, dest, { recursive: true });
    }
    return all.map(landing);
}

/** After the last command: nothing of the target disk or the work folder mounted, no gpg daemon left. */
const BUILDER_CLEAN = String.raw`left=0; for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null) || continue
case $c in gpg-agent|dirmngr|keyboxd|scdaemon) echo "left running: $c (pid ${"$"}{p#/proc/}, root $(sudo readlink $p/root))"; left=1 ;; esac; done
findmnt -rno TARGET | grep /var/tmp/arch-ami && left=1
lsblk -nrpo MOUNTPOINT /dev/nvme0n1 | grep . && left=1
exit $left`;

export function queue(dir: string, commands: SurrogateCommand[]): Map<string, number> {
    const expected = new Map<string, number>();
    commands.forEach((c, i) => {
        const file = `${String(i).padStart(2, "0")}-${c.name}`;
        fs.writeFileSync(path.join(dir, file), `${c.command}\n`);
        expected.set(file, c.expect ?? 0);
    });
    return expected;
}

/** QEMU's arguments for the surrogate with the target disk on NVMe and the upload share on 9p. */
export function surrogateQemuArgs(surrogate: string, work: string, share: string, volumeId: string): string[] {
    const kvm = kvmUsable();
    return [
        "-nodefaults", "-accel", kvm ? "kvm" : "tcg", "-cpu", kvm ? "host" : "max", "-smp", "2", "-m", "2048",
        "-display", "none", "-monitor", "none", "-no-reboot", "-serial", "stdio",
        "-kernel", path.join(surrogate, "vmlinuz"), "-initrd", path.join(surrogate, "initrd.img"),
        "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0 quiet",
        "-drive", `file=${path.join(work, "surrogate.qcow2")},if=virtio,format=qcow2`,
        "-drive", `file=${path.join(work, "target.raw")},if=none,id=target,format=raw,discard=unmap`,
        "-device", `nvme,drive=target,serial=${volumeId.replace("-", "")}`,
        "-virtfs", `local,path=${share},mount_tag=upload,security_model=none,id=upload`,
        "-nic", "user,model=virtio-net-pci",
    ];
}

/** Boots the surrogate, streams its console to the progress stream and IMAGE.log; resolves with QEMU's exit code. */
function runSurrogate(o: BuildLocalOptions, args: string[], logFile: string): Promise<number | null> {
    const out = fs.createWriteStream(logFile);
    const progress = o.progress ?? process.stdout;
    return new Promise((resolve, reject) => {
        const qemu = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
        const timer = setTimeout(() => {
            progress.write(`\n==> build-local: the surrogate ran longer than ${o.timeoutMinutes ?? 120} minutes: stopped\n`);
            qemu.kill("SIGKILL");
        }, (o.timeoutMinutes ?? 120) * 60_000);
        const text = new StringDecoder("utf8");
        qemu.stdout.on("data", (d: Buffer) => {
            out.write(d);
            progress.write(text.write(d).replace(/\r/g, ""));
        });
        let stderr = "";
        qemu.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        qemu.on("error", reject);
        qemu.on("exit", (code) => {
            clearTimeout(timer);
            if (stderr) out.write(`\n[qemu stderr] ${stderr}\n`);
            out.end(() => (code === 0 || stderr === "" ? resolve(code) : reject(new Error(`qemu exited with ${code}: ${stderr.trim()}`))));
        });
    });
}

/**
 * Builds the image: validates the arguments, gets the tarball, stages the uploads, boots the surrogate with
 * an empty target disk of `volumeSize` GiB, runs the provisioning command line and keeps the disk as the
 * image when it succeeded.
 */
export async function buildLocal(o: BuildLocalOptions): Promise<BuildLocalResult> {
    const settings = resolveLocalSettings(o.name, o.args);
    const requirements = [QEMU, QEMU_IMG, MMDEBSTRAP, MKFS_EXT4, ...(o.tarball ? [] : [CURL, GPG, ZSTD])];
    checkPrerequisites("arch-ami build-local", requirements);
    if (o.tarball !== undefined && !fs.existsSync(o.tarball)) throw new UsageError(`--tarball ${o.tarball}: no such file`);
    const image = path.resolve(o.out);
    fs.mkdirSync(path.dirname(image), { recursive: true });
    for (const f of [image, `${image}.log`, `${image}.results`]) fs.rmSync(f, { force: true });

    const cache = o.cache ?? defaultCache();
    log(o, `surrogate VM: Debian 13 (cache ${cache})`);
    const built = spawnSync("bash", [path.join(localAssetsDir(), "build-surrogate.sh"), cache], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (built.status !== 0) throw new Error(`local/build-surrogate.sh failed (exit ${built.status}); its messages are above`);
    const surrogate = built.stdout.trim().split("\n").pop()!;

    const tarball = o.tarball ? path.resolve(o.tarball) : runTarballScript(o, settings);
    const work = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/var/tmp", "arch-ami-build-local-"));
    try {
        const share = path.join(work, "upload");
        for (const d of ["home", "commands", "results"]) fs.mkdirSync(path.join(share, d), { recursive: true });
        const staged = stageUploads(path.join(share, "home"), tarball, settings.localPackagePaths);
        for (const p of staged) log(o, `upload: ${p}`);

        const volumeId = o.volumeId ?? localVolumeId();
        const config = renderConfig(settings.image, { volumeId, deviceName: TARGET_DEVICE });
        const commands: SurrogateCommand[] = [
            ...(o.before ?? []),
            { name: "provision", command: provisionCommand(config, scriptsLanding(provisionDir())) },
            { name: "builder-clean", command: BUILDER_CLEAN },
        ];
        const expected = queue(path.join(share, "commands"), commands);

        spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", path.join(surrogate, "disk.raw"), "-F", "raw", path.join(work, "surrogate.qcow2")], { stdio: "inherit" });
        fs.writeFileSync(path.join(work, "target.raw"), "");
        fs.truncateSync(path.join(work, "target.raw"), settings.image.volumeSize * 1024 ** 3);
        log(o, `booting the surrogate (QEMU, ${kvmUsable() ? "KVM" : "TCG: no usable /dev/kvm, slow"}); target disk ${settings.image.volumeSize} GiB on NVMe, volume ${volumeId}`);
        await runSurrogate(o, surrogateQemuArgs(surrogate, work, share, volumeId), `${image}.log`);

        const results = new Map<string, number | undefined>();
        const lines: string[] = [];
        let unexpected = 0;
        for (const [file, want] of expected) {
            const f = path.join(share, "results", file);
            const got = fs.existsSync(f) ? Number(fs.readFileSync(f, "utf8").trim()) : undefined;
            results.set(file, got);
            lines.push(`${file} ${got ?? "missing"}`);
            if (got !== want && !file.endsWith("-provision")) {
                unexpected++;
                log(o, `surrogate command ${file}: exit ${got ?? "missing"}, expected ${want}`);
            }
        }
        fs.writeFileSync(`${image}.results`, lines.join("\n") + "\n");
        const provision = [...results].find(([f]) => f.endsWith("-provision"))![1];
        if (provision !== 0) {
            log(o, provision === undefined ? `the provisioning never finished; console: ${image}.log` : `provisioning FAILED with exit code ${provision} (provision/README.md); console: ${image}.log`);
            return { exitCode: provision ?? 1, image, results };
        }
        if (unexpected > 0) {
            log(o, `the image was provisioned, but ${unexpected} other command(s) ended unexpectedly (see above)`);
        }
        fs.renameSync(path.join(work, "target.raw"), image);
        writeImageInfo(image, { defaultUser: settings.image.defaultUser, verifyArgs: verifyArgs(settings.image), volumeSize: settings.image.volumeSize, bootMode: settings.bootMode });
        if (o.qcow2) {
            const q = image.replace(/\.raw$/, "") + ".qcow2";
            spawnSync("qemu-img", ["convert", "-O", "qcow2", image, q], { stdio: "inherit" });
            log(o, `qcow2: ${q}`);
        }
        log(o, `image: ${image} (${settings.image.volumeSize} GiB raw); boot it: arch-ami boot-local ${image}`);
        return { exitCode: unexpected > 0 ? 1 : 0, image, results };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

const USAGE = `usage: arch-ami build-local (--args FILE | --stack NAME) --out IMAGE.raw [options]

Builds the Arch image on this machine through the same steps as on AWS: build-tarball.sh (the release,
its signature verified), a local Debian 13 surrogate VM (QEMU; KVM when /dev/kvm is usable, TCG
otherwise), the same uploads and the same provisioning command line. Needs root and Linux x86_64.

  --args FILE        the component's arguments as a JSON or YAML object (as in new ArchAmi(name, {...}))
  --stack NAME       or: the arguments from the stack's config (Pulumi.NAME.yaml, keys "<namespace>:<argument>")
  --project DIR      folder of Pulumi.yaml and the stack files (default: .)
  --namespace NS     the config namespace of --stack (default: arch-ami, as the default program)
  --name NAME        the component's name (default: arch)
  --out IMAGE.raw    where the raw disk image goes (required); next to it IMAGE.raw.log (the builder's
                     console), IMAGE.raw.results and IMAGE.raw.arch-ami.json (what boot-local reads)
  --qcow2            also write the image as qcow2 (IMAGE.qcow2)
  --tarball FILE     use this bootstrap tarball instead of build-tarball.sh (no download, no signature check)
  --cache DIR        the surrogate VM's cache (default: ~/.cache/arch-ami/local)
  --timeout MINUTES  stop the surrogate after this long (default: 120)

Exit codes: as provision/README.md: 0 image built, 1 a step failed, 2 usage or config error (this
command's too), 3 target disk refused, 4 tarball refused, 5 customization failed.
`;

/** The CLI: parses the options, builds, returns the exit code. */
export async function main(argv: string[]): Promise<number> {
    let values;
    try {
        values = parseArgs({
            args: argv,
            options: {
                args: { type: "string" },
                stack: { type: "string" },
                project: { type: "string", default: "." },
                namespace: { type: "string", default: "arch-ami" },
                name: { type: "string", default: "arch" },
                out: { type: "string" },
                qcow2: { type: "boolean", default: false },
                tarball: { type: "string" },
                cache: { type: "string" },
                timeout: { type: "string", default: "120" },
                help: { type: "boolean", short: "h", default: false },
            },
        }).values;
    } catch (e) {
        throw new UsageError(`build-local: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    }
    if (values.help) {
        process.stdout.write(USAGE);
        return 0;
    }
    if (!values.out) throw new UsageError(`build-local: --out IMAGE.raw is required\n${USAGE}`);
    if ((values.args === undefined) === (values.stack === undefined)) throw new UsageError(`build-local: give exactly one of --args FILE and --stack NAME\n${USAGE}`);
    const timeout = Number(values.timeout);
    if (!Number.isInteger(timeout) || timeout <= 0) throw new UsageError(`build-local: --timeout must be a whole number of minutes, e.g. --timeout 120 (got "${values.timeout}")`);
    const args = values.args !== undefined ? readArgsFile(values.args) : readStackArgs(values.project!, values.stack!, values.namespace!);
    try {
        const r = await buildLocal({ name: values.name!, args, out: values.out, qcow2: values.qcow2, tarball: values.tarball, cache: values.cache, timeoutMinutes: timeout });
        return r.exitCode;
    } catch (e) {
        const code = (e as { exitCode?: number }).exitCode;
        if (code !== undefined) {
            process.stderr.write(`arch-ami: ${(e as Error).message}\n`);
            return code;
        }
        throw e;
    }
}
