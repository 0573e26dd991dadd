// Launching an image as an EC2 instance on this machine, the one way `arch-ami boot-local`, the first-boot
// and boot tests and bench:firstboot do it: a qcow2 overlay on the image, as large as the instance's volume
// (as EC2 launches an AMI on a larger EBS volume: the disk is bigger, nothing in it changed), booted by a
// Vm (vm.ts: SMBIOS "Amazon EC2", the IMDSv2 metadata service, Amazon Time Sync, the local DNS server, its
// own network namespace), then, for launchInstance, the wait for the first SSH login.
import { createHash, randomBytes } from "node:crypto";
import * as path from "node:path";
import { Instance } from "./imds";
import { Bus, Firmware, ImageFormat, diskInfo, overlay } from "./qemu";
import { Vm } from "./vm";

/** How an instance is launched. */
export interface StartOptions {
    /** Short name: the namespace's and the disk overlay's. */
    name: string;
    firmware: Firmware;
    bus: Bus;
    /** What the metadata service says about the instance (its key among it). */
    instance: Instance;
    /** QEMU user network, e.g. 10.0.2.0/24 (the guest gets .15). */
    net: string;
    /** Folder for the disk overlay (`<name>.qcow2`). */
    work: string;
    /** Size of the instance's disk: bytes, or with a suffix ("8G"); the image's own size when not given. */
    diskSize?: string;
    /** The image's format; `qemu-img info` tells when not given. */
    format?: ImageFormat;
    /** Where the serial log (appended across power cycles) and the metadata request log go. */
    serialLog: string;
    requestLog: string;
    /** false: no time server at 169.254.169.123. Default true. */
    timeServer?: boolean;
    /** See VmOptions.ownProcessGroup. */
    ownProcessGroup?: boolean;
}

/** The format of a disk image QEMU can boot here (raw or qcow2), from `qemu-img info`. */
export function imageFormat(image: string): ImageFormat {
    const { format } = diskInfo(image);
    if (format !== "raw" && format !== "qcow2") throw new Error(`${image}: a ${format} image; a raw or qcow2 image is needed`);
    return format;
}

/** Powers on an instance of `image` (overlay, namespace, metadata service, QEMU) without waiting for it. */
export async function startInstance(image: string, o: StartOptions): Promise<Vm> {
    const disk = path.join(o.work, `${o.name}.qcow2`);
    overlay(image, disk, o.format ?? imageFormat(image), o.diskSize);
    const vm = new Vm({
        name: o.name,
        firmware: o.firmware,
        bus: o.bus,
        disk,
        instance: o.instance,
        net: o.net,
        serialLog: o.serialLog,
        requestLog: o.requestLog,
        timeServer: o.timeServer,
        ownProcessGroup: o.ownProcessGroup,
    });
    try {
        await vm.setUp();
        vm.start();
        return vm;
    } catch (e) {
        await vm.tearDown();
        throw e;
    }
}

/** A running instance and how long it took to accept the first SSH login. */
export interface Launch {
    vm: Vm;
    /** Seconds from QEMU start to the first accepted SSH login. */
    secondsToSsh: number;
}

/** How launchInstance logs in. */
export interface LaunchOptions extends StartOptions {
    /** The private key of the instance's key pair (`instance.openSshKey` is its public key). */
    privateKey: string;
    /** The login: arch unless given. */
    user?: string;
    sshTimeoutSeconds: number;
}

/**
 * Launches an instance of `image` and waits for the first SSH login as `o.user` with `o.privateKey`. On
 * failure (no login within the time-out, QEMU gone) it is torn down and the error carries the serial
 * console's tail.
 */
export async function launchInstance(image: string, o: LaunchOptions): Promise<Launch> {
    const vm = await startInstance(image, o);
    try {
        const secondsToSsh = await vm.waitForSsh(o.privateKey, o.sshTimeoutSeconds, o.user);
        return { vm, secondsToSsh };
    } catch (e) {
        await vm.tearDown();
        throw e;
    }
}

/**
 * What the metadata service of a boot-local instance says: a new instance id for every launch (as EC2's),
 * an image id derived from the image file's path, a MAC derived from the instance id, the addresses of QEMU's
 * user network `net` (the guest is .15), documentation addresses (RFC 5737) for the public IPv4, and the
 * key pair `keyName` with `publicKey`. The instance type matches the VM (two vCPUs, 2 GiB).
 */
export function localInstance(image: string, net: string, keyName: string, publicKey: string): Instance {
    const [a, b, c] = net.split("/")[0].split(".");
    const id = randomBytes(9).toString("hex").slice(0, 17);
    const mac = id.slice(0, 6).match(/../g)!.join(":");
    return {
        instanceId: `i-${id}`,
        instanceType: "t3.small",
        region: "us-east-1",
        availabilityZone: "us-east-1a",
        imageId: `ami-${createHash("sha256").update(path.resolve(image)).digest("hex").slice(0, 17)}`,
        accountId: "123456789012",
        mac: `52:54:00:${mac}`,
        localIpv4: `${a}.${b}.${c}.15`,
        publicIpv4: "198.51.100.15",
        subnetCidr: net,
        keyName,
        openSshKey: publicKey.trim(),
    };
}
