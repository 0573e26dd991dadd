// A small EC2 instance metadata service for the first-boot tests: IMDSv2 only (PUT a token, then every GET
// carries it; a GET without a valid token gets 401, as on an instance whose AMI sets imdsSupport v2.0),
// serving what cloud-init's Ec2 datasource reads (meta-data tree, public key, network interfaces by MAC,
// the instance identity document, optional user data). Plus an SNTP responder standing in for the Amazon
// Time Sync Service, so timesyncd (and time-sync.target, which pacman-init waits for) can synchronize.
// No dependency beyond Node's standard library. Every request is logged for the tests to inspect.
import * as dgram from "node:dgram";
import * as http from "node:http";
import { randomBytes } from "node:crypto";

export interface Instance {
    instanceId: string;
    instanceType: string;
    region: string;
    availabilityZone: string;
    imageId: string;
    accountId: string;
    mac: string;
    localIpv4: string;
    publicIpv4: string;
    /** VPC subnet of the interface, e.g. 10.0.2.0/24 (QEMU user networking's). */
    subnetCidr: string;
    keyName: string;
    /** The key pair's public key (`ssh-ed25519 AAAA… comment`). */
    openSshKey: string;
    userData?: string;
}

export interface RequestRecord {
    method: string;
    path: string;
    status: number;
    /** A token header was present and valid. */
    token: boolean;
}

/** EC2's internal host name for an IPv4 address in us-east-1: ip-10-0-2-15.ec2.internal. */
export function localHostname(i: Instance): string {
    const suffix = i.region === "us-east-1" ? "ec2.internal" : `${i.region}.compute.internal`;
    return `ip-${i.localIpv4.replace(/\./g, "-")}.${suffix}`;
}

type Tree = { [name: string]: string | Tree };

export function metadataTree(i: Instance): Tree {
    const host = localHostname(i);
    const publicHost = `ec2-${i.publicIpv4.replace(/\./g, "-")}.compute-1.amazonaws.com`;
    const eni = `eni-${i.instanceId.slice(2, 19)}`;
    const mac: Tree = {
        "device-number": "0",
        "network-card": "0",
        "interface-id": eni,
        "local-hostname": host,
        "local-ipv4s": i.localIpv4,
        mac: i.mac,
        "owner-id": i.accountId,
        "public-hostname": publicHost,
        "public-ipv4s": i.publicIpv4,
        "security-group-ids": "sg-0a1b2c3d4e5f67890",
        "security-groups": "arch-ami-test",
        "subnet-id": "subnet-0a1b2c3d4e5f67890",
        "subnet-ipv4-cidr-block": i.subnetCidr,
        "vpc-id": "vpc-0a1b2c3d4e5f67890",
        "vpc-ipv4-cidr-block": i.subnetCidr,
        "vpc-ipv4-cidr-blocks": i.subnetCidr,
    };
    return {
        "ami-id": i.imageId,
        "ami-launch-index": "0",
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": { ami: "/dev/xvda", root: "/dev/xvda" },
        hostname: host,
        "instance-action": "none",
        "instance-id": i.instanceId,
        "instance-life-cycle": "on-demand",
        "instance-type": i.instanceType,
        "local-hostname": host,
        "local-ipv4": i.localIpv4,
        mac: i.mac,
        metrics: { vhostmd: '<?xml version="1.0" encoding="UTF-8"?>' },
        network: { interfaces: { macs: { [i.mac]: mac } } },
        placement: {
            "availability-zone": i.availabilityZone,
            "availability-zone-id": "use1-az1",
            region: i.region,
        },
        profile: "default-hvm",
        "public-hostname": publicHost,
        "public-ipv4": i.publicIpv4,
        // Listed as "0=<key name>"; the key itself is under 0/openssh-key (see listing()).
        "public-keys": { "0": { "openssh-key": i.openSshKey } },
        "reservation-id": `r-${i.instanceId.slice(2)}`,
        "security-groups": "arch-ami-test",
        services: { domain: "amazonaws.com", partition: "aws" },
    };
}

export function identityDocument(i: Instance): string {
    return JSON.stringify(
        {
            accountId: i.accountId,
            architecture: "x86_64",
            availabilityZone: i.availabilityZone,
            billingProducts: null,
            devpayProductCodes: null,
            marketplaceProductCodes: null,
            imageId: i.imageId,
            instanceId: i.instanceId,
            instanceType: i.instanceType,
            kernelId: null,
            pendingTime: "2026-01-01T00:00:00Z",
            privateIp: i.localIpv4,
            ramdiskId: null,
            region: i.region,
            version: "2017-09-30",
        },
        null,
        2,
    );
}

/** API versions the service answers for (cloud-init probes 2021-03-23, 2018-09-24, 2016-09-02). */
const VERSIONS = ["1.0", "2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23", "latest"];
const TOKEN_TTL_MAX = 21600;

function listing(node: Tree, pathParts: string[], keyName: string): string {
    if (pathParts.length === 1 && pathParts[0] === "public-keys") return `0=${keyName}`;
    return Object.entries(node)
        .map(([k, v]) => (typeof v === "string" ? k : `${k}/`))
        .join("\n");
}

function lookup(tree: Tree, parts: string[]): string | Tree | undefined {
    let node: string | Tree = tree;
    for (const p of parts) {
        if (typeof node === "string" || !(p in node)) return undefined;
        node = node[p];
    }
    return node;
}

/** Answers one request; pure apart from the token table. */
export class Imds {
    readonly requests: RequestRecord[] = [];
    private readonly tokens = new Map<string, number>();
    private readonly tree: Tree;

    constructor(private readonly instance: Instance) {
        this.tree = metadataTree(instance);
    }

    handle(method: string, url: string, headers: http.IncomingHttpHeaders): { status: number; body: string; headers?: Record<string, string> } {
        const path = url.split("?")[0];
        const parts = path.split("/").filter((p) => p !== "");
        if (method === "PUT") {
            if (parts.length !== 3 || parts[1] !== "api" || parts[2] !== "token" || !VERSIONS.includes(parts[0])) return { status: 404, body: "" };
            const ttl = Number(headers["x-aws-ec2-metadata-token-ttl-seconds"]);
            if (!Number.isInteger(ttl) || ttl < 1 || ttl > TOKEN_TTL_MAX) return { status: 400, body: "" };
            const token = randomBytes(32).toString("base64");
            this.tokens.set(token, Date.now() + ttl * 1000);
            return { status: 200, body: token, headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(ttl) } };
        }
        if (method !== "GET" && method !== "HEAD") return { status: 405, body: "" };
        const token = headers["x-aws-ec2-metadata-token"];
        const expires = typeof token === "string" ? this.tokens.get(token) : undefined;
        if (expires === undefined || expires < Date.now()) return { status: 401, body: "" };
        if (parts.length === 0) return { status: 200, body: VERSIONS.join("\n") };
        if (!VERSIONS.includes(parts[0])) return { status: 404, body: "" };
        const [, section, ...rest] = parts;
        if (section === undefined) return { status: 200, body: "dynamic\nmeta-data\nuser-data" };
        if (section === "user-data") {
            return this.instance.userData === undefined ? { status: 404, body: "" } : { status: 200, body: this.instance.userData };
        }
        if (section === "dynamic") {
            const doc = identityDocument(this.instance);
            const dyn: Tree = { "instance-identity": { document: doc } };
            const node = lookup(dyn, rest);
            if (node === undefined) return { status: 404, body: "" };
            return { status: 200, body: typeof node === "string" ? node : listing(node, rest, "") };
        }
        if (section !== "meta-data") return { status: 404, body: "" };
        const node = lookup(this.tree, rest);
        if (node === undefined) return { status: 404, body: "" };
        return { status: 200, body: typeof node === "string" ? node : listing(node, rest, this.instance.keyName) };
    }

    /** An HTTP server around handle(); every request is recorded (and passed to onRequest). */
    server(onRequest?: (r: RequestRecord) => void): http.Server {
        return http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                const r = this.handle(req.method ?? "GET", req.url ?? "/", req.headers);
                const token = req.headers["x-aws-ec2-metadata-token"];
                const record = { method: req.method ?? "", path: req.url ?? "", status: r.status, token: typeof token === "string" && this.tokens.has(token) };
                this.requests.push(record);
                onRequest?.(record);
                res.writeHead(r.status, { "Content-Type": "text/plain", Server: "EC2ws", ...(r.headers ?? {}) });
                res.end(req.method === "HEAD" ? undefined : r.body);
            });
        });
    }
}

const NTP_EPOCH_OFFSET = 2208988800;

function writeNtpTime(buf: Buffer, offset: number, ms: number): void {
    const seconds = Math.floor(ms / 1000) + NTP_EPOCH_OFFSET;
    const fraction = Math.floor(((ms % 1000) / 1000) * 2 ** 32);
    buf.writeUInt32BE(seconds >>> 0, offset);
    buf.writeUInt32BE(fraction >>> 0, offset + 4);
}

/** The SNTP server answer (RFC 4330) to a client request, stratum 1 from this machine's clock; undefined when it is not a client request. */
export function ntpReply(request: Buffer, now = Date.now()): Buffer | undefined {
    if (request.length < 48 || (request[0] & 0x07) !== 3) return undefined;
    const version = (request[0] >> 3) & 0x07;
    const reply = Buffer.alloc(48);
    reply[0] = (0 << 6) | (version << 3) | 4; // no leap warning, client's version, mode 4 (server)
    reply[1] = 1; // stratum 1
    reply[2] = request[2]; // poll
    reply[3] = 0xec; // precision 2^-20
    reply.writeUInt32BE(0, 4); // root delay
    reply.writeUInt32BE(0x0000_0100, 8); // root dispersion ~4 ms
    reply.write("AMZN", 12, "ascii"); // reference id
    writeNtpTime(reply, 16, now); // reference
    request.copy(reply, 24, 40, 48); // originate = the client's transmit
    writeNtpTime(reply, 32, now); // receive
    writeNtpTime(reply, 40, now); // transmit
    return reply;
}

export function ntpServer(onRequest?: () => void): dgram.Socket {
    const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
    sock.on("message", (msg, rinfo) => {
        const reply = ntpReply(msg);
        if (reply === undefined) return;
        onRequest?.();
        sock.send(reply, rinfo.port, rinfo.address);
    });
    return sock;
}
