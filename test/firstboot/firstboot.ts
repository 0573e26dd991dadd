// What the first-boot suite and bench:firstboot share: the test instances, the key pairs, the tests'
// settings of a launch (src/local/instance.ts launchInstance, the one launch boot-local uses too) and the
// facts read from inside a running instance over SSH.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Bus, Firmware } from "../../src/local/qemu";
import { Instance, LOCAL_DNS_NAME } from "../../src/local/imds";
import { Launch, launchInstance } from "../../src/local/instance";
import { Vm } from "../../src/local/vm";
import { outputPath } from "../lib/output";

/** A running instance (src/local/instance.ts). */
export type { Launch };

/** Seconds a launch may take to accept the SSH login (ARCH_AMI_SSH_TIMEOUT, default 900). */
export const SSH_TIMEOUT = Number(process.env.ARCH_AMI_SSH_TIMEOUT ?? 900);
/** The enlarged EBS volume the instances launch with (the image is 4 GiB). */
export const DISK_SIZE = "8G";
/** DISK_SIZE in bytes. */
export const DISK_BYTES = 8 * 1024 ** 3;

/** A key pair, as EC2's: its name, the private key file, the public key. */
export interface KeyPair {
    name: string;
    privateKey: string;
    publicKey: string;
}

/** An ed25519 key pair in `dir` (as EC2's key pairs, generated here). */
export function keyPair(dir: string, name: string): KeyPair {
    const privateKey = path.join(dir, name);
    fs.rmSync(privateKey, { force: true });
    fs.rmSync(`${privateKey}.pub`, { force: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", privateKey]);
    return { name, privateKey, publicKey: fs.readFileSync(`${privateKey}.pub`, "utf8").trim() };
}

/** A test instance on QEMU user network `net` (the guest is .15) with the key pair `key`. */
export function instance(id: string, net: string, key: KeyPair): Instance {
    const [a, b, c] = net.split("/")[0].split(".");
    return {
        instanceId: id,
        instanceType: "t3.small",
        region: "us-east-1",
        availabilityZone: "us-east-1a",
        imageId: "ami-0a1b2c3d4e5f67890",
        accountId: "123456789012",
        mac: `52:54:00:12:${c.padStart(2, "0").slice(-2)}:56`,
        localIpv4: `${a}.${b}.${c}.15`,
        publicIpv4: `198.51.100.${Number(c) + 10}`,
        subnetCidr: net,
        keyName: key.name,
        openSshKey: key.publicKey,
    };
}

/**
 * launchInstance with the tests' settings: the raw `image` on a disk enlarged to DISK_SIZE, logs kept in
 * test-output/firstboot/<name>.*, the SSH login (as `opts.user`, arch unless given) within SSH_TIMEOUT;
 * `opts.timeServer` false launches it without a time server.
 */
export function launch(image: string, name: string, firmware: Firmware, bus: Bus, inst: Instance, net: string, work: string, key: KeyPair, opts: { timeServer?: boolean; user?: string } = {}): Promise<Launch> {
    return launchInstance(image, {
        name,
        firmware,
        bus,
        instance: inst,
        net,
        work,
        diskSize: DISK_SIZE,
        format: "raw",
        serialLog: outputPath("firstboot", `${name}.serial.log`),
        requestLog: outputPath("firstboot", `${name}.imds-requests.jsonl`),
        timeServer: opts.timeServer,
        privateKey: key.privateKey,
        user: opts.user,
        sshTimeoutSeconds: SSH_TIMEOUT,
    });
}

/** Shell run as `arch` over SSH: prints "=== name" sections that facts() splits. */
export const REPORT = String.raw`
sec() { printf '\n=== %s\n' "$1"; }
disk=$(lsblk -npo PKNAME "$(findmnt -no SOURCE /)")
# The boot may still be going on after the first SSH login: wait for cloud-init and systemd to finish.
sudo cloud-init status --wait >/dev/null 2>&1
systemctl is-system-running --wait >/dev/null 2>&1
sec boot-id; cat /proc/sys/kernel/random/boot_id
sec btime; awk '/^btime/ {print $2}' /proc/stat
sec is-system-running; systemctl is-system-running 2>&1
sec failed-units; systemctl list-units --failed --no-legend --plain 2>&1
sec cloud-init-status; sudo cloud-init status --long --format json 2>&1
sec datasource; sudo cat /var/lib/cloud/instance/datasource
sec instance-id; sudo cat /var/lib/cloud/data/instance-id
sec cloud-init-warnings; sudo grep -E '\[(WARNING|ERROR|CRITICAL)\]' /var/log/cloud-init.log
sec imdsv2; sudo grep -c 'Fetching Ec2 IMDSv2 API Token' /var/log/cloud-init.log
sec hostname; hostname
sec etc-hostname; cat /etc/hostname 2>&1
sec cmdline; cat /proc/cmdline
sec aur-demo; systemctl is-enabled arch-ami-aur-demo.service 2>&1; systemctl is-active arch-ami-aur-demo.service 2>&1; cat /var/lib/arch-ami-aur-demo/marker 2>&1
sec root-bytes; findmnt -bno SIZE /
sec root-part-bytes; lsblk -bdno SIZE "$(findmnt -no SOURCE /)"
sec root-fstype; findmnt -no FSTYPE /
sec disk-bytes; lsblk -bdno SIZE "$disk"
sec netplan; sudo cat /etc/netplan/50-cloud-init.yaml
sec network-config; sudo cat /var/lib/cloud/instance/network-config.json 2>/dev/null; sudo grep -h 'Selected renderer' /var/log/cloud-init.log
sec networkctl; for l in $(networkctl list --no-legend | awk '$2 != "loopback" {print $2}'); do networkctl status --no-pager -n0 "$l"; done
sec resolv-conf-link; readlink /etc/resolv.conf
sec resolv-conf; grep '^nameserver' /etc/resolv.conf
sec resolvectl-dns; resolvectl dns
sec resolve-query; resolvectl query --legend=no "$(hostname)" 2>&1
sec getent; getent ahostsv4 "$(hostname)" 2>&1
# A name only the local DNS server knows (src/local/imds.ts, LOCAL_DNS_NAME), asked with fresh resolver statistics:
# through resolved's API, through NSS (what verify.sh uses), and as a plain DNS query to the stub at
# 127.0.0.53; then a name that does not exist.
sec dns-reset; sudo resolvectl reset-statistics && echo reset
sec dns-query; resolvectl query --legend=no ${LOCAL_DNS_NAME} 2>&1
sec dns-getent; getent ahostsv4 ${LOCAL_DNS_NAME} 2>&1
sec dns-stub; python3 - <<'PY' 2>&1
import socket, struct
q = struct.pack("!6H", 0x5a5a, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(l)]) + l.encode() for l in "${LOCAL_DNS_NAME}".split(".")) + b"\0\0\1\0\1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10); s.sendto(q, ("127.0.0.53", 53))
r = s.recv(512)
print("rcode", r[3] & 15, "answers", struct.unpack("!H", r[6:8])[0], "last", ".".join(map(str, r[-4:])))
PY
sec dns-nxdomain; resolvectl query --legend=no nonexistent.${LOCAL_DNS_NAME} 2>&1; echo "exit $?"
sec resolved-stats; sudo resolvectl statistics 2>&1
sec imds-guest; python3 - <<'PY' 2>&1
import urllib.request, urllib.error
def put(host, extra):
    req = urllib.request.Request(f"http://{host}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60", **extra})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status
    except urllib.error.HTTPError as e: return e.code
    except Exception as e: return type(e).__name__
print("ipv4", put("169.254.169.254", {}))
print("ipv4-xff", put("169.254.169.254", {"X-Forwarded-For": "203.0.113.7"}))
print("ipv6", put("[fd00:ec2::254]", {}))
PY
sec root-mount; findmnt -no SOURCE,UUID,FSTYPE,OPTIONS /
sec timesync; timedatectl show-timesync -p SystemNTPServers -p ServerAddress
sec ntp-synchronized; timedatectl show -p NTPSynchronized --value
sec pacman-init; systemctl show pacman-init -p ActiveState -p Result -p ExecMainStatus -p ConditionResult
sec time-sync-check; systemctl show arch-ami-time-sync-check -p ActiveState -p Result
# Monotonic start times (µs since boot): cloud-init's process against basic.target, pacman-init against sshd.
sec order; for p in "cloud-init-main ExecMainStartTimestampMonotonic" "basic.target ActiveEnterTimestampMonotonic" "pacman-init ActiveEnterTimestampMonotonic" "sshd ActiveEnterTimestampMonotonic"; do set -- $p; echo "$1 $(systemctl show -P "$2" "$1")"; done
sec pacman-init-runs; sudo journalctl --no-pager -o cat -u pacman-init | grep -c 'Finished pacman-init.service'
sec keyring; sudo pacman-key --list-keys 2>&1
sec sudo; sudo -n true && echo sudo-ok
sec machine-id; cat /etc/machine-id
sec host-keys-mtime; stat -c '%Y %n' /etc/ssh/ssh_host_*_key.pub
sec host-keys; awk '{print $1" "$2}' /etc/ssh/ssh_host_*_key.pub | sort
sec sshd-t; sudo sshd -T 2>&1 | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication|pubkeyauthentication) '
sec sem; sudo find /var/lib/cloud/instance/sem -type f -printf '%f %T@\n' | sort
sec ci-analyze; sudo cloud-init analyze show 2>&1 | grep -E 'Total Time|Finished stage' | tail -n 8
sec systemd-analyze; systemd-analyze 2>&1 | head -n 2
sec critical-chain; systemd-analyze critical-chain sshd.service 2>&1 | tail -n +3
sec blame; systemd-analyze blame --no-pager 2>&1 | head -n 15
sec end
`;

/** Runs REPORT in the guest and returns its sections. */
export async function facts(vm: Vm, key: KeyPair): Promise<Map<string, string>> {
    const r = await vm.ssh(REPORT, { key: key.privateKey, timeoutSeconds: 300 });
    const sections = new Map<string, string>();
    for (const part of r.stdout.split(/^=== /m).slice(1)) {
        const nl = part.indexOf("\n");
        sections.set(part.slice(0, nl).trim(), part.slice(nl + 1).trim());
    }
    if (!sections.has("end")) throw new Error(`the report did not finish (exit ${r.status}): ${r.stderr}\n${r.stdout}`);
    return sections;
}

/** The "order" section: unit name -> monotonic µs. */
export function order(f: Map<string, string>): Map<string, number> {
    return new Map((f.get("order") ?? "").split("\n").filter(Boolean).map((l) => l.split(" ")).map(([u, t]) => [u, Number(t)] as [string, number]));
}

/** Seconds cloud-init spent in the last boot ("Total Time" of cloud-init analyze show). */
export function cloudInitSeconds(f: Map<string, string>): number | undefined {
    const all = [...(f.get("ci-analyze") ?? "").matchAll(/Total Time: ([\d.]+) seconds/g)];
    return all.length ? Number(all[all.length - 1][1]) : undefined;
}
