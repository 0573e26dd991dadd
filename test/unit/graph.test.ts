// The resource graph under mocks: what is created, how it is wired, and what it is given.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, byName, capturedByTypeName, captureOptions, installMocks, invokes, optionsByName, registered, settle, unwrapSecret, value } from "./harness";

installMocks();

describe("ArchAmi graph", () => {
    let outputs: Record<string, unknown>;
    let hash: string;
    /** The build's own name: `<name>-<hash12>`; every per-build resource carries it. */
    let b: string;
    /** The registration's own name: `<name>-<reg12>` (the ArchAmiImage); every per-registration resource carries it. */
    let r: string;
    /** The verification's name: `<registration>-verify-<check12>` (per registration and check). */
    let v: string;
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
        b = `arch-${hash.slice(0, 12)}`;
        await settle();
        r = registered.find((x) => x.type === "arch-ami:index:ArchAmiImage")!.name;
        v = registered.map((x) => /^(arch-[0-9a-f]{12}-verify-[0-9a-f]{12})-instance$/.exec(x.name)?.[1]).find(Boolean)!;
    });

    it("creates the shared resources once, every per-build resource under the build's name, every per-registration one under the registration's", () => {
        assert.match(r, /^arch-[0-9a-f]{12}$/);
        assert.notEqual(r, b, "the registration has its own identity (boot mode, TPM, stack), not the build hash");
        assert.ok(v.startsWith(`${r}-verify-`), v);
        const names = registered.filter((r) => r.type !== "arch-ami:index:ArchAmi").map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(names, [
            `arch-ami:index:ArchAmiBuild ${b}`,
            `aws:ebs/snapshot:Snapshot ${b}-snapshot`,
            `aws:ebs/volume:Volume ${b}-volume`,
            `arch-ami:index:ArchAmiImage ${r}`,
            `aws:ec2/ami:Ami ${r}-ami`,
            `aws:ec2/instance:Instance ${b}-builder`,
            "aws:ec2/keyPair:KeyPair arch-key-pair",
            "aws:ec2/securityGroup:SecurityGroup arch-sg",
            `aws:ec2/volumeAttachment:VolumeAttachment ${b}-attachment`,
            `aws:ec2transitgateway/instanceState:InstanceState ${b}-builder-stopped`,
            `command:local:Command ${b}-tarball`,
            `command:remote:Command ${b}-provision`,
            `command:remote:CopyToRemote ${b}-upload-scripts`,
            `command:remote:CopyToRemote ${b}-upload-tarball`,
            `tls:index/privateKey:PrivateKey ${b}-host-key`,
            "tls:index/privateKey:PrivateKey arch-ssh-key",
            `tls:index/privateKey:PrivateKey ${v}-host-key`,
            `aws:ec2/instance:Instance ${v}-instance`,
            `command:remote:Command ${v}-check`,
        ].sort());
    });

    it("parents the shared resources, the build and the registration to the component, their resources to them", () => {
        const top = ["arch-ssh-key", "arch-key-pair", "arch-sg", b, r];
        const image = [`${r}-ami`, ...["host-key", "instance", "check"].map((x) => `${v}-${x}`)];
        for (const [name, opts] of optionsByName) {
            const parent = opts.parent as { __name?: string } | undefined;
            assert.ok(parent, `${name} has no parent`);
            assert.equal(parent.__name, top.includes(name) ? "arch" : image.includes(name) ? r : b, `${name} is parented to ${parent.__name}`);
        }
        assert.equal(optionsByName.size, 19);
        const urn = (type: string, name: string) => capturedByTypeName.get(`${type}::${name}`)?.urn;
        assert.equal(
            urn("aws:ec2/instance:Instance", `${b}-builder`),
            `urn:pulumi:test::arch-ami::arch-ami:index:ArchAmi$arch-ami:index:ArchAmiBuild$aws:ec2/instance:Instance::${b}-builder`,
        );
        assert.equal(
            urn("aws:ec2/ami:Ami", `${r}-ami`),
            `urn:pulumi:test::arch-ami::arch-ami:index:ArchAmi$arch-ami:index:ArchAmiImage$aws:ec2/ami:Ami::${r}-ami`,
        );
        assert.equal(
            urn("command:remote:Command", `${v}-check`),
            `urn:pulumi:test::arch-ami::arch-ami:index:ArchAmi$arch-ami:index:ArchAmiImage$command:remote:Command::${v}-check`,
        );
    });

    it("exposes the outputs", () => {
        assert.equal(outputs.amiId, `${r}-ami-id`);
        assert.equal(outputs.snapshotId, `${b}-snapshot-id`);
        assert.equal(outputs.builderInstanceId, `${b}-builder-id`);
        assert.match(String(outputs.amiName), /^arch-[0-9a-f]{12}$/);
        assert.notEqual(outputs.amiName, `arch-${hash.slice(0, 12)}`, "the AMI name is not the bare build hash (two stacks would clash)");
        assert.match(hash, /^[0-9a-f]{64}$/);
    });

    it("registers an HVM x86_64 gp3 AMI whose root device matches its block device", () => {
        const ami = byName(`${r}-ami`).inputs;
        assert.equal(ami.virtualizationType, "hvm");
        assert.equal(ami.architecture, "x86_64");
        const [dev] = ami.ebsBlockDevices as Record<string, unknown>[];
        assert.equal(ami.rootDeviceName, dev.deviceName);
        assert.equal(dev.volumeType, "gp3");
        assert.equal(dev.deleteOnTermination, true);
        assert.equal(dev.snapshotId, `${b}-snapshot-id`);
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
        for (const n of ["arch-key-pair", "arch-sg", `${b}-builder`, `${b}-volume`, `${b}-snapshot`, `${r}-ami`, `${v}-instance`]) {
            assert.equal((byName(n).inputs.tags as Record<string, string>).team, "platform", n);
        }
    });

    it("allows SSH only from sshIngressCidrs and opens egress", () => {
        assert.deepEqual(byName("arch-sg").inputs, {
            description: "arch-ami builder: SSH from the deployer only",
            vpcId: "vpc-default",
            ingress: [{ description: "SSH from sshIngressCidrs", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] }],
            egress: [
                { description: "package mirrors and AWS APIs", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
            ],
            tags: { team: "platform" },
        });
    });

    it("launches the Debian builder with IMDSv2, an encrypted gp3 root and a secret user data holding the host key", () => {
        const i = byName(`${b}-builder`).inputs;
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
        assert.match(String(ud), new RegExp(`ed25519_private: \\|\\n {4}-----BEGIN OPENSSH PRIVATE KEY-----\\n {4}PRIVATE-${b}-host-key`));
        assert.match(String(ud), new RegExp(`ed25519_public: ssh-ed25519 AAAAPUBLIC${b.replace("-", "")}hostkey`));
        assert.equal(i.userDataReplaceOnChange, undefined, "user data never changes within a build");
    });

    it("looks the builder's AMI up as the newest official Debian 13 amd64 image", () => {
        // Debian's cloud team publishes from AWS account 136693071363 (https://wiki.debian.org/Cloud/AmazonEC2Image).
        assert.deepEqual(invokes.filter((c) => c.token === "aws:ec2/getAmi:getAmi").map((c) => c.inputs), [
            {
                owners: ["136693071363"],
                mostRecent: true,
                filters: [
                    { name: "name", values: ["debian-13-amd64-*"] },
                    { name: "architecture", values: ["x86_64"] },
                ],
            },
        ]);
    });

    it("gives the builder, its volume and the attachment exactly these inputs", () => {
        const { userData, ...instance } = byName(`${b}-builder`).inputs;
        assert.deepEqual(instance, {
            ami: "ami-0debian13",
            instanceType: "t3.small",
            subnetId: "subnet-default-a",
            vpcSecurityGroupIds: ["arch-sg-id"],
            associatePublicIpAddress: true,
            keyName: "arch-key-pair-kp",
            // IMDSv2 only, one hop: a container on the builder cannot reach the instance's credentials.
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 8, encrypted: true, deleteOnTermination: true, tags: { team: "platform", "arch-ami:build-hash": hash } },
            // "stop", not "terminate": the stopped builder keeps the build's volume attached until the build goes.
            instanceInitiatedShutdownBehavior: "stop",
            tags: { team: "platform", "arch-ami:build-hash": hash, Name: `${b}-builder` },
        });
        // cloud-init cc_ssh: ssh_deletekeys drops the image's keys, ssh_genkeytypes [] makes none, ssh_keys installs ours.
        assert.equal(
            unwrapSecret(userData)[0],
            [
                "#cloud-config",
                `# arch-ami builder for build ${hash}`,
                "ssh_deletekeys: true",
                "ssh_genkeytypes: []",
                "ssh_keys:",
                "  ed25519_private: |",
                "    -----BEGIN OPENSSH PRIVATE KEY-----",
                `    PRIVATE-${b}-host-key`,
                "    -----END OPENSSH PRIVATE KEY-----",
                `  ed25519_public: ssh-ed25519 AAAAPUBLIC${b.replace("-", "")}hostkey`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(byName(`${b}-volume`).inputs, { availabilityZone: "us-east-1a", size: 8, type: "gp3", tags: { team: "platform", "arch-ami:build-hash": hash, Name: `${b}-volume` } });
        const { volumeId, ...attachment } = byName(`${b}-attachment`).inputs;
        assert.match(String(volumeId), /^vol-[0-9a-f]{17}$/);
        // Stop before detaching: a detach from a running instance can leave the file system half-written.
        assert.deepEqual(attachment, { deviceName: "/dev/sdf", instanceId: `${b}-builder-id`, stopInstanceBeforeDetaching: true });
    });

    it("makes every key ED25519 and imports the client key without the trailing newline", () => {
        const keys = registered.filter((x) => x.type === "tls:index/privateKey:PrivateKey");
        assert.equal(keys.length, 3);
        for (const k of keys) assert.deepEqual(k.inputs, { algorithm: "ED25519" }, k.name);
        assert.deepEqual(byName("arch-key-pair").inputs, { publicKey: "ssh-ed25519 AAAAPUBLICarchsshkey", tags: { team: "platform" } });
    });

    it("attaches a volume of volumeSize in the builder's availability zone", () => {
        const v = byName(`${b}-volume`).inputs;
        assert.equal(v.size, 8);
        assert.equal(v.availabilityZone, "us-east-1a");
        const a = byName(`${b}-attachment`).inputs;
        assert.match(String(a.volumeId), /^vol-[0-9a-f]{17}$/);
        assert.equal(a.instanceId, `${b}-builder-id`);
    });

    it("pins the builder host key and retries dialing a bounded number of times in every remote connection, without secrets in the command", () => {
        for (const n of [`${b}-upload-tarball`, `${b}-upload-scripts`, `${b}-provision`]) {
            const [c, connSecret] = unwrapSecret(byName(n).inputs.connection);
            assert.ok(connSecret, `${n}: the connection (it holds the client key) must be secret`);
            const conn = c as Record<string, unknown>;
            assert.equal(conn.hostKey, `ssh-ed25519 AAAAPUBLIC${b.replace("-", "")}hostkey`, n);
            // Finite: -1 retries forever (pulumi-command remote/connection.go reachedDialingErrorLimit).
            assert.equal(conn.dialErrorLimit, 60, n);
            assert.equal(conn.perDialTimeout, 10, n);
            assert.equal(conn.user, "admin", n);
            assert.match(String(conn.host), /^198\.51\.\d+\.\d+$/, n);
            assert.match(String(conn.privateKey), /PRIVATE-arch-ssh-key/, n);
            assert.equal(byName(n).inputs.triggers, undefined, `${n}: a build is replaced by a new build, not by triggers`);
        }
        const p = byName(`${b}-provision`).inputs;
        assert.equal(p.logging, "stdoutAndStderr");
        assert.doesNotMatch(String(p.create), /PRIVATE/);
        assert.match(String(p.create), /cloud-init status --wait/);
        assert.match(String(p.create), /sudo bash \/home\/admin\/arch-ami\/provision\/provision\.sh \/home\/admin\/arch-ami-build\.conf/);
        const conf = Buffer.from(/echo (\S+) \| base64 -d/.exec(String(p.create))![1], "base64").toString();
        assert.match(conf, new RegExp(`^VOLUME_ID=${byName(`${b}-attachment`).inputs.volumeId}$`, "m"));
        assert.match(conf, /^DEVICE_NAME=\/dev\/sdf$/m);
    });

    it("orders the stages: provision after uploads and attachment, snapshot after provision, stop after snapshot", () => {
        const deps = (n: string) => ((optionsByName.get(n)?.dependsOn as { __name?: string }[]) ?? []).map((d) => d.__name).sort();
        assert.deepEqual(deps(`${b}-provision`), [`${b}-attachment`, `${b}-upload-scripts`, `${b}-upload-tarball`]);
        assert.deepEqual(deps(`${b}-snapshot`), [`${b}-provision`]);
        assert.deepEqual(deps(`${b}-builder-stopped`), [`${b}-snapshot`]);
        assert.equal(byName(`${b}-builder-stopped`).inputs.state, "stopped");
        assert.equal(byName(`${b}-builder-stopped`).inputs.instanceId, `${b}-builder-id`);
    });

    it("builds the tarball locally without waiting for the instance, only for the preflight", async () => {
        const t = byName(`${b}-tarball`);
        const dep = optionsByName.get(`${b}-tarball`)?.dependsOn;
        assert.ok(pulumi.Output.isInstance(dep), "the tarball command waits for the preflight (an Output-valued dependsOn)");
        assert.deepEqual(await value(dep as pulumi.Output<unknown>), [], "and for no resource");
        assert.deepEqual(t.inputs.interpreter, ["/bin/bash", "-c"]);
        assert.match(String(t.inputs.create), /^#!\/usr\/bin\/env bash/);
        assert.equal(t.inputs.triggers, undefined);
        const env = t.inputs.environment as Record<string, string>;
        assert.equal(env.ARCH_AMI_BOOTSTRAP_DATE, "latest");
        assert.equal(env.ARCH_AMI_BOOTSTRAP_METHOD, "official");
    });

    it("relies on no replacementTrigger or triggers, ignores only what never changes within a build, and sets generous timeouts", () => {
        for (const [n, o] of optionsByName) {
            assert.equal(o.replacementTrigger, undefined, n);
        }
        const ignored = Object.fromEntries([...optionsByName].filter(([, o]) => o.ignoreChanges).map(([n, o]) => [n, [...(o.ignoreChanges as string[])].sort()]));
        assert.deepEqual(ignored, {
            [`${b}-builder`]: ["ami", "associatePublicIpAddress", "instanceType", "subnetId", "vpcSecurityGroupIds"],
            // A concrete index: the bridge matches ignore paths as exact strings (diff.go computeIgnoreChanges).
            [`${r}-ami`]: ["ebsBlockDevices[0].encrypted"],
            [`${b}-tarball`]: ["environment"],
            [`${b}-upload-tarball`]: ["connection", "source"],
            [`${b}-upload-scripts`]: ["connection", "source"],
            [`${b}-provision`]: ["connection"],
            [`${v}-instance`]: ["associatePublicIpAddress", "instanceType", "subnetId", "tags", "vpcSecurityGroupIds"],
        });
        assert.equal(optionsByName.get(`${b}-attachment`)?.deleteBeforeReplace, true, "detach before attaching a replacement (VolumeInUse)");
        const timeouts = Object.fromEntries([...optionsByName].filter(([, o]) => o.customTimeouts).map(([n, o]) => [n, o.customTimeouts]));
        assert.deepEqual(timeouts, {
            [`${b}-tarball`]: { create: "30m" },
            [`${b}-upload-tarball`]: { create: "20m" },
            [`${b}-upload-scripts`]: { create: "20m" },
            [`${b}-provision`]: { create: "60m" },
            [`${b}-snapshot`]: { create: "90m", delete: "30m" },
            [`${b}-builder-stopped`]: { create: "15m", update: "15m" },
            [`${r}-ami`]: { create: "60m", delete: "30m" },
            [`${v}-instance`]: { create: "15m", delete: "20m" },
            [`${v}-check`]: { create: "30m" },
        });
    });

    it("checks the AMI on a fresh test instance that terminates itself after a passed check, re-running whenever the instance is new", () => {
        const inst = byName(`${v}-instance`).inputs;
        assert.equal(inst.ami, `${r}-ami-id`);
        // A power-off from inside then terminates the instance (ec2_instance.go instance_initiated_shutdown_behavior).
        assert.equal(inst.instanceInitiatedShutdownBehavior, "terminate");
        const check = byName(`${v}-check`).inputs;
        // The command names its instance, so a new instance changes `create` and pulumi-command's Update runs it
        // again (commandController.go Update); the lifecycle model proves the re-run on a replaced AMI.
        assert.match(String(check.create), new RegExp(`${v}-instance-id`));
        const conn = unwrapSecret(check.connection)[0] as Record<string, unknown>;
        assert.match(String(conn.host), /^198\.51\.\d+\.\d+$/, "the test instance's public address");
        assert.equal(conn.user, "arch");
        assert.ok(Number.isInteger(conn.dialErrorLimit) && (conn.dialErrorLimit as number) > 0, `finite dialErrorLimit, got ${conn.dialErrorLimit}`);
        assert.ok((conn.dialErrorLimit as number) * ((conn.perDialTimeout as number) + 5) <= 20 * 60, "every dial failing bounds the wait to minutes");
        assert.equal(optionsByName.get(`${v}-check`)?.ignoreChanges, undefined, "the connection is never ignored: nothing dials with stale settings");
        assert.deepEqual(optionsByName.get(`${v}-check`)?.customTimeouts, { create: "30m" });
        const create = String(check.create);
        const lines = create.split("\n");
        const success = lines.indexOf('if [ "$rc" -eq 0 ]; then');
        assert.ok(success > 0, create);
        assert.match(lines[success + 1], /sudo -n systemd-run --quiet --on-active=5 systemctl poweroff/, "the last action on success powers off in the background");
        assert.equal(lines.slice(success + 1).find((l) => /^\s*exit 0$/.test(l)), "  exit 0");
        assert.match(create, new RegExp(`test instance ${v}-instance-id is left running for inspection.*aws ec2 terminate-instances --instance-ids ${v}-instance-id`));
        assert.equal(registered.filter((x) => x.type.includes("instanceState") && x.name.startsWith(r)).length, 0, "no stopped-state resource");
    });

    it("leaves nothing behind on destroy by default: no child is protected or retained", () => {
        for (const [name, opts] of optionsByName) {
            assert.notEqual(opts.protect, true, `${name} is protected`);
            assert.notEqual(opts.retainOnDelete, true, `${name} would be retained`);
        }
    });
});

describe("builder in a private subnet", () => {
    it("connects to the private address when associatePublicIp is false and uses the given subnet", async () => {
        const { ArchAmi } = await import("../../src");
        const priv = new ArchAmi("priv", { ...BASE_ARGS, associatePublicIp: false, subnetId: "subnet-private-1", instanceType: "m6i.large" });
        const pb = `priv-${(await value(priv.buildHash)).slice(0, 12)}`;
        await settle();
        const i = byName(`${pb}-builder`).inputs;
        assert.equal(i.associatePublicIpAddress, false);
        assert.equal(i.subnetId, "subnet-private-1");
        assert.equal(i.instanceType, "m6i.large");
        for (const n of [`${pb}-upload-tarball`, `${pb}-upload-scripts`, `${pb}-provision`]) {
            const conn = unwrapSecret(byName(n).inputs.connection)[0] as Record<string, unknown>;
            assert.match(String(conn.host), /^10\.0\.\d+\.\d+$/, n);
        }
    });
});

describe("retainImages", () => {
    it("keeps superseded AMIs and snapshots (retainOnDelete) and nothing else", async () => {
        const { ArchAmi } = await import("../../src");
        const keep = new ArchAmi("keep", { ...BASE_ARGS, retainImages: true });
        const kb = `keep-${(await value(keep.buildHash)).slice(0, 12)}`;
        await settle();
        const kr = registered.find((x) => x.type === "arch-ami:index:ArchAmiImage" && x.name.startsWith("keep-"))!.name;
        const retained = [...capturedByTypeName.entries()].filter(([k, c]) => k.includes("::keep") && c.retainOnDelete).map(([k]) => k.split("::")[1]).sort();
        assert.deepEqual(retained, [`${kr}-ami`, `${kb}-snapshot`].sort());
    });
});

describe("an explicit AWS provider", () => {
    it("reaches every AWS data source and resource of the component, the default-subnet lookup included", async () => {
        const aws = await import("@pulumi/aws");
        const { ArchAmi } = await import("../../src");
        const before = invokes.length;
        const eu = new aws.Provider("eu", { region: "eu-west-1" });
        const prov = new ArchAmi("prov", BASE_ARGS, { providers: { aws: eu } });
        await value(prov.amiId);
        await settle();
        const calls = invokes.slice(before).filter((c) => c.token.startsWith("aws:"));
        // A data source called without the component's provider would ask the default provider (another region or account).
        const lookups = calls.filter((c) => /getVpc:|getSubnet:|getAvailabilityZones:|getAmi:/.test(c.token));
        assert.deepEqual(lookups.map((c) => [c.token, c.inputs]).sort(), [
            ["aws:ec2/getAmi:getAmi", { owners: ["136693071363"], mostRecent: true, filters: [{ name: "name", values: ["debian-13-amd64-*"] }, { name: "architecture", values: ["x86_64"] }] }],
            ["aws:ec2/getSubnet:getSubnet", { vpcId: "vpc-default", defaultForAz: true, availabilityZone: "us-east-1a" }],
            ["aws:ec2/getVpc:getVpc", { default: true }],
            ["aws:index/getAvailabilityZones:getAvailabilityZones", { state: "available" }],
        ].sort());
        for (const c of calls) assert.match(String(c.provider), /::eu-id$/, `${c.token} uses the component's provider`);
        const resources = registered.filter((x) => x.type.startsWith("aws:") && /^prov-/.test(x.name));
        assert.ok(resources.length >= 6, resources.map((x) => x.name).join(", "));
        for (const x of resources) assert.match(String(x.provider), /::eu-id$/, `${x.name} uses the component's provider`);
    });

    it("looks a given subnet up by its id and splits IPv4 from IPv6 ingress", async () => {
        const { ArchAmi } = await import("../../src");
        const before = invokes.length;
        const s = new ArchAmi("givensubnet", { ...BASE_ARGS, subnetId: "subnet-given-1", sshIngressCidrs: ["2001:db8::7/128", "203.0.113.7/32", "2001:db8:1::/64"] });
        await value(s.amiId);
        await settle();
        const calls = invokes.slice(before).filter((c) => /getVpc:|getSubnet:|getAvailabilityZones:/.test(c.token));
        assert.deepEqual(calls.map((c) => [c.token, c.inputs]), [["aws:ec2/getSubnet:getSubnet", { id: "subnet-given-1" }]]);
        // IPv4 and IPv6 ranges go to their own lists (the EC2 API refuses an IPv6 range in cidrBlocks).
        assert.deepEqual(byName("givensubnet-sg").inputs.ingress, [
            { description: "SSH from sshIngressCidrs", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"], ipv6CidrBlocks: ["2001:db8::7/128", "2001:db8:1::/64"] },
        ]);
    });
});
