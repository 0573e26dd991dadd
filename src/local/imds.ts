// A small EC2 instance metadata service for `arch-ami boot-local` and the first-boot tests: IMDSv2 only (PUT a token, then every GET
// carries it; a GET without a valid token gets 401, as on an instance whose AMI sets imdsSupport v2.0),
// serving what cloud-init's Ec2 datasource reads (meta-data tree, public key, network interfaces by MAC,
// the instance identity document, optional user data). Plus an SNTP responder standing in for the Amazon
// Time Sync Service, so timesyncd (and time-sync.target, which pacman-init waits for) can synchronize, and
// a DNS server that knows one name (LOCAL_DNS_NAME), so that first boot resolves a name through a real DNS
// server (the local instance has no internet). No dependency beyond Node's standard library. Every request
// is logged for the tests to inspect.
//
// EC2's documented behaviour that this service reproduces (test/firstboot/imds.test.ts checks each):
// - IMDSv2 only ("required"): PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1–21600)
//   gets a token; a GET without a valid token gets 401; an invalid PUT 400 (How Instance Metadata Service
//   Version 2 works, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html;
//   error codes: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html,
//   "400 - Missing or Invalid Parameters", "401 - Unauthorized", "403 - Forbidden – The request is not
//   allowed or the IMDS is turned off").
// - A token PUT carrying X-Forwarded-For is refused (403): "IMDSv2 will not issue session tokens to any
//   caller with an X-Forwarded-For header" (AWS Security Blog, "Add defense in depth against open
//   firewalls, reverse proxies, and SSRF vulnerabilities with enhancements to the EC2 Instance Metadata
//   Service", 2019-11-19).
// - The token response's hop limit: HttpPutResponseHopLimit "Default: 1" (EC2 API Reference,
//   InstanceMetadataOptionsRequest). The listening sockets get IP_TTL / IPV6_UNICAST_HOPS 1 from
//   local/listen.py (Node cannot set IP_TTL on a TCP socket), so here every response of the service leaves with
//   TTL 1, the token PUT's among them.
// - Two endpoints: 169.254.169.254 and [fd00:ec2::254] (Configure the Instance Metadata Service options,
//   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html).
import * as dgram from "node:dgram";
import * as http from "node:http";
import { randomBytes } from "node:crypto";

/** What the metadata service says about the instance. */
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

/** One request as the service logs it. */
export interface RequestRecord {
    method: string;
    path: string;
    status: number;
    /** A token header was present and valid. */
    token: boolean;
    /** The address the request came in on (169.254.169.254, fd00:ec2::254, …); absent for NTP/DNS. */
    endpoint?: string;
}

/** EC2's internal host name for an IPv4 address in us-east-1: ip-10-0-2-15.ec2.internal. */
export function localHostname(i: Instance): string {
    const suffix = i.region === "us-east-1" ? "ec2.internal" : `${i.region}.compute.internal`;
    return `ip-${i.localIpv4.replace(/\./g, "-")}.${suffix}`;
}

type Tree = { [name: string]: string | Tree };

/** The meta-data tree of `i` (/latest/meta-data/…). */
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

/** The instance identity document (/latest/dynamic/instance-identity/document). */
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
        if (typeof node === "string" || !Object.hasOwn(node, p)) return undefined;
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

    /** The answer to one request. */
    handle(method: string, url: string, headers: http.IncomingHttpHeaders): { status: number; body: string; headers?: Record<string, string> } {
        const path = url.split("?")[0];
        const parts = path.split("/").filter((p) => p !== "");
        if (method === "PUT") {
            if (parts.length !== 3 || parts[1] !== "api" || parts[2] !== "token" || !VERSIONS.includes(parts[0])) return { status: 404, body: "" };
            // No token for a request that went through a proxy (see the top of this file).
            if (headers["x-forwarded-for"] !== undefined) return { status: 403, body: "" };
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
                const record: RequestRecord = {
                    method: req.method ?? "",
                    path: req.url ?? "",
                    status: r.status,
                    token: typeof token === "string" && this.tokens.has(token),
                    endpoint: req.socket.localAddress?.replace(/^::ffff:/, ""),
                };
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

/** A UDP socket answering SNTP requests with ntpReply() (bind it to port 123); onRequest sees each. */
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

/** The one name the local DNS server knows (RFC 2606 .example: it means nothing elsewhere). */
export const LOCAL_DNS_NAME = "arch-ami-local.example";
/** The address LOCAL_DNS_NAME resolves to (TEST-NET-1, RFC 5737). */
export const LOCAL_DNS_ADDRESS = "192.0.2.53";

/** The question of a DNS query. */
export interface DnsQuestion {
    id: number;
    /** Lower-case, without the trailing dot. */
    name: string;
    type: number;
}

const DNS_TYPE_A = 1;
const DNS_TYPE_OPT = 41;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

/** The question of a DNS query (RFC 1035 4.1), or undefined when it is not a one-question standard query. */
export function dnsQuestion(query: Buffer): (DnsQuestion & { end: number }) | undefined {
    if (query.length < 12 || (query[2] & 0x80) !== 0 || ((query[2] >> 3) & 0x0f) !== 0 || query.readUInt16BE(4) !== 1) return undefined;
    const labels: string[] = [];
    let i = 12;
    for (;;) {
        if (i >= query.length) return undefined;
        const len = query[i];
        if (len === 0) break;
        if (len > 63 || i + 1 + len > query.length) return undefined;
        labels.push(query.subarray(i + 1, i + 1 + len).toString("latin1").toLowerCase());
        i += 1 + len;
    }
    if (i + 5 > query.length) return undefined;
    return { id: query.readUInt16BE(0), name: labels.join("."), type: query.readUInt16BE(i + 1), end: i + 5 };
}

/**
 * The answer to a DNS query: authoritative for `name` only. An A query for it gets `address` (TTL 3600);
 * another type for it, no answer (NODATA); any other name NXDOMAIN. A query with an EDNS OPT record gets one
 * back (RFC 6891), without DNSSEC. Undefined for what is not a standard query.
 */
export function dnsReply(query: Buffer, name: string, address: string): { reply: Buffer; question: DnsQuestion; rcode: number } | undefined {
    const q = dnsQuestion(query);
    if (q === undefined) {
        if (query.length < 12 || (query[2] & 0x80) !== 0) return undefined;
        const reply = Buffer.from(query.subarray(0, 12));
        reply[2] = 0x80 | (query[2] & 0x79);
        reply[3] = RCODE_FORMERR;
        reply.fill(0, 4, 12);
        return { reply, question: { id: query.readUInt16BE(0), name: "", type: 0 }, rcode: RCODE_FORMERR };
    }
    const known = q.name === name.toLowerCase().replace(/\.$/, "");
    const rcode = known ? 0 : RCODE_NXDOMAIN;
    const answers: Buffer[] = [];
    if (known && q.type === DNS_TYPE_A) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); // the name in the question
        rr.writeUInt16BE(DNS_TYPE_A, 2);
        rr.writeUInt16BE(1, 4); // IN
        rr.writeUInt32BE(3600, 6);
        rr.writeUInt16BE(4, 10);
        address.split(".").forEach((o, k) => (rr[12 + k] = Number(o)));
        answers.push(rr);
    }
    // An EDNS OPT record right after the question (where resolvers put it): answer with one.
    let opt: Buffer | undefined;
    if (query.readUInt16BE(10) > 0 && query.length >= q.end + 11 && query[q.end] === 0 && query.readUInt16BE(q.end + 1) === DNS_TYPE_OPT) {
        opt = Buffer.alloc(11);
        opt.writeUInt16BE(DNS_TYPE_OPT, 1);
        opt.writeUInt16BE(1232, 3); // UDP payload size
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.id, 0);
    header[2] = 0x80 | 0x04 | (query[2] & 0x01); // response, authoritative, the query's RD
    header[3] = 0x80 | rcode; // recursion available
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(opt ? 1 : 0, 10);
    const reply = Buffer.concat([header, query.subarray(12, q.end), ...answers, ...(opt ? [opt] : [])]);
    return { reply, question: { id: q.id, name: q.name, type: q.type }, rcode };
}

/** A UDP DNS server (IPv4 or IPv6 socket) answering with dnsReply(); onQuery sees each question. */
export function dnsServer(type: "udp4" | "udp6", name: string, address: string, onQuery?: (q: DnsQuestion, rcode: number) => void): dgram.Socket {
    const sock = dgram.createSocket({ type, reuseAddr: true });
    sock.on("message", (msg, rinfo) => {
        const r = dnsReply(msg, name, address);
        if (r === undefined) return;
        onQuery?.(r.question, r.rcode);
        sock.send(r.reply, rinfo.port, rinfo.address);
    });
    return sock;
}
