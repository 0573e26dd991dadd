// What the metadata service tests serve and ask, shared by the in-process tests (test/unit/imds.test.ts) and
// the ones in the VMs' network namespace (test/firstboot/imds.test.ts).
import { Instance } from "../../src/local/imds";

/** The instance the tests' metadata service describes. */
export const inst: Instance = {
    instanceId: "i-0a1b2c3d4e5f60001",
    instanceType: "t3.small",
    region: "us-east-1",
    availabilityZone: "us-east-1a",
    imageId: "ami-0a1b2c3d4e5f67890",
    accountId: "123456789012",
    mac: "52:54:00:12:34:56",
    localIpv4: "10.0.2.15",
    publicIpv4: "198.51.100.12",
    subnetCidr: "10.0.2.0/24",
    keyName: "test-key",
    openSshKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test-key",
};

/** A DNS query (RFC 1035 4.1), built here independently of imds.ts: id, one question, optional EDNS OPT. */
export function query(name: string, type: number, edns = false): Buffer {
    const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]);
    const qname = Buffer.concat([...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const tail = Buffer.from([type >> 8, type & 0xff, 0, 1]);
    const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]) : Buffer.alloc(0); // 1232 bytes, DO set
    return Buffer.concat([header, qname, tail, opt]);
}
