// Runs the metadata service where the guest expects it, inside the VM's network namespace (vm.ts puts
// the addresses on that namespace's loopback; QEMU's user networking reaches them as it reaches any host
// address):
// - HTTP on the listening sockets it inherits (LISTEN_FDS, from local/listen.py: 169.254.169.254:80 and
//   [fd00:ec2::254]:80 with hop limit 1);
// - SNTP on 169.254.169.123:123 (Amazon Time Sync);
// - DNS on 127.0.0.1:53 and [::1]:53, answering LOCAL_DNS_NAME only: the namespace's resolv.conf names
//   127.0.0.1, so QEMU's user-networking DNS address (which forwards to the host's resolver) reaches it.
// Usage: listen.py 1 169.254.169.254 80 fd00:ec2::254 80 -- node bin/src/local/imds-server.js INSTANCE.json
// REQUEST-LOG.jsonl [--no-time-server] (or `node --import tsx src/local/imds-server.ts …` from the sources)
// — prints "ready" once everything listens; every request is appended to the log as one JSON line
// (method "NTP" / "DNS" for those).
import * as fs from "node:fs";
import { Imds, Instance, RequestRecord, LOCAL_DNS_ADDRESS, LOCAL_DNS_NAME, dnsServer, ntpServer } from "./imds";

const TIME_SYNC_ADDRESS = "169.254.169.123";
const FIRST_LISTEN_FD = 3;

function main(): void {
    const [config, logFile, option] = process.argv.slice(2);
    const timeServer = option !== "--no-time-server";
    const fds = Number(process.env.LISTEN_FDS ?? 0);
    if (!config || !logFile || !(fds > 0)) {
        console.error("usage: listen.py HOP_LIMIT ADDRESS PORT ... -- imds-server.ts INSTANCE.json REQUEST-LOG.jsonl");
        process.exit(2);
    }
    const instance = JSON.parse(fs.readFileSync(config, "utf8")) as Instance;
    const record = (r: RequestRecord) => fs.appendFileSync(logFile, JSON.stringify(r) + "\n");
    const expected = fds + (timeServer ? 3 : 2);
    let listening = 0;
    const ready = () => {
        if (++listening === expected) process.stdout.write("ready\n");
    };
    const imds = new Imds(instance);
    for (let fd = FIRST_LISTEN_FD; fd < FIRST_LISTEN_FD + fds; fd++) imds.server(record).listen({ fd }, ready);
    if (timeServer) ntpServer(() => record({ method: "NTP", path: "", status: 0, token: false })).bind(123, TIME_SYNC_ADDRESS, ready);
    const onQuery = (q: { name: string; type: number }, rcode: number) => record({ method: "DNS", path: `${q.name} ${q.type}`, status: rcode, token: false });
    dnsServer("udp4", LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS, onQuery).bind(53, "127.0.0.1", ready);
    dnsServer("udp6", LOCAL_DNS_NAME, LOCAL_DNS_ADDRESS, onQuery).bind(53, "::1", ready);
}

main();
