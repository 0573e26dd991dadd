// Distribution and verification under mocks: copies in other regions (each resource carries its own
// region: @pulumi/aws v7 needs no provider per region), launch and create-volume permissions on every
// copy, the SSM parameter in every region, deprecation, encryption, and the verification that gates
// amiId/amiIds. Distribution-only arguments never change the build.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, Registered, capturedByTypeName, captureOptions, installMocks, optionsByName, registered, settle, unwrapSecret, value } from "./harness";
import { buildHash } from "../../src/identity";
import { resolveSettings } from "../../src/settings";
import { ArchAmiArgs } from "../../src/args";

// The home region as the aws provider sees it (the mocks answer us-east-1 too); keys are checked against it.
process.env.AWS_REGION = "us-east-1";
const events: { name: string; event: string; at: number }[] = [];
installMocks({
    delayMs: (type) => (type === "command:remote:Command" ? 200 : 0),
    onEvent: (event, r) => events.push({ name: r.name, event, at: Date.now() }),
});

const ORG = "arn:aws:organizations::111122223333:organization/o-abcdefghij";
const OU = "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-abcd-12345678";
const KEY = "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const EU_KEY = "arn:aws:kms:eu-central-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef";
const AP_KEY = "arn:aws:kms:ap-southeast-2:111122223333:key/1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
/** A deprecation time a year from now: EC2 refuses past ones, so a fixed date would make this test expire. */
const DEPRECATE = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
const DIST: ArchAmiArgs = {
    encryption: { kmsKeyId: KEY },
    regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }, { region: "ap-southeast-2", kmsKeyId: AP_KEY }],
    sharing: { accountIds: ["444455556666"], organizationArns: [ORG], organizationalUnitArns: [OU] },
    deprecationTime: DEPRECATE,
    ssmParameterName: "/images/arch/latest",
};

const all = (type: string, prefix: string) => registered.filter((r) => r.type === type && r.name.startsWith(prefix));
const named = (re: RegExp): Registered => {
    const r = registered.filter((x) => re.test(x.name));
    assert.equal(r.length, 1, `one resource matching ${re}: ${r.map((x) => x.name).join(", ")}`);
    return r[0];
};

/** The registration (ArchAmiImage) of the component `n`: `<n>-<reg12>`. */
const registrationOf = (n: string) => {
    const r = registered.filter((x) => x.type === "arch-ami:index:ArchAmiImage" && x.name.startsWith(`${n}-`));
    assert.equal(r.length, 1);
    assert.match(r[0].name, new RegExp(`^${n}-[0-9a-f]{12}$`));
    return r[0].name;
};
/** Names of the resources this one was given in dependsOn. */
const dependsOnNames = (n: string) => ((optionsByName.get(n)?.dependsOn as { __name?: string }[] | undefined) ?? []).map((d) => d.__name);

describe("distribution", () => {
    let amiId: string;
    let amiIds: Record<string, string>;
    let amiIdAt = 0;
    /** The registration's prefix. */
    let r: string;
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const arch = new ArchAmi("dist", { ...BASE_ARGS, ...DIST }, { transformations: [captureOptions()] });
        amiId = await value(arch.amiId);
        amiIdAt = Date.now();
        amiIds = await value(arch.amiIds);
        await settle();
        r = registrationOf("dist");
    });

    it("encrypts the build's volume with the given key (the snapshot and the AMI inherit it)", () => {
        const v = named(/^dist-[0-9a-f]{12}-volume$/).inputs;
        assert.equal(v.encrypted, true);
        assert.equal(v.kmsKeyId, KEY);
    });

    it("copies the AMI to each region from the home AMI, encrypted, deprecated, under the AMI's name", () => {
        const ami = named(new RegExp(`^${r}-ami$`)).inputs;
        assert.equal(ami.deprecationTime, DEPRECATE);
        const copies = all("aws:ec2/amiCopy:AmiCopy", "dist-");
        assert.deepEqual(copies.map((c) => c.name).sort(), [`${r}-copy-ap-southeast-2`, `${r}-copy-eu-central-1`], "copies belong to the registration");
        assert.deepEqual(copies.map((c) => c.inputs.region).sort(), ["ap-southeast-2", "eu-central-1"]);
        for (const c of copies) {
            assert.equal(c.inputs.sourceAmiId, `${r}-ami-id`, "a copy waits for (and is made from) the home AMI");
            assert.equal(c.inputs.sourceAmiRegion, "us-east-1");
            assert.match(String(c.inputs.name), /^arch-ami-[0-9a-f]{12}$|^dist-[0-9a-f]{12}$/);
            assert.notEqual(c.inputs.name, ami.name, "a copy has its own name: its key is ForceNew, a replacement must not clash");
            assert.equal(c.inputs.encrypted, true);
            assert.equal(c.inputs.deprecationTime, DEPRECATE);
            assert.equal((c.inputs.tags as Record<string, string>).team, "platform");
        }
        assert.equal(copies.find((c) => c.inputs.region === "ap-southeast-2")!.inputs.kmsKeyId, AP_KEY);
        assert.equal(copies.find((c) => c.inputs.region === "eu-central-1")!.inputs.kmsKeyId, EU_KEY);
    });

    it("grants launch permission on every copy to every principal, in that copy's region", () => {
        const perms = all("aws:ec2/amiLaunchPermission:AmiLaunchPermission", "dist-");
        assert.equal(perms.length, 3 * 3, "3 images x (account, organization, OU)");
        for (const [label, imageId, region] of [
            ["home", `${r}-ami-id`, undefined],
            ["eu-central-1", `${r}-copy-eu-central-1-id`, "eu-central-1"],
            ["ap-southeast-2", `${r}-copy-ap-southeast-2-id`, "ap-southeast-2"],
        ]) {
            const mine = perms.filter((p) => p.name.startsWith(`${r}-launch-${label}-`));
            assert.equal(mine.length, 3, label);
            for (const p of mine) {
                assert.equal(p.inputs.imageId, imageId, p.name);
                assert.equal(p.inputs.region, region, p.name);
            }
            assert.deepEqual(mine.map((p) => p.inputs.accountId ?? p.inputs.organizationArn ?? p.inputs.organizationalUnitArn).sort(), ["444455556666", ORG, OU].sort());
        }
        const snaps = all("aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission", "dist-");
        assert.equal(snaps.length, 3, "the shared account may create volumes from each image's snapshot");
        for (const s of snaps) assert.equal(s.inputs.accountId, "444455556666");
        assert.deepEqual(snaps.map((s) => s.name).sort(), ["ap-southeast-2", "eu-central-1", "home"].map((l) => `${r}-snapshot-${l}-account-444455556666`).sort());
        const home = snaps.find((s) => s.name === `${r}-snapshot-home-account-444455556666`)!;
        assert.match(String(home.inputs.snapshotId), /^dist-[0-9a-f]{12}-snapshot-id$/, "the home AMI's permission is on the build's snapshot");
    });

    it("publishes the AMI id in an aws:ec2:image SSM parameter in every region, one per component (not per registration)", () => {
        const params = all("aws:ssm/parameter:Parameter", "dist-");
        assert.deepEqual(params.map((p) => p.name).sort(), ["dist-ssm-ap-southeast-2", "dist-ssm-eu-central-1", "dist-ssm-home"]);
        for (const p of params) {
            const parent = optionsByName.get(p.name)?.parent as { __name?: string };
            assert.equal(parent.__name, "dist", `${p.name} belongs to the component, so it moves from registration to registration`);
        }
        assert.deepEqual(params.map((p) => p.inputs.region ?? "home").sort(), ["ap-southeast-2", "eu-central-1", "home"]);
        for (const p of params) {
            assert.equal(p.inputs.name, "/images/arch/latest");
            assert.equal(p.inputs.dataType, "aws:ec2:image");
            assert.equal(p.inputs.type, "String");
            assert.equal(p.inputs.value, undefined);
        }
        const home = params.find((p) => p.inputs.region === undefined)!.inputs.insecureValue;
        assert.deepEqual(unwrapSecret(home), [`${r}-ami-id`, false], "the AMI id is published as is, not as a secret");
        const eu = params.find((p) => p.inputs.region === "eu-central-1")!.inputs.insecureValue;
        assert.equal(eu, `${r}-copy-eu-central-1-id`);
    });

    it("replaces the parameter delete-first on a new value, so Create's read waits for the asynchronous aws:ec2:image validation", () => {
        // terraform-provider-aws internal/service/ssm/parameter.go: Read after Create retries NotFound for data
        // type aws:ec2:image; Update reads back at once and may store the previous value.
        for (const n of ["dist-ssm-home", "dist-ssm-eu-central-1", "dist-ssm-ap-southeast-2"]) {
            assert.deepEqual(optionsByName.get(n)?.replaceOnChanges, ["insecureValue"], n);
            assert.equal(capturedByTypeName.get(`aws:ssm/parameter:Parameter::${n}`)?.deleteBeforeReplace, true, n);
        }
    });

    it("outputs amiIds by region, the home region included", () => {
        assert.deepEqual(amiIds, { "us-east-1": `${r}-ami-id`, "eu-central-1": `${r}-copy-eu-central-1-id`, "ap-southeast-2": `${r}-copy-ap-southeast-2-id` });
        assert.equal(amiId, `${r}-ami-id`);
    });

    it("verifies on a test instance from the new AMI, as the default user with a pinned host key, before amiId resolves", () => {
        const inst = named(/^dist-[0-9a-f]{12}-verify-[0-9a-f]{12}-instance$/).inputs;
        assert.equal(inst.ami, `${r}-ami-id`);
        assert.equal(inst.instanceType, "t3.nano");
        assert.equal((inst.rootBlockDevice as Record<string, unknown>).volumeSize, 4 + 2, "a larger root than the image: the check sees it grow");
        assert.ok(unwrapSecret(inst.userData)[1], "user data with the host key is secret");
        const check = named(/^dist-[0-9a-f]{12}-verify-[0-9a-f]{12}-check$/);
        assert.ok(check.name.startsWith(`${r}-verify-`), "the check belongs to the registration");
        const conn = unwrapSecret(check.inputs.connection)[0] as Record<string, unknown>;
        assert.equal(conn.user, "arch");
        assert.match(String(conn.hostKey), /^ssh-ed25519 /);
        const script = Buffer.from(/echo (\S+) \| base64 -d > \/tmp\/arch-ami-verify\.sh/.exec(String(check.inputs.create))![1], "base64").toString();
        assert.match(script, /^#!\/usr\/bin\/env bash\n# verify\.sh/);
        assert.match(String(check.inputs.create), /'--packages' 'base linux'/);
        assert.match(String(check.inputs.create), /tail -n 20 \/tmp\/arch-ami-verify\.log >&2/);
        const end = events.find((e) => e.name === check.name && e.event === "end")!;
        assert.ok(amiIdAt >= end.at, `amiId resolved at ${amiIdAt}, before the check ended at ${end.at}`);
        assert.equal(inst.instanceInitiatedShutdownBehavior, "terminate");
        assert.equal((inst.rootBlockDevice as Record<string, unknown>).encrypted, true, "the image is encrypted: so is the test root");
    });

    it("copies, shares and publishes only after the verification", () => {
        const check = events.find((e) => /^dist-.*-verify-[0-9a-f]{12}-check$/.test(e.name) && e.event === "end")!;
        const exposing = events.filter((x) => x.event === "start" && (/^dist-[0-9a-f]{12}-(copy|launch|snapshot)-/.test(x.name) || /^dist-ssm-/.test(x.name)));
        assert.equal(exposing.length, 2 + 9 + 3 + 3, exposing.map((e) => e.name).join(", "));
        for (const e of exposing) {
            assert.ok(e.at >= check.at, `${e.name} started at ${e.at}, before the check ended (${check.at})`);
            assert.ok(dependsOnNames(e.name).includes(check.name), `${e.name} depends on the check: ${dependsOnNames(e.name)}`);
        }
    });
});

describe("verify: false", () => {
    it("creates no test instance; amiId is the AMI's id", async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("nover", { ...BASE_ARGS, verify: false });
        const id = await value(a.amiId);
        await settle();
        assert.equal(id, `${registrationOf("nover")}-ami-id`);
        assert.deepEqual(registered.filter((r) => r.name.startsWith("nover-") && r.name.includes("verify")), []);
    });
});

describe("retainImages with copies and sharing", () => {
    it("keeps the AMI, its copies, launch and create-volume permissions and the snapshot; not the test instance or the SSM parameter", async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi("kept", { ...BASE_ARGS, retainImages: true, regions: [{ region: "eu-west-1" }], sharing: { accountIds: ["444455556666"] }, ssmParameterName: "/images/kept" });
        await value(a.amiIds);
        await settle();
        const r = registrationOf("kept");
        const retained = [...capturedByTypeName.entries()].filter(([k, c]) => k.includes("::kept-") && c.retainOnDelete).map(([k]) => k.split("::")[1]).sort();
        assert.deepEqual(
            retained.map((n) => n.replace(r, "<r>").replace(/^kept-[0-9a-f]{12}-snapshot$/, "<build>-snapshot")).sort(),
            ["<r>-ami", "<r>-copy-eu-west-1", "<r>-launch-eu-west-1-account-444455556666", "<r>-launch-home-account-444455556666", "<r>-snapshot-eu-west-1-account-444455556666", "<r>-snapshot-home-account-444455556666", "<build>-snapshot"].sort(),
        );
    });
});

describe("public sharing", () => {
    it("grants group all on every image when acknowledged", async () => {
        const { ArchAmi } = await import("../../src");
        new ArchAmi("pub", { ...BASE_ARGS, regions: [{ region: "eu-west-1" }], sharing: { public: true, acknowledgePublic: true } });
        await settle();
        const perms = all("aws:ec2/amiLaunchPermission:AmiLaunchPermission", "pub-");
        assert.deepEqual(perms.map((p) => `${p.inputs.region ?? "home"} ${p.inputs.group}`).sort(), ["eu-west-1 all", "home all"]);
    });
});

describe("distribution arguments never change the build", () => {
    const hash = (a: ArchAmiArgs) => buildHash(resolveSettings("arch", { ...BASE_ARGS, ...a }));
    const h0 = hash({});
    for (const [what, a] of Object.entries({
        regions: { regions: [{ region: "eu-central-1" }] },
        sharing: { sharing: { accountIds: ["444455556666"] } },
        deprecationTime: { deprecationTime: "2027-01-01T00:00:00Z" },
        ssmParameterName: { ssmParameterName: "/x/y" },
        verify: { verify: false },
    } as Record<string, ArchAmiArgs>)) {
        it(`${what} keeps the build hash`, () => assert.equal(hash(a), h0));
    }
    it("encryption is part of the build (the volume is encrypted)", () => {
        assert.notEqual(hash({ encryption: {} }), h0);
        assert.notEqual(hash({ encryption: { kmsKeyId: KEY } }), hash({ encryption: {} }));
    });
    it("verify.sh is not part of the build hash (nor owned-paths, which only the component's validation reads)", async () => {
        const { NOT_IN_BUILD } = await import("../../src/identity");
        assert.deepEqual(NOT_IN_BUILD, ["verify.sh", "owned-paths"]);
    });
});

describe("distribution validation", () => {
    const cases: [string, ArchAmiArgs, RegExp][] = [
        ["encryption.kmsKeyId", { encryption: { kmsKeyId: "my key" } }, /KMS key ARN/],
        ["encryption.kmsKeyId", { encryption: { kmsKeyId: "alias/images" } }, /accepts no alias or bare id/],
        ["encryption.kmsKeyId", { encryption: { kmsKeyId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" } }, /KMS key ARN/],
        ["regions[0].region", { regions: [{ region: "Europe" }] }, /AWS region such as/],
        ["regions", { regions: [{ region: "eu-west-1" }, { region: "eu-west-1" }] }, /each region at most once/],
        ["regions[0].kmsKeyId", { regions: [{ region: "eu-west-1", kmsKeyId: "arn:aws:s3:::bucket" }] }, /KMS key ARN/],
        ["regions[0].kmsKeyId", { regions: [{ region: "eu-west-1", kmsKeyId: EU_KEY }] }, /a key in eu-west-1 .*this one is in eu-central-1/],
        ["regions[0].kmsKeyId", { regions: [{ region: "eu-central-1" }], encryption: { kmsKeyId: KEY }, sharing: { accountIds: ["111122223333"] } }, /customer managed key in eu-central-1/],
        ["sharing.accountIds", { sharing: { accountIds: ["12345"] } }, /12-digit AWS account ids/],
        ["sharing.accountIds", { sharing: { accountIds: ["111122223333", "111122223333"] } }, /at most once/],
        ["sharing.organizationArns", { sharing: { organizationArns: ["o-abcdefghij"] } }, /organization ARNs/],
        ["sharing.organizationalUnitArns", { sharing: { organizationalUnitArns: [ORG] } }, /OU ARNs/],
        ["sharing.acknowledgePublic", { sharing: { public: true } }, /true together with public: true/],
        ["sharing.public", { sharing: { public: true, acknowledgePublic: true }, encryption: {} }, /encrypted AMIs public/],
        ["deprecationTime", { deprecationTime: "2027-06-30" }, /RFC 3339 UTC/],
        ["deprecationTime", { deprecationTime: "2027-06-30T00:00:00+02:00" }, /RFC 3339 UTC/],
        ["deprecationTime", { deprecationTime: "2027-02-30T00:00:00Z" }, /RFC 3339 UTC/],
        ["deprecationTime", { deprecationTime: "2027-06-30T00:00Z" }, /with seconds/],
        ["deprecationTime", { deprecationTime: "2020-01-01T00:00:00Z" }, /at least an hour from now/],
        ["deprecationTime", { deprecationTime: "2099-01-01T00:00:00Z" }, /at most 10 years ahead/],
        ["ssmParameterName", { ssmParameterName: "/aws/service/arch" }, /not starting with aws or ssm/],
        ["ssmParameterName", { ssmParameterName: "images arch" }, /SSM parameter name/],
        ["verify", { verify: "yes" as unknown as boolean }, /true or false/],
    ];
    for (const [arg, bad, accepted] of cases) {
        it(`rejects ${arg} = ${JSON.stringify(bad).slice(0, 60)} before registering anything`, async () => {
            const { ArchAmi } = await import("../../src");
            const n = registered.length;
            assert.throws(
                () => new ArchAmi(`bad-${arg.replace(/[^a-z]/gi, "")}`, { ...BASE_ARGS, ...bad }),
                (e: unknown) => {
                    assert.ok(pulumi.ResourceError.isInstance(e));
                    assert.match((e as Error).message, new RegExp(`argument "${arg.replace(/[[\].]/g, "\\$&")}"`));
                    assert.match((e as Error).message, accepted);
                    assert.match((e as Error).message, /nothing was created/);
                    return true;
                },
            );
            await settle();
            assert.equal(registered.length, n);
        });
    }
    it("accepts a deprecation time in the first hour of a day, each minute and second read as written", async () => {
        const { resolveSettings: rs } = await import("../../src/settings");
        const year = new Date().getUTCFullYear() + 1;
        for (const t of [`${year}-03-01T00:30:00Z`, `${year}-03-01T00:00:45Z`, `${year}-01-01T00:59:59Z`]) {
            assert.equal(rs("deprecate", { ...BASE_ARGS, deprecationTime: t }).distribution.deprecationTime, t, t);
        }
    });
    it("rejects a copy to the home region when the home region is known", async () => {
        const { resolveSettings: rs } = await import("../../src/settings");
        const saved = process.env.AWS_REGION;
        process.env.AWS_REGION = "eu-west-1";
        try {
            assert.throws(() => rs("home", { ...BASE_ARGS, regions: [{ region: "eu-west-1" }] }), /other than the home region "eu-west-1"/);
        } finally {
            if (saved === undefined) delete process.env.AWS_REGION;
            else process.env.AWS_REGION = saved;
        }
    });
});

describe("the verification command line", () => {
    it("passes verify.sh's exit status through and prints the log's tail on failure (run by sh and bash)", async () => {
        const { verifyCommand } = await import("../../src/image/verify");
        const { spawnSync } = await import("node:child_process");
        for (const [script, code] of [
            ["echo ok: all; exit 0", 0],
            ["echo FAILED: x; exit 3", 3],
        ] as const) {
            for (const shell of ["sh", "bash"]) {
                const r = spawnSync(shell, ["-c", verifyCommand(script, ["--packages", "base"])], { encoding: "utf8" });
                assert.equal(r.status, code, `${shell}: ${script}`);
                if (code) assert.match(r.stderr, /verification of the new AMI failed \(verify\.sh exit 3\)[\s\S]*FAILED: x/);
                else assert.match(r.stdout, /ok: all/);
            }
        }
    });
});
