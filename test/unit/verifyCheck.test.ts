// The check of a registration (src/image/verify.ts) as deployed: the test instance, the host key handed over
// in user data, how the check dials (public or private address), and the command's success path, run by a
// shell with a stand-in `sudo` first on PATH (the real one is never reached: nothing is powered off here).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BASE_ARGS, captureOptions, capturedByTypeName, installMocks, optionsByName, registered, settle, unwrapSecret, value } from "./harness";

installMocks();

async function deploy(name: string, extra: Record<string, unknown>) {
    const { ArchAmi } = await import("../../src");
    const a = new ArchAmi(name, { ...BASE_ARGS, ...extra }, { transformations: [captureOptions()] });
    await value(a.amiId);
    await settle();
    const check = registered.find((r) => r.type === "command:remote:Command" && r.name.startsWith(`${name}-`) && r.name.endsWith("-check"))!;
    const v = check.name.replace(/-check$/, "");
    const instance = registered.find((r) => r.name === `${v}-instance`)!;
    const hostKey = registered.find((r) => r.name === `${v}-host-key`)!;
    return { check, v, instance, hostKey };
}

describe("the check, as deployed", () => {
    let pub: Awaited<ReturnType<typeof deploy>>;
    let priv: Awaited<ReturnType<typeof deploy>>;
    before(async () => {
        pub = await deploy("vpub", {});
        priv = await deploy("vpriv", { associatePublicIp: false, subnetId: "subnet-private" });
    });

    it("launches the test instance with IMDSv2 only, a gp3 root 2 GiB larger than the image (unencrypted here), terminate on shutdown, tagged with its name", () => {
        const i = pub.instance.inputs;
        assert.equal(i.instanceType, "t3.nano");
        assert.deepEqual(i.metadataOptions, { httpTokens: "required", httpEndpoint: "enabled" });
        assert.deepEqual(i.rootBlockDevice, { volumeType: "gp3", volumeSize: 6, deleteOnTermination: true });
        assert.equal(i.instanceInitiatedShutdownBehavior, "terminate");
        assert.deepEqual(i.tags, { team: "platform", Name: `${pub.v}-instance` });
        assert.equal(i.associatePublicIpAddress, true);
        assert.deepEqual(i.vpcSecurityGroupIds, ["vpub-sg-id"]);
        assert.equal(i.keyName, "vpub-key-pair-kp");
        const o = optionsByName.get(`${pub.v}-instance`)!;
        assert.deepEqual(o.customTimeouts, { create: "15m", delete: "20m" });
        assert.deepEqual([...(o.ignoreChanges as string[])].sort(), ["associatePublicIpAddress", "instanceType", "subnetId", "tags", "vpcSecurityGroupIds"]);
    });

    it("hands the test instance its ED25519 host key in user data (cloud-config ssh_keys), and the check pins that key", () => {
        assert.equal(pub.hostKey.inputs.algorithm, "ED25519");
        const [ud, secret] = unwrapSecret(pub.instance.inputs.userData);
        assert.ok(secret);
        const k = `${pub.v}-host-key`;
        assert.equal(
            ud,
            `#cloud-config\nssh_keys:\n  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    PRIVATE-${k}\n    -----END OPENSSH PRIVATE KEY-----\n  ed25519_public: ssh-ed25519 AAAAPUBLIC${k.replace(/[^A-Za-z0-9]/g, "")}\n`,
        );
        const conn = unwrapSecret(pub.check.inputs.connection)[0] as Record<string, unknown>;
        assert.equal(conn.hostKey, `ssh-ed25519 AAAAPUBLIC${k.replace(/[^A-Za-z0-9]/g, "")}`, "trimmed: no newline in the pinned key");
        assert.equal(conn.user, "arch");
        assert.match(String(conn.privateKey), /PRIVATE-vpub-ssh-key/);
        assert.equal(pub.check.inputs.logging, "stdoutAndStderr");
        assert.deepEqual(optionsByName.get(pub.check.name)!.customTimeouts, { create: "30m" });
    });

    it("dials the public address with associatePublicIp, the private one without", () => {
        const host = (d: typeof pub) => (unwrapSecret(d.check.inputs.connection)[0] as Record<string, unknown>).host;
        assert.match(String(host(pub)), /^198\.51\./);
        assert.match(String(host(priv)), /^10\.0\./);
        assert.equal(priv.instance.inputs.associatePublicIpAddress, false);
        assert.equal(priv.instance.inputs.subnetId, "subnet-private");
    });

    it("the command names its own instance (the id replaces every placeholder)", () => {
        const create = String(pub.check.inputs.create);
        assert.doesNotMatch(create, /@@ARCH_AMI_TEST_INSTANCE_ID@@/);
        assert.equal(create.split(`${pub.v}-instance-id`).length - 1, 4, "two messages, each naming it twice");
        assert.ok(capturedByTypeName.get(`command:remote:Command::${pub.check.name}`)!.dependencies!.includes(capturedByTypeName.get(`aws:ec2/instance:Instance::${pub.v}-instance`)!.urn));
    });
});

describe("the check command's success path", () => {
    for (const [sudoExit, scheduled] of [
        [0, true],
        [1, false],
    ] as const) {
        it(`${scheduled ? "schedules the power-off 5 s later and says nothing" : "says the instance keeps running when the power-off cannot be scheduled"}, and exits 0`, async () => {
            const { verifyCommand } = await import("../../src/image/verify");
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-sudo-"));
            fs.writeFileSync(path.join(dir, "sudo"), `#!/bin/sh\nprintf '%s\n' "$*" > '${dir}/args'\nexit ${sudoExit}\n`, { mode: 0o755 });
            const r = spawnSync("sh", ["-c", verifyCommand("echo ok: all; exit 0", ["--packages", "base"], "i-0abc")], {
                encoding: "utf8",
                env: { PATH: `${dir}:${process.env.PATH}` },
            });
            assert.equal(r.status, 0);
            assert.equal(r.stdout, "ok: all\n");
            assert.equal(fs.readFileSync(path.join(dir, "args"), "utf8"), "-n systemd-run --quiet --on-active=5 systemctl poweroff\n");
            if (scheduled) assert.equal(r.stderr, "");
            else
                assert.equal(
                    r.stderr,
                    "arch-ami: the check passed, but the power-off of test instance i-0abc could not be scheduled; it keeps running until the next new AMI or pulumi destroy, or: aws ec2 terminate-instances --instance-ids i-0abc\n",
                );
        });
    }

    it("on failure prints the log's last 20 lines and names the instance left running", async () => {
        const { verifyCommand } = await import("../../src/image/verify");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-sudo-"));
        fs.writeFileSync(path.join(dir, "sudo"), `#!/bin/sh\ntouch '${dir}/called'\nexit 0\n`, { mode: 0o755 });
        const script = "for i in $(seq 1 25); do echo line $i; done; exit 4";
        const r = spawnSync("sh", ["-c", verifyCommand(script, ["--a", "b c"], "i-0def")], { encoding: "utf8", env: { PATH: `${dir}:${process.env.PATH}` } });
        assert.equal(r.status, 4);
        assert.ok(!fs.existsSync(path.join(dir, "called")), "no power-off after a failed check");
        const lines = r.stderr.split("\n");
        assert.equal(lines[0], "arch-ami: verification of the new AMI failed (verify.sh exit 4); last lines:");
        assert.deepEqual(lines.slice(1, 21), Array.from({ length: 20 }, (_, n) => `line ${n + 6}`));
        assert.equal(
            lines[21],
            "arch-ami: test instance i-0def is left running for inspection; it is terminated by the next successful up that no longer needs it (a fixed check or a new AMI) or by pulumi destroy, or now: aws ec2 terminate-instances --instance-ids i-0def",
        );
    });
});
