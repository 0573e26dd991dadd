// One "EC2 instance" for `arch-ami boot-local` and the first-boot tests: a QEMU VM (KVM or TCG) in its own
// network namespace, whose loopback carries 169.254.169.254 and fd00:ec2::254 (the metadata service,
// IMDSv2 only), 169.254.169.123 (SNTP, standing in for Amazon Time Sync) and, on 127.0.0.1 / ::1, the local
// DNS server. QEMU's user networking gives the guest DHCP and NATs its connections to those addresses like
// to any other host address. Its DNS address (announced by DHCP) forwards to the first nameserver of
// /etc/resolv.conf as the QEMU process sees it (libslirp src/socket.c sotranslate_out4 -> src/slirp.c
// get_dns_addr_resolv_conf), and `ip netns exec` bind-mounts /etc/netns/<netns>/resolv.conf over
// /etc/resolv.conf (iproute2 lib/namespace.c, netns_switch -> bind_etc): that file names 127.0.0.1, so the
// guest's DNS queries reach the local DNS server and nothing else (the guest has no internet: the
// namespace has no route out). SMBIOS says "Amazon EC2" with an ec2… system UUID and the instance id as
// chassis asset tag, as a Nitro instance's does, so the image's own cloud-init configuration
// (datasource_list: [ Ec2, None ]) picks Ec2 with nothing added to the image. The guest's port 22 is
// forwarded to 127.0.0.1:2222 in the namespace; ssh runs there too. The serial log is kept.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULTS } from "../argSpec";
import { Bus, Firmware, machineArgs, plain } from "./qemu";
import { Instance, RequestRecord } from "./imds";

/** The guest's SSH port as forwarded inside the namespace (127.0.0.1:GUEST_SSH_PORT there). */
export const GUEST_SSH_PORT = 2222;
/** The metadata service's IPv4 endpoint. */
export const IMDS_IPV4 = "169.254.169.254";
/** The metadata service's IPv6 endpoint. */
export const IMDS_IPV6 = "fd00:ec2::254";

/**
 * A file shipped with the package: `local/<name>` (Python helpers; the compiled JavaScript is in
 * bin/src/local, the sources in src/local, so the package root is two or three folders up).
 */
export function packageFile(name: string): string {
    let dir = __dirname;
    for (let i = 0; i < 4; i++) {
        const candidate = path.join(dir, "local", name);
        if (fs.existsSync(candidate)) return candidate;
        dir = path.dirname(dir);
    }
    throw new Error(`arch-ami: local/${name} not found above ${__dirname}; the package is incomplete`);
}

/**
 * The command that runs the metadata service (imds-server): the compiled JavaScript next to this file, or
 * the TypeScript source under tsx when this runs from the sources (tests, `node --import tsx`).
 */
function imdsServerCommand(): { command: string[]; cwd: string } {
    if (__filename.endsWith(".ts")) {
        // tsx is resolved from the working folder: the repository's.
        return { command: [process.execPath, "--import", "tsx", path.join(__dirname, "imds-server.ts")], cwd: path.resolve(__dirname, "../..") };
    }
    return { command: [process.execPath, path.join(__dirname, "imds-server.js")], cwd: __dirname };
}

/** One VM. */
export interface VmOptions {
    /** Short name: netns, log file names. */
    name: string;
    firmware: Firmware;
    bus: Bus;
    /** qcow2 disk (kept between start() calls: a stop/start or reboot keeps it). */
    disk: string;
    instance: Instance;
    /** QEMU user network, e.g. 10.0.2.0/24 (the guest gets .15, the gateway .2, DNS .3). */
    net: string;
    /** Where the serial log (appended across boots) and the metadata request log go. */
    serialLog: string;
    requestLog: string;
    /** false: no time server at 169.254.169.123 (the address is not there, nothing answers). Default true. */
    timeServer?: boolean;
    /**
     * QEMU and the metadata service in their own process group: a Ctrl-C at the terminal reaches only the
     * caller, which then tears them down (boot-local). Default false (they go with the caller's group).
     */
    ownProcessGroup?: boolean;
}

/** What one ssh run gave. */
export interface SshResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[]): void {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
}

/** A VM in its own network namespace with the metadata service (setUp, start, ssh, tearDown). */
export class Vm {
    /** The network namespace's name (arch-ami-<name>-<pid>). */
    readonly netns: string;
    private qemu?: ChildProcess;
    private imds?: ChildProcess;
    private work: string;
    private qemuExit?: Promise<number | null>;
    /** Date.now() when QEMU was last started. */
    startedAt = 0;

    /** /etc/netns/<netns>: files `ip netns exec` bind-mounts over /etc (resolv.conf). */
    private readonly etc: string;

    constructor(readonly o: VmOptions) {
        this.netns = `arch-ami-${o.name}-${process.pid}`;
        this.etc = path.join("/etc/netns", this.netns);
        this.work = fs.mkdtempSync(path.join(os.tmpdir(), `arch-ami-${o.name}-`));
    }

    /** Creates the namespace and starts the metadata service in it. */
    async setUp(): Promise<void> {
        run("ip", ["netns", "add", this.netns]);
        run("ip", ["-n", this.netns, "link", "set", "lo", "up"]);
        const timeServer = this.o.timeServer ?? true;
        for (const a of ["169.254.169.254/32", ...(timeServer ? ["169.254.169.123/32"] : [])]) run("ip", ["-n", this.netns, "addr", "add", a, "dev", "lo"]);
        run("ip", ["-n", this.netns, "-6", "addr", "add", `${IMDS_IPV6}/128`, "dev", "lo", "nodad"]);
        fs.mkdirSync(this.etc, { recursive: true });
        fs.writeFileSync(path.join(this.etc, "resolv.conf"), "nameserver 127.0.0.1\n");
        const config = path.join(this.work, "instance.json");
        fs.writeFileSync(config, JSON.stringify(this.o.instance));
        fs.rmSync(this.o.requestLog, { force: true });
        fs.writeFileSync(this.o.requestLog, "");
        fs.rmSync(this.o.serialLog, { force: true });
        const { command, cwd } = imdsServerCommand();
        const server = [...command, config, this.o.requestLog, ...(timeServer ? [] : ["--no-time-server"])];
        const listen = ["python3", packageFile("listen.py"), "1", IMDS_IPV4, "80", IMDS_IPV6, "80", "--"];
        const imds = spawn("ip", ["netns", "exec", this.netns, ...listen, ...server], {
            cwd,
            stdio: ["ignore", "pipe", "inherit"],
            detached: this.o.ownProcessGroup ?? false,
        });
        this.imds = imds;
        await new Promise<void>((resolve, reject) => {
            let out = "";
            imds.stdout!.on("data", (d: Buffer) => {
                out += d.toString();
                if (out.includes("ready")) resolve();
            });
            imds.on("exit", (c) => reject(new Error(`metadata service exited with ${c}`)));
        });
    }

    /** Powers the VM on (a launch, or a start after a stop). */
    start(): void {
        const [a, b, c] = this.o.net.split("/")[0].split(".");
        const i = this.o.instance;
        const serialTmp = path.join(this.work, `serial-${Date.now()}.log`);
        const args = [
            ...machineArgs({ firmware: this.o.firmware, bus: this.o.bus, disk: this.o.disk, work: this.work, serialFile: serialTmp, memoryMiB: 2048, reboot: true }),
            "-smbios", `type=1,manufacturer=Amazon EC2,product=${i.instanceType},version=1.0,serial=${i.instanceId.replace("i-", "ec2")},uuid=${this.uuid()}`,
            "-smbios", `type=3,manufacturer=Amazon EC2,asset=${i.instanceId}`,
            "-nic", `user,model=virtio-net-pci,mac=${i.mac},net=${this.o.net},host=${a}.${b}.${c}.2,dns=${a}.${b}.${c}.3,dhcpstart=${a}.${b}.${c}.15,hostfwd=tcp:127.0.0.1:${GUEST_SSH_PORT}-:22`,
        ];
        this.startedAt = Date.now();
        const qemu = spawn("ip", ["netns", "exec", this.netns, "qemu-system-x86_64", ...args], { stdio: ["ignore", "ignore", "pipe"], detached: this.o.ownProcessGroup ?? false });
        let stderr = "";
        qemu.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        this.qemu = qemu;
        this.qemuExit = new Promise((r) =>
            qemu.on("exit", (code) => {
                // Append this power cycle's serial output to the kept log.
                if (fs.existsSync(serialTmp)) fs.appendFileSync(this.o.serialLog, fs.readFileSync(serialTmp));
                if (stderr) fs.appendFileSync(this.o.serialLog, `\n[qemu stderr] ${stderr}\n`);
                r(code);
            }),
        );
        this.serialTmp = serialTmp;
    }

    private serialTmp = "";

    /** The file QEMU writes the current power cycle's serial console to (appended to serialLog when it exits). */
    get serialFile(): string {
        return this.serialTmp;
    }

    /** Resolves with QEMU's exit code when the current power cycle ends (a power-off, a crash, a kill). */
    get exited(): Promise<number | null> {
        return this.qemuExit ?? Promise.resolve(null);
    }

    /** The serial console output of the current power cycle so far. */
    serial(): string {
        return fs.existsSync(this.serialTmp) ? plain(fs.readFileSync(this.serialTmp, "utf8")) : "";
    }

    /** An SMBIOS system UUID starting with "ec2", derived from the instance id (as EC2's are). */
    uuid(): string {
        const hex = this.o.instance.instanceId.slice(2).padEnd(17, "0");
        return `ec2${hex.slice(0, 5)}-${hex.slice(5, 9)}-${hex.slice(9, 13)}-${hex.slice(13, 17)}-0123456789ab`;
    }

    /** Whether QEMU runs. */
    get running(): boolean {
        return this.qemu !== undefined && this.qemu.exitCode === null && this.qemu.signalCode === null;
    }

    /** Runs ssh (in the namespace) to the guest; `onOutput` sees its output as it comes (stdout and stderr). */
    ssh(command: string, opts: { user?: string; key?: string; extra?: string[]; timeoutSeconds?: number; onOutput?: (stream: "stdout" | "stderr", data: Buffer) => void } = {}): Promise<SshResult> {
        const args = [
            "netns", "exec", this.netns, "ssh", "-F", "/dev/null", "-p", String(GUEST_SSH_PORT),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(this.work, "known_hosts")}`,
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
            ...(opts.key ? ["-i", opts.key] : []),
            ...(opts.extra ?? []),
            `${opts.user ?? DEFAULTS.defaultUser}@127.0.0.1`, command,
        ];
        return new Promise((resolve) => {
            const p = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            p.stdout.on("data", (d: Buffer) => {
                stdout += d.toString();
                opts.onOutput?.("stdout", d);
            });
            p.stderr.on("data", (d: Buffer) => {
                stderr += d.toString();
                opts.onOutput?.("stderr", d);
            });
            const timer = setTimeout(() => p.kill("SIGKILL"), (opts.timeoutSeconds ?? 120) * 1000);
            // "close", not "exit": the output may still be in the pipes when the process has exited.
            p.on("close", (status) => {
                clearTimeout(timer);
                resolve({ status, stdout, stderr });
            });
        });
    }

    /** The host keys the guest's sshd offers, as "type base64" lines, sorted. */
    hostKeys(): string[] {
        const r = spawnSync("ip", ["netns", "exec", this.netns, "ssh-keyscan", "-p", String(GUEST_SSH_PORT), "-T", "20", "127.0.0.1"], { encoding: "utf8" });
        return r.stdout
            .split("\n")
            .filter((l) => l && !l.startsWith("#"))
            .map((l) => l.split(" ").slice(1, 3).join(" "))
            .sort();
    }

    /**
     * Polls until `ssh -i key <user>@… true` succeeds (user: arch unless given, e.g. the benchmark's
     * Debian anchor); returns seconds since QEMU started. Throws (with the serial console's tail) when QEMU
     * exits or the timeout passes.
     */
    async waitForSsh(key: string, timeoutSeconds: number, user?: string): Promise<number> {
        const deadline = this.startedAt + timeoutSeconds * 1000;
        for (;;) {
            if (!this.running) throw new Error(`the VM stopped before SSH answered; serial:\n${this.serial().slice(-4000)}`);
            const r = await this.ssh("true", { key, user, timeoutSeconds: 30 });
            if (r.status === 0) return (Date.now() - this.startedAt) / 1000;
            if (Date.now() > deadline) throw new Error(`no SSH login within ${timeoutSeconds}s (last: ${r.stderr.trim()}); serial:\n${this.serial().slice(-4000)}`);
            await new Promise((res) => setTimeout(res, 2000));
        }
    }

    /**
     * Polls until the guest's sshd answers (ssh-keyscan gets a host key: cloud-init has written the
     * authorized keys by then, its network stage runs before sshd) without logging in, for a key this
     * process cannot use (the user's, perhaps with a passphrase); returns seconds since QEMU started.
     * Throws (with the serial console's tail) when QEMU exits or the timeout passes.
     */
    async waitForSshd(timeoutSeconds: number): Promise<number> {
        const deadline = this.startedAt + timeoutSeconds * 1000;
        for (;;) {
            if (!this.running) throw new Error(`the VM stopped before SSH answered; serial:\n${this.serial().slice(-4000)}`);
            const keys = await new Promise<string>((resolve) => {
                const p = spawn("ip", ["netns", "exec", this.netns, "ssh-keyscan", "-p", String(GUEST_SSH_PORT), "-T", "10", "127.0.0.1"], { stdio: ["ignore", "pipe", "ignore"] });
                let out = "";
                p.stdout.on("data", (d: Buffer) => (out += d.toString()));
                p.on("close", () => resolve(out));
            });
            if (/^\S+ (ssh|ecdsa)-/m.test(keys)) return (Date.now() - this.startedAt) / 1000;
            if (Date.now() > deadline) throw new Error(`no SSH server answered within ${timeoutSeconds}s; serial:\n${this.serial().slice(-4000)}`);
            await new Promise((res) => setTimeout(res, 2000));
        }
    }

    /** Waits for QEMU to exit (after a poweroff), killing it after the timeout. */
    async waitForExit(timeoutSeconds: number): Promise<number | null> {
        const timer = setTimeout(() => this.qemu?.kill("SIGKILL"), timeoutSeconds * 1000);
        const code = await this.qemuExit;
        clearTimeout(timer);
        return code ?? null;
    }

    /** The metadata service's requests so far (its request log). */
    requests(): RequestRecord[] {
        return fs
            .readFileSync(this.o.requestLog, "utf8")
            .split("\n")
            .filter((l) => l)
            .map((l) => JSON.parse(l) as RequestRecord);
    }

    /** Stops QEMU and the metadata service, removes the namespace and the work folder. */
    async tearDown(): Promise<void> {
        if (this.running) {
            this.qemu!.kill("SIGKILL");
            await this.qemuExit;
        }
        this.imds?.kill("SIGKILL");
        spawnSync("ip", ["netns", "delete", this.netns]);
        fs.rmSync(this.etc, { recursive: true, force: true });
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}
