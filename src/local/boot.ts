// arch-ami boot-local IMAGE: boots an image as an EC2 instance would see it (instance.ts, vm.ts), prints
// the ssh command and stays until Ctrl-C or the guest's power-off; with --verify it runs provision/verify.sh
// as the AWS check does (src/image/verify.ts verifyCommand, as the default user) and exits with its status.
import { spawn, ChildProcess, execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_DNS_NAME } from "./imds";
import { ImageInfo, imageInfoPath, readImageInfo } from "./imageInfo";
import { imageFormat, localInstance, startInstance } from "./instance";
import { IP, PYTHON3, QEMU, QEMU_IMG, SSH, SSH_KEYGEN, UsageError, checkPrerequisites, kvmUsable } from "./prerequisites";
import { Bus, Firmware, diskInfo } from "./qemu";
import { GUEST_SSH_PORT, Vm, packageFile } from "./vm";

const GIB = 1024 ** 3;
/** QEMU's user network inside the namespace (the guest gets .15). */
const NET = "10.0.2.0/24";
/** Seconds a passed check's power-off may take (it is scheduled POWER_OFF_DELAY_SECONDS after the check). */
const POWER_OFF_TIMEOUT = 180;
/** verify.sh waits for cloud-init, the system's start-up and the clock: generous, TCG is slow. */
const VERIFY_TIMEOUT = 1800;
/** The default public keys looked for in the invoking user's ~/.ssh, in this order. */
const DEFAULT_KEYS = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"];

/**
 * The component's modules boot-local needs (verify.sh's command and arguments, the default settings), loaded
 * once the arguments are parsed: they load Pulumi's AWS provider, seconds that a usage error need not wait.
 */
async function component() {
    const [verify, render, settings] = await Promise.all([import("../image/verify"), import("../render"), import("../settings")]);
    return { ...verify, ...render, ...settings };
}

/** `arch-ami boot-local --help`, with src/image/verify.ts VERIFY_EXTRA_GIB. */
export function usage(VERIFY_EXTRA_GIB: number): string {
    return `usage: arch-ami boot-local IMAGE [options]

Boots IMAGE (raw or qcow2, e.g. what build-local made) on this machine as an EC2 instance would see it:
SMBIOS "Amazon EC2", an IMDSv2-only metadata service at 169.254.169.254 publishing your SSH public key,
Amazon Time Sync at 169.254.169.123, UEFI with the disk on NVMe (a Nitro instance), on a disk larger
than the image so the guest grows its root. Prints the ssh command and stays until Ctrl-C or the guest
powers off, then removes everything it made (the disk overlay, processes, network namespace). The image
file is never written to.

The instance has NO internet access: it runs in its own network namespace whose only DNS server knows
one name (${LOCAL_DNS_NAME}). It runs under KVM when /dev/kvm is usable, else emulated (TCG, slow:
minutes to boot). Needs root (sudo), qemu, iproute2, python3, OpenSSH and OVMF for UEFI.

options:
  --firmware uefi|bios  firmware (default uefi; bios when the image record says bootMode legacy-bios)
  --bus nvme|virtio     how the disk is attached (default nvme)
  --disk-size GIB       the instance's disk in GiB (default: the record's volumeSize + ${VERIFY_EXTRA_GIB}, as
                        the AWS check's volume; else the image's size + ${VERIFY_EXTRA_GIB})
  --ssh-key PUB         the public key the metadata service publishes (default: the invoking user's
                        ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub, that of SUDO_USER under sudo;
                        without one, a new key pair for this run, its path printed)
  --ssh-port N          host port of the printed ssh command, on 127.0.0.1 (default 2222)
  --verify              run provision/verify.sh in the guest as the default user, exactly as the AWS check
                        does (with a key pair of its own unless --ssh-key is given, then its private key
                        next to it), print its output and exit with its status: 0 after the guest
                        powered itself off, else verify.sh's status with the failed checks named
  --timeout SECONDS     how long to wait for SSH (default 900)
  -h, --help            this text

The image record IMAGE.arch-ami.json (written by build-local) gives the default user, verify.sh's
arguments, the volume size and the boot mode; without it: the component's defaults.
`;
}

/** What the command line asks for. */
export interface BootLocalOptions {
    image: string;
    firmware?: Firmware;
    bus: Bus;
    diskSizeGiB?: number;
    sshKey?: string;
    sshPort: number;
    verify: boolean;
    timeoutSeconds: number;
}

function positiveInteger(option: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`boot-local: ${option} ${JSON.stringify(value)}: expected a whole number from 1 to ${max}`);
    return n;
}

/** Parses boot-local's arguments; "help" for --help. Throws a UsageError naming the option at fault. */
export function parseArgs(argv: string[]): BootLocalOptions | "help" {
    const o: Partial<BootLocalOptions> & { bus: Bus; sshPort: number; verify: boolean; timeoutSeconds: number } = { bus: Bus.Nvme, sshPort: 2222, verify: false, timeoutSeconds: 900 };
    const images: string[] = [];
    const hint = " (arch-ami boot-local --help)";
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h" || arg === "--help") return "help";
        if (arg === "--verify") {
            o.verify = true;
            continue;
        }
        if (!arg.startsWith("-") || arg === "-") {
            images.push(arg);
            continue;
        }
        const eq = arg.indexOf("=");
        const name = eq > 0 ? arg.slice(0, eq) : arg;
        const known = ["--firmware", "--bus", "--disk-size", "--ssh-key", "--ssh-port", "--timeout"];
        if (!known.includes(name)) throw new UsageError(`boot-local: unknown option ${JSON.stringify(name)}${hint}`);
        let value: string;
        if (eq > 0) value = arg.slice(eq + 1);
        else {
            if (i + 1 >= argv.length) throw new UsageError(`boot-local: ${name} needs a value${hint}`);
            value = argv[++i];
        }
        switch (name) {
            case "--firmware":
                if (value !== Firmware.Uefi && value !== Firmware.Bios) throw new UsageError(`boot-local: --firmware ${JSON.stringify(value)}: expected uefi or bios`);
                o.firmware = value;
                break;
            case "--bus":
                if (value !== Bus.Nvme && value !== Bus.Virtio) throw new UsageError(`boot-local: --bus ${JSON.stringify(value)}: expected nvme or virtio`);
                o.bus = value;
                break;
            case "--disk-size":
                o.diskSizeGiB = positiveInteger(name, value, 16384);
                break;
            case "--ssh-key":
                o.sshKey = value;
                break;
            case "--ssh-port":
                o.sshPort = positiveInteger(name, value, 65535);
                break;
            case "--timeout":
                o.timeoutSeconds = positiveInteger(name, value);
                break;
        }
    }
    if (images.length === 0) throw new UsageError(`boot-local: no IMAGE given${hint}`);
    if (images.length > 1) throw new UsageError(`boot-local: one IMAGE expected, got ${images.map((x) => JSON.stringify(x)).join(", ")}${hint}`);
    return { ...o, image: images[0] };
}

/**
 * The home folder of the user who ran the command: SUDO_USER's under sudo, else $HOME, else the account's
 * (what os.homedir() does on POSIX, but read from process.env, which a worker thread has its own copy of).
 */
export function invokingHome(): string {
    const user = process.env.SUDO_USER;
    if (user && user !== "root") {
        const entry = spawnSync("getent", ["passwd", user], { encoding: "utf8" }).stdout.trim();
        const home = entry.split(":")[5];
        if (home) return home;
    }
    return process.env.HOME || os.homedir();
}

/** The key pair the instance is launched with. */
export interface KeyChoice {
    /** The public key file. */
    publicFile: string;
    publicKey: string;
    /** Its private key, when known to exist. */
    privateFile?: string;
    /** A key pair made for this run (removed at the end). */
    ephemeral: boolean;
}

const PUBLIC_KEY = /^(ssh-|ecdsa-|sk-)\S+ \S+/;

function readPublicKey(file: string, option: string): string {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8").trim();
    } catch (e) {
        throw new UsageError(`boot-local: ${option} ${file}: ${(e as Error).message}`);
    }
    if (!PUBLIC_KEY.test(text)) throw new UsageError(`boot-local: ${option} ${file}: not an OpenSSH public key (ssh-ed25519 AAAA… comment)`);
    return text.split("\n")[0];
}

/** A new ed25519 key pair in `dir`, owned by SUDO_UID under sudo so the user can use it. */
function ephemeralKey(dir: string): KeyChoice {
    const privateFile = path.join(dir, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "arch-ami-boot-local", "-f", privateFile]);
    const uid = Number(process.env.SUDO_UID);
    const gid = Number(process.env.SUDO_GID);
    if (Number.isInteger(uid) && uid > 0 && Number.isInteger(gid)) {
        for (const f of [dir, privateFile, `${privateFile}.pub`]) fs.chownSync(f, uid, gid);
    }
    return { publicFile: `${privateFile}.pub`, publicKey: fs.readFileSync(`${privateFile}.pub`, "utf8").trim(), privateFile, ephemeral: true };
}

export function chooseKey(o: BootLocalOptions, keyDir: () => string): KeyChoice {
    if (o.sshKey !== undefined) {
        const publicKey = readPublicKey(o.sshKey, "--ssh-key");
        const privateFile = o.sshKey.replace(/\.pub$/, "");
        const hasPrivate = privateFile !== o.sshKey && fs.existsSync(privateFile);
        if (o.verify && !hasPrivate) throw new UsageError(`boot-local: --verify logs in with the private key of --ssh-key: ${privateFile} not found (the public key file must end in .pub)`);
        return { publicFile: o.sshKey, publicKey, privateFile: hasPrivate ? privateFile : undefined, ephemeral: false };
    }
    // --verify logs in by itself, non-interactively, as the AWS check does with its own key pair (the
    // user's key may have a passphrase).
    if (!o.verify) {
        const home = invokingHome();
        for (const name of DEFAULT_KEYS) {
            const file = path.join(home, ".ssh", name);
            if (fs.existsSync(file)) {
                const privateFile = file.replace(/\.pub$/, "");
                return { publicFile: file, publicKey: readPublicKey(file, "key"), privateFile: fs.existsSync(privateFile) ? privateFile : undefined, ephemeral: false };
            }
        }
    }
    return ephemeralKey(keyDir());
}

/** Resolves on SIGINT or SIGTERM (Ctrl-C); `stopped` tells whether it came. */
class Interrupt {
    stopped = false;
    readonly promise: Promise<"interrupted">;
    private readonly handlers: (() => void)[] = [];

    constructor() {
        this.promise = new Promise((resolve) => {
            for (const signal of ["SIGINT", "SIGTERM"] as const) {
                const h = () => {
                    this.stopped = true;
                    resolve("interrupted");
                };
                process.on(signal, h);
                this.handlers.push(() => process.off(signal, h));
            }
        });
    }

    /** `p`, or "interrupted" if a signal comes first (`p`'s later failure is then ignored). */
    race<T>(p: Promise<T>): Promise<T | "interrupted"> {
        p.catch(() => undefined);
        return Promise.race([p, this.promise]);
    }

    dispose(): void {
        for (const h of this.handlers) h();
    }
}

/**
 * The host side of the printed ssh command: a listener on 127.0.0.1:`port` that joins each connection to
 * the guest's SSH port inside the namespace through local/relay.py (`ip netns exec`): the namespace has
 * no link to the host, and a socket belongs to the namespace it was made in.
 */
export class Relay {
    private readonly children = new Set<ChildProcess>();
    private readonly server: net.Server;

    private constructor(server: net.Server) {
        this.server = server;
    }

    /** Listens on 127.0.0.1:`port` for the guest port GUEST_SSH_PORT in `netns`; a UsageError when the port is taken. */
    static async listen(port: number, netns: string): Promise<Relay> {
        const relay = packageFile("relay.py");
        const server = net.createServer();
        const r = new Relay(server);
        server.on("connection", (socket) => {
            const child = spawn("ip", ["netns", "exec", netns, "python3", relay, String(GUEST_SSH_PORT)], { stdio: ["pipe", "pipe", "ignore"], detached: true });
            r.children.add(child);
            socket.pipe(child.stdin!);
            child.stdout!.pipe(socket);
            child.stdin!.on("error", () => undefined);
            socket.on("error", () => child.kill("SIGKILL"));
            socket.on("close", () => child.kill("SIGTERM"));
            child.on("exit", () => {
                r.children.delete(child);
                socket.end();
            });
        });
        await new Promise<void>((resolve, reject) => {
            server.once("error", (e: NodeJS.ErrnoException) =>
                reject(e.code === "EADDRINUSE" ? new UsageError(`boot-local: --ssh-port ${port}: 127.0.0.1:${port} is in use; choose another port with --ssh-port`) : e),
            );
            server.listen(port, "127.0.0.1", () => resolve());
        });
        return r;
    }

    /** Stops listening and ends every relayed connection. */
    close(): void {
        this.server.close();
        for (const c of this.children) c.kill("SIGKILL");
    }
}

function say(text: string): void {
    process.stdout.write(`boot-local: ${text}\n`);
}

type Component = Awaited<ReturnType<typeof component>>;

/** verify.sh's arguments: the record's (or the defaults'), and the one name the local DNS server knows. */
export function localVerifyArgs(c: Component, record: ImageInfo | undefined): string[] {
    const args = record?.verifyArgs ?? c.verifyArgs(c.resolveSettings("boot-local", {}).image);
    return [...args, "--dns-name", LOCAL_DNS_NAME];
}

/** `arch-ami boot-local`: the exit code (see USAGE). */
export async function main(argv: string[]): Promise<number> {
    const parsed = parseArgs(argv);
    const c = await component();
    if (parsed === "help") {
        process.stdout.write(usage(c.VERIFY_EXTRA_GIB));
        return 0;
    }
    const o = parsed;
    if (!fs.existsSync(o.image) || !fs.statSync(o.image).isFile()) throw new UsageError(`boot-local: IMAGE ${o.image}: no such file`);
    const record = readImageInfo(o.image);
    const defaults = record === undefined ? c.resolveSettings("boot-local", {}).image : undefined;
    const firmware = o.firmware ?? (record?.bootMode === "legacy-bios" ? Firmware.Bios : Firmware.Uefi);
    checkPrerequisites("boot-local", [IP, QEMU, QEMU_IMG, PYTHON3, SSH, SSH_KEYGEN], { ovmf: firmware === Firmware.Uefi });

    let format: "raw" | "qcow2";
    try {
        format = imageFormat(o.image);
    } catch (e) {
        throw new UsageError(`boot-local: IMAGE ${(e as Error).message}`);
    }
    const virtualSize = diskInfo(o.image).virtualSize;
    const diskGiB = o.diskSizeGiB ?? (record ? record.volumeSize : Math.ceil(virtualSize / GIB)) + c.VERIFY_EXTRA_GIB;
    if (diskGiB * GIB < virtualSize) throw new UsageError(`boot-local: --disk-size ${diskGiB}: smaller than the image (${(virtualSize / GIB).toFixed(1)} GiB)`);
    const user = record?.defaultUser ?? defaults!.defaultUser;

    const interrupt = new Interrupt();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-boot-local-"));
    let keyDir: string | undefined;
    let vm: Vm | undefined;
    let relay: Relay | undefined;
    try {
        const key = chooseKey(o, () => (keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-boot-local-key-"))));
        const keyName = path.basename(key.publicFile).replace(/\.pub$/, "");
        const instance = localInstance(o.image, NET, keyName, key.publicKey);
        say(`image ${o.image} (${format}; ${record ? `record ${imageInfoPath(o.image)}` : "no image record: the component's defaults"}), default user ${user}`);
        say(
            `instance ${instance.instanceId}: ${firmware === Firmware.Uefi ? "UEFI (OVMF)" : "BIOS (SeaBIOS)"}, disk on ${o.bus}, ${diskGiB} GiB, ` +
                `${kvmUsable() ? "KVM" : "TCG (no usable /dev/kvm: emulated, slow)"}; key pair ${keyName} (${key.publicFile}${key.ephemeral ? ", made for this run" : ""})`,
        );
        const name = "local";
        const netns = `arch-ami-${name}-${process.pid}`;
        if (!o.verify) relay = await Relay.listen(o.sshPort, netns);
        vm = await startInstance(o.image, {
            name,
            firmware,
            bus: o.bus,
            instance,
            net: NET,
            work,
            diskSize: `${diskGiB}G`,
            format,
            serialLog: path.join(work, "serial.log"),
            requestLog: path.join(work, "imds-requests.jsonl"),
            ownProcessGroup: true,
        });
        say(`serial console: ${vm.serialFile} (tail -f it to watch the boot); metadata requests: ${vm.o.requestLog}; both are removed at the end`);
        say(`waiting up to ${o.timeoutSeconds} s for SSH (no internet in the instance; its DNS knows ${LOCAL_DNS_NAME} only)`);
        return o.verify ? await verify(c, vm, key, user, record, o, interrupt) : await foreground(vm, key, user, o, interrupt);
    } finally {
        // The signal handlers stay until everything is removed: another Ctrl-C must not cut the clean-up short.
        relay?.close();
        await vm?.tearDown();
        fs.rmSync(work, { recursive: true, force: true });
        if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
        interrupt.dispose();
    }
}

async function foreground(vm: Vm, key: KeyChoice, user: string, o: BootLocalOptions, interrupt: Interrupt): Promise<number> {
    const up = await interrupt.race(vm.waitForSshd(o.timeoutSeconds));
    if (up === "interrupted") {
        say("interrupted; removing the instance");
        return 130;
    }
    say(`SSH is up after ${up.toFixed(1)} s. Log in with:`);
    const identity = key.ephemeral || (o.sshKey !== undefined && key.privateFile) ? ` -i ${key.privateFile}` : "";
    process.stdout.write(`\n  ssh -p ${o.sshPort} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR${identity} ${user}@127.0.0.1\n\n`);
    if (key.ephemeral) say(`the key pair was made for this run and is removed at the end: ${key.privateFile}`);
    say("Ctrl-C (or a power-off in the guest) ends the instance and removes it");
    const end = await interrupt.race(vm.exited);
    say(end === "interrupted" ? "interrupted; removing the instance" : `the guest powered off (QEMU exit ${end}); removing the instance`);
    return 0;
}

async function verify(c: Component, vm: Vm, key: KeyChoice, user: string, record: ImageInfo | undefined, o: BootLocalOptions, interrupt: Interrupt): Promise<number> {
    const up = await interrupt.race(vm.waitForSsh(key.privateFile!, o.timeoutSeconds, user));
    if (up === "interrupted") {
        say("interrupted; removing the instance");
        return 130;
    }
    const args = localVerifyArgs(c, record);
    say(`SSH login as ${user} after ${up.toFixed(1)} s; running verify.sh ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(" ")} as the AWS check does`);
    const r = await interrupt.race(
        vm.ssh(c.verifyCommand(c.verifyScript(), args, vm.o.instance.instanceId), {
            key: key.privateFile,
            user,
            timeoutSeconds: VERIFY_TIMEOUT,
            onOutput: (stream, data) => (stream === "stdout" ? process.stdout : process.stderr).write(data),
        }),
    );
    if (r === "interrupted") {
        say("interrupted; removing the instance");
        return 130;
    }
    if (r.status !== 0) {
        say(
            r.status === 255
                ? `the SSH session failed (exit 255): ${r.stderr.trim().split("\n").pop() ?? ""}`
                : `verification failed (verify.sh exit ${r.status === null ? `none: killed after ${VERIFY_TIMEOUT} s` : r.status}); the instance is removed`,
        );
        return r.status === null ? 1 : r.status;
    }
    // As on AWS, a passed check powers the instance off a few seconds later.
    const exit = await interrupt.race(Promise.race([vm.exited, new Promise<"timeout">((res) => setTimeout(() => res("timeout"), POWER_OFF_TIMEOUT * 1000).unref())]));
    if (exit === "interrupted") {
        say("interrupted; removing the instance");
        return 130;
    }
    if (exit === "timeout") {
        say(`verify.sh passed, but the guest did not power itself off within ${POWER_OFF_TIMEOUT} s (on AWS the test instance would keep running)`);
        return 1;
    }
    say(`verify.sh passed; the guest powered itself off (QEMU exit ${exit}), as the AWS test instance does`);
    return 0;
}
