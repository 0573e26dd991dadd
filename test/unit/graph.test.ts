// The resource graph under mocks: what is created, how it is wired, and what it is given.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { BASE_ARGS, byName, captureOptions, installMocks, optionsByName, registered, settle, unwrapSecret, value } from "./harness";

installMocks();

describe("ArchAmi graph", () => {
    let outputs: Record<string, unknown>;
    let hash: string;
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const arch = new ArchAmi("arch", { ...BASE_ARGS, volumeSize: 8, tpmSupport: true, bootMode: "uefi" }, { transformations: [captureOptions()] });
        outputs = {
            amiId: await value(arch.amiId),
            amiName: await value(arch.amiName),
            snapshotId: await value(arch.snapshotId),
            builderInstanceId: await value(arch.builderInstanceId),
        };
        hash = await value(arch.buildHash);
        await settle();
    });

    it("creates exactly the expected resources, each named <name>-<role>", () => {
        const names = registered.filter((r) => r.type !== "arch-ami:index:ArchAmi").map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(names, [
            "aws:ebs/snapshot:Snapshot arch-snapshot",
            "aws:ebs/volume:Volume arch-volume",
            "aws:ec2/ami:Ami arch-ami",
            "aws:ec2/instance:Instance arch-builder",
            "aws:ec2/keyPair:KeyPair arch-key-pair",
            "aws:ec2/securityGroup:SecurityGroup arch-sg",
            "aws:ec2/volumeAttachment:VolumeAttachment arch-attachment",
            "aws:ec2transitgateway/instanceState:InstanceState arch-builder-stopped",
            "command:local:Command arch-tarball",
            "command:remote:Command arch-provision",
            "command:remote:CopyToRemote arch-upload-scripts",
            "command:remote:CopyToRemote arch-upload-tarball",
            "tls:index/privateKey:PrivateKey arch-host-key",
            "tls:index/privateKey:PrivateKey arch-ssh-key",
        ]);
    });

    it("parents every child to the component", () => {
        for (const [name, opts] of optionsByName) {
            const parent = opts.parent as { __name?: string } | undefined;
            assert.ok(parent, `${name} has no parent`);
            assert.equal(parent.__name, "arch", `${name} is parented to ${parent.__name}`);
        }
        assert.equal(optionsByName.size, 14);
    });

    it("exposes the outputs", () => {
        assert.equal(outputs.amiId, "arch-ami-id");
        assert.equal(outputs.snapshotId, "arch-snapshot-id");
        assert.equal(outputs.builderInstanceId, "arch-builder-id");
        assert.equal(outputs.amiName, `arch-${hash.slice(0, 12)}`);
        assert.match(hash, /^[0-9a-f]{64}$/);
    });

    it("registers an HVM x86_64 gp3 AMI whose root device matches its block device", () => {
        const ami = byName("arch-ami").inputs;
        assert.equal(ami.virtualizationType, "hvm");
        assert.equal(ami.architecture, "x86_64");
        const [dev] = ami.ebsBlockDevices as Record<string, unknown>[];
        assert.equal(ami.rootDeviceName, dev.deviceName);
        assert.equal(dev.volumeType, "gp3");
        assert.equal(dev.deleteOnTermination, true);
        assert.equal(dev.snapshotId, "arch-snapshot-id");
        assert.equal(dev.volumeSize, 8);
        assert.equal(ami.enaSupport, true);
        assert.equal(ami.sriovNetSupport, "simple");
        assert.equal(ami.bootMode, "uefi");
        assert.equal(ami.imdsSupport, "v2.0");
        assert.equal(ami.tpmSupport, "v2.0");
        const tags = ami.tags as Record<string, string>;
        assert.equal(tags["arch-ami:build-hash"], hash);
        assert.equal(tags["arch-ami:bootstrap-date"], "2026.11.01");
        assert.equal(tags["arch-ami:kernel"], "linux");
    });

    it("tags every AWS resource that takes tags, AMI and snapshot included", () => {
        for (const n of ["arch-key-pair", "arch-sg", "arch-builder", "arch-volume", "arch-snapshot", "arch-ami"]) {
            assert.equal((byName(n).inputs.tags as Record<string, string>).team, "platform", n);
        }
    });

    it("allows SSH only from sshIngressCidrs and opens egress", () => {
        const sg = byName("arch-sg").inputs;
        const ingress = sg.ingress as Record<string, unknown>[];
        assert.equal(ingress.length, 1);
        assert.deepEqual(ingress[0].cidrBlocks, ["203.0.113.7/32"]);
        assert.equal(ingress[0].fromPort, 22);
        assert.equal(ingress[0].toPort, 22);
        assert.equal((sg.egress as unknown[]).length, 1);
        assert.equal(sg.vpcId, "vpc-default");
    });

    it("launches the Debian builder with IMDSv2, an encrypted gp3 root and a secret user data holding the host key", () => {
        const i = byName("arch-builder").inputs;
        assert.equal(i.ami, "ami-0debian13");
        assert.equal(i.instanceType, "t3.small");
        assert.equal((i.metadataOptions as Record<string, unknown>).httpTokens, "required");
        const root = i.rootBlockDevice as Record<string, unknown>;
        assert.equal(root.volumeType, "gp3");
        assert.equal(root.encrypted, true);
        assert.equal((root.tags as Record<string, string>).team, "platform", "the builder's root volume is tagged too");
        const [ud, secret] = unwrapSecret(i.userData);
        assert.ok(secret, "userData must be a secret");
        assert.match(String(ud), /^#cloud-config/);
        assert.match(String(ud), /ed25519_private: \|\n {4}-----BEGIN OPENSSH PRIVATE KEY-----\n {4}PRIVATE-arch-host-key/);
        assert.match(String(ud), /ed25519_public: ssh-ed25519 AAAAPUBLICarchhostkey/);
        assert.equal(i.userDataReplaceOnChange, true);
        assert.deepEqual(optionsByName.get("arch-builder")?.ignoreChanges, ["ami"]);
    });

    it("attaches a volume of volumeSize in the builder's availability zone", () => {
        const v = byName("arch-volume").inputs;
        assert.equal(v.size, 8);
        assert.equal(v.availabilityZone, "us-east-1a");
        const a = byName("arch-attachment").inputs;
        assert.equal(a.volumeId, "vol-0123456789abcdef0");
        assert.equal(a.instanceId, "arch-builder-id");
    });

    it("pins the builder host key and retries dialing in every remote connection, without secrets in the command", () => {
        for (const n of ["arch-upload-tarball", "arch-upload-scripts", "arch-provision"]) {
            const [c, connSecret] = unwrapSecret(byName(n).inputs.connection);
            assert.ok(connSecret, `${n}: the connection (it holds the client key) must be secret`);
            const conn = c as Record<string, unknown>;
            assert.equal(conn.hostKey, "ssh-ed25519 AAAAPUBLICarchhostkey", n);
            assert.equal(conn.dialErrorLimit, -1, n);
            assert.equal(conn.user, "admin", n);
            assert.equal(conn.host, "198.51.100.10", n);
            assert.match(String(conn.privateKey), /PRIVATE-arch-ssh-key/, n);
            assert.deepEqual(byName(n).inputs.triggers, [hash, "arch-builder-id"], n);
        }
        const p = byName("arch-provision").inputs;
        assert.equal(p.logging, "stdoutAndStderr");
        assert.doesNotMatch(String(p.create), /PRIVATE/);
        assert.match(String(p.create), /cloud-init status --wait/);
        assert.match(String(p.create), /sudo bash \/home\/admin\/arch-ami-provision\/provision\.sh \/home\/admin\/arch-ami-build\.conf/);
        const conf = Buffer.from(/echo (\S+) \| base64 -d/.exec(String(p.create))![1], "base64").toString();
        assert.match(conf, /^VOLUME_ID=vol-0123456789abcdef0$/m);
        assert.match(conf, /^DEVICE_NAME=\/dev\/sdf$/m);
    });

    it("orders the stages: provision after uploads and attachment, snapshot after provision, stop after snapshot", () => {
        const deps = (n: string) => ((optionsByName.get(n)?.dependsOn as { __name?: string }[]) ?? []).map((d) => d.__name).sort();
        assert.deepEqual(deps("arch-provision"), ["arch-attachment", "arch-upload-scripts", "arch-upload-tarball"]);
        assert.deepEqual(deps("arch-snapshot"), ["arch-provision"]);
        assert.deepEqual(deps("arch-builder-stopped"), ["arch-snapshot"]);
        assert.equal(byName("arch-builder-stopped").inputs.state, "stopped");
        assert.equal(byName("arch-builder-stopped").inputs.instanceId, "arch-builder-id");
    });

    it("builds the tarball locally without waiting for the instance", () => {
        const t = byName("arch-tarball");
        assert.deepEqual(optionsByName.get("arch-tarball")?.dependsOn, undefined);
        assert.deepEqual(t.inputs.interpreter, ["/bin/bash", "-c"]);
        assert.match(String(t.inputs.create), /^#!\/usr\/bin\/env bash/);
        assert.deepEqual(t.inputs.triggers, [hash]);
        const env = t.inputs.environment as Record<string, string>;
        assert.equal(env.ARCH_AMI_BOOTSTRAP_DATE, "latest");
        assert.equal(env.ARCH_AMI_BOOTSTRAP_METHOD, "official");
    });

    it("replaces the builder chain on a new build hash and sets generous timeouts", () => {
        for (const n of ["arch-builder", "arch-volume", "arch-attachment", "arch-snapshot"]) {
            assert.equal(optionsByName.get(n)?.replacementTrigger, hash, n);
        }
        for (const n of ["arch-upload-tarball", "arch-upload-scripts"]) {
            assert.deepEqual(optionsByName.get(n)?.ignoreChanges, ["source", "connection"], n);
        }
        assert.deepEqual(optionsByName.get("arch-provision")?.ignoreChanges, ["connection"]);
        assert.deepEqual(optionsByName.get("arch-snapshot")?.customTimeouts, { create: "90m", delete: "30m" });
    });

    it("leaves nothing behind on destroy: no child is protected or retained", () => {
        for (const [name, opts] of optionsByName) {
            assert.notEqual(opts.protect, true, `${name} is protected`);
            assert.notEqual(opts.retainOnDelete, true, `${name} would be retained`);
        }
    });
});

describe("builder in a private subnet", () => {
    it("connects to the private address when associatePublicIp is false and uses the given subnet", async () => {
        const { ArchAmi } = await import("../../src");
        new ArchAmi("priv", { ...BASE_ARGS, associatePublicIp: false, subnetId: "subnet-private-1", instanceType: "m6i.large" });
        await settle();
        const i = byName("priv-builder").inputs;
        assert.equal(i.associatePublicIpAddress, false);
        assert.equal(i.subnetId, "subnet-private-1");
        assert.equal(i.instanceType, "m6i.large");
        for (const n of ["priv-upload-tarball", "priv-upload-scripts", "priv-provision"]) {
            const conn = unwrapSecret(byName(n).inputs.connection)[0] as Record<string, unknown>;
            assert.equal(conn.host, "10.0.0.10", n);
        }
    });
});
