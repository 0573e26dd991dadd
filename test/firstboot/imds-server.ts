// Runs the test metadata service where the guest expects it: HTTP on 169.254.169.254:80 and SNTP on
// 169.254.169.123:123 (Amazon Time Sync), inside the VM's network namespace (vm.ts puts both addresses on
// that namespace's loopback; QEMU's user networking reaches them as it reaches any host address).
// Usage: imds-server.ts INSTANCE.json REQUEST-LOG.jsonl — prints "ready" once both listen; every request is
// appended to the log as one JSON line.
import * as fs from "node:fs";
import { Imds, Instance, ntpServer } from "./imds";

const IMDS_ADDRESS = "169.254.169.254";
const TIME_SYNC_ADDRESS = "169.254.169.123";

function main(): void {
    const [config, logFile] = process.argv.slice(2);
    if (!config || !logFile) {
        console.error("usage: imds-server.ts INSTANCE.json REQUEST-LOG.jsonl");
        process.exit(2);
    }
    const instance = JSON.parse(fs.readFileSync(config, "utf8")) as Instance;
    const record = (r: object) => fs.appendFileSync(logFile, JSON.stringify(r) + "\n");
    let listening = 0;
    const ready = () => {
        if (++listening === 2) process.stdout.write("ready\n");
    };
    new Imds(instance).server(record).listen(80, IMDS_ADDRESS, ready);
    ntpServer(() => record({ method: "NTP", path: "", status: 0, token: false })).bind(123, TIME_SYNC_ADDRESS, ready);
}

main();
