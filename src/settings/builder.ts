// Validation of the builder's placement and reachability (none of it enters the build hash).
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "../args";
import { DEFAULTS } from "../argSpec";
import { check, plainString, stringList } from "../validate";

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

/** True when `cidr` is an IPv4 or IPv6 network in CIDR notation. */
export function isCidr(cidr: string): boolean {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    if (!m) {
        return false;
    }
    const [, addr, bits] = m;
    const kind = net.isIP(addr);
    return (kind === 4 && +bits <= 32) || (kind === 6 && +bits <= 128);
}

export interface BuilderSettings {
    instanceType: string;
    associatePublicIp: boolean;
    /** Undefined: the latest official Debian 13 AMI. */
    builderAmi?: pulumi.Input<string>;
    /** Undefined: detect the deployer's public IPv4 at run time. */
    sshIngressCidrs?: string[];
}

/** Validates the builder's arguments. */
export function resolveBuilder(r: string, args: ArchAmiArgs): BuilderSettings {
    const s = (arg: keyof ArchAmiArgs) => plainString(r, arg, args[arg]);
    const instanceType = s("instanceType") ?? DEFAULTS.instanceType;
    check(r, "instanceType", instanceType, { ok: INSTANCE_TYPE.test(instanceType), expected: 'an EC2 instance type, e.g. "t3.small"' });
    const associatePublicIp = args.associatePublicIp ?? DEFAULTS.associatePublicIp;
    check(r, "associatePublicIp", associatePublicIp, { ok: typeof associatePublicIp === "boolean", expected: "true or false" });

    const sshIngressCidrs = stringList(r, "sshIngressCidrs", args.sshIngressCidrs);
    check(r, "sshIngressCidrs", sshIngressCidrs, {
        ok: associatePublicIp || sshIngressCidrs !== undefined,
        expected:
            "the CIDRs the builder's private address is reached from (VPN, Direct Connect, a bastion's subnet), e.g. " +
            '["10.0.0.0/16"]: with associatePublicIp false the default (this machine\'s public IPv4) can never be where ' +
            "the connection comes from",
    });
    if (sshIngressCidrs !== undefined) {
        check(r, "sshIngressCidrs", sshIngressCidrs, { ok: sshIngressCidrs.length > 0, expected: "at least one CIDR" });
        for (const c of sshIngressCidrs) {
            check(r, "sshIngressCidrs", c, { ok: isCidr(c), expected: 'CIDRs such as "203.0.113.7/32" or "2001:db8::/64"' });
        }
    }
    return { instanceType, associatePublicIp, builderAmi: args.builderAmi, sshIngressCidrs };
}
