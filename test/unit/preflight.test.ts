// The preflight under mocks: EBS encryption by default (aws.ebs.getEncryptionByDefault), the account's default
// EBS key (getDefaultKmsKey) and whether it is AWS-managed (kms getKey keyManager), the enabled regions
// (getRegions), answered both ways. A refusal names the argument and the fix, and nothing is created: every
// resource of the component waits for the preflight.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { BASE_ARGS, ENABLED_REGIONS, MockOptions, installMocks, registered, settle, unwrapSecret, value } from "./harness";
import { ArchAmiArgs } from "../../src/args";

// The home region is what the provider reports (the mocks answer us-east-1); the static check is not used here.
delete process.env.AWS_REGION;
delete process.env.AWS_DEFAULT_REGION;

// A refusal rejects the component's outputs, and its registerOutputs rejects too: the Pulumi language host
// reports such a rejection and fails the program (that is how the user sees the error). Here those
// rejections are collected and checked instead of failing whichever test runs when they arrive. Any other
// rejection is kept too, and the tests assert there was none: thrown from the listener it would end the test
// process under node:test, and leave Vitest's worker (the mutation run) waiting until Stryker's timeout.
const rejections: string[] = [];
const unexpected: string[] = [];
function collectRefusals(): void {
    // The test runner installs its own listener when the first suite starts, so this runs in `before`.
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", (e) => {
        const message = e instanceof Error ? e.message : String(e);
        (/cannot work in this account/.test(message) ? rejections : unexpected).push(message);
    });
}

const COMPONENTS = ["arch-ami:index:ArchAmi", "arch-ami:index:ArchAmiBuild", "arch-ami:index:ArchAmiImage"];
const CMK = "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
/** The ARN of an account's aws/ebs key: a key ARN like any other, only DescribeKey tells it is AWS-managed. */
const AWS_EBS_ARN = "arn:aws:kms:us-east-1:111122223333:key/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const KEY_FIX =
    "Set encryption.kmsKeyId to a customer managed key in the home region and grant the shared accounts kms:DescribeKey, kms:CreateGrant, kms:Decrypt, kms:ReEncrypt* and kms:GenerateDataKey* on it";
const EU_CMK = "arn:aws:kms:eu-central-1:111122223333:key/1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

/** The rejection of an Output (Output.promise is what the SDK awaits too). */
async function rejection(o: pulumi.Output<unknown>): Promise<Error> {
    try {
        await (o as unknown as { promise(): Promise<unknown> }).promise();
    } catch (e) {
        return e as Error;
    }
    assert.fail("the output resolved: nothing was refused");
}

/** Each refusal: what, the mocks' answers, the arguments, the argument named, and the message after "cannot work in this account: ". */
const refusals: [string, MockOptions, ArchAmiArgs, string, string][] = [
    [
        "public sharing with EBS encryption by default",
        { encryptedByDefault: true },
        { sharing: { public: true, acknowledgePublic: true } },
        "sharing.public",
        "EBS encryption by default is enabled in us-east-1, so the snapshot and the AMI are encrypted, and AWS does not make encrypted AMIs public. " +
            "Share with accounts or organizations under a customer managed key (encryption.kmsKeyId) instead, or build in a region without encryption by default",
    ],
    [
        "account sharing under the AWS-managed default key",
        { encryptedByDefault: true },
        { sharing: { accountIds: ["444455556666"] } },
        "encryption.kmsKeyId",
        `the snapshot would be encrypted with the AWS-managed key alias/aws/ebs, which AWS does not let the accounts, organizations or OUs in "sharing" use. ${KEY_FIX}`,
    ],
    [
        "organization sharing with encryption and no kmsKeyId",
        {},
        { encryption: {}, sharing: { organizationArns: ["arn:aws:organizations::111122223333:organization/o-abcdefghij"] } },
        "encryption.kmsKeyId",
        `the snapshot would be encrypted with the AWS-managed key alias/aws/ebs, which AWS does not let the accounts, organizations or OUs in "sharing" use. ${KEY_FIX}`,
    ],
    [
        "OU sharing under an explicit key ARN that is aws/ebs",
        { awsManagedKeys: [AWS_EBS_ARN] },
        { encryption: { kmsKeyId: AWS_EBS_ARN }, sharing: { organizationalUnitArns: ["arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-abcd-12345678"] } },
        "encryption.kmsKeyId",
        `the snapshot would be encrypted with the AWS-managed key ${AWS_EBS_ARN}, which AWS does not let the accounts, organizations or OUs in "sharing" use. ${KEY_FIX}`,
    ],
    [
        "a copy without a key of an image encrypted by default and shared",
        { encryptedByDefault: true, defaultKmsKey: CMK },
        { regions: [{ region: "eu-central-1" }], sharing: { accountIds: ["444455556666"] } },
        "regions[0].kmsKeyId",
        "the image is encrypted (EBS encryption by default in us-east-1), so the copy in eu-central-1 is encrypted with that region's aws/ebs key, which cannot be shared. " +
            "Set regions[0].kmsKeyId to a customer managed key in eu-central-1",
    ],
    [
        "a region the partition does not have",
        // DescribeRegions answers in no promised order; the message lists them sorted.
        { enabledRegions: ["us-west-2", "eu-west-1", "us-east-1"] },
        { regions: [{ region: "mars-north-1" }] },
        "regions[0].region",
        '"mars-north-1" is not a region enabled for this account (enabled: eu-west-1, us-east-1, us-west-2). ' +
            "Fix the name, or enable the opt-in region (aws account enable-region) before copying to it",
    ],
    [
        "an opt-in region not enabled",
        {},
        { regions: [{ region: "eu-central-1" }, { region: "ap-east-1" }] },
        "regions[1].region",
        `"ap-east-1" is not a region enabled for this account (enabled: ${ENABLED_REGIONS.join(", ")}). ` +
            "Fix the name, or enable the opt-in region (aws account enable-region) before copying to it",
    ],
    ["the home region as a copy", {}, { regions: [{ region: "us-east-1" }] }, "regions[0].region", '"us-east-1" is the home region, where the AMI itself is registered. Remove it from regions'],
];

describe("preflight refusals: before anything is created", () => {
    before(collectRefusals);
    for (const [what, mocks, args, arg, message] of refusals) {
        it(`refuses ${what} (${arg})`, async () => {
            installMocks(mocks);
            const { ArchAmi } = await import("../../src");
            const n = `pf${refusals.findIndex((c) => c[0] === what)}`;
            const before = registered.length;
            const arch = new ArchAmi(n, { ...BASE_ARGS, ...args });
            const e = await rejection(arch.amiId);
            assert.ok(pulumi.ResourceError.isInstance(e), `a pulumi.ResourceError: ${e}`);
            // The SDK prefixes the path of the output the rejection travelled through (error serializing property …).
            assert.equal(e.message.replace(/^(error serializing property "\w+": )+/, ""), `ArchAmi "${n}": argument "${arg}" cannot work in this account: ${message} (nothing was created).`);
            assert.equal((e as pulumi.ResourceError).hideStack, true, "the CLI prints the message without our stack");
            await settle();
            const created = registered.slice(before).filter((r) => !COMPONENTS.includes(r.type));
            assert.deepEqual(created.map((r) => `${r.type} ${r.name}`), [], "nothing but component resources is registered");
            assert.ok(registered.slice(before).some((r) => r.type === "arch-ami:index:ArchAmi"), "the component itself was constructed");
            assert.ok(rejections.length > 0 && rejections.every((m) => m.includes("cannot work in this account")), "what the program reports is the refusal");
            assert.deepEqual(unexpected, [], "the program reports nothing but the refusal");
        });
    }
});

/** Runs one component under these mocks and returns its resources by role (the name after `<n>-<12 hex>-`). */
async function run(n: string, mocks: MockOptions, args: ArchAmiArgs) {
    installMocks(mocks);
    const { ArchAmi } = await import("../../src");
    const arch = new ArchAmi(n, { ...BASE_ARGS, ...args });
    const amiIds = await value(arch.amiIds);
    await settle();
    assert.deepEqual(unexpected, [], "the program reports no rejection");
    const mine = registered.filter((r) => r.name.startsWith(`${n}-`));
    const one = (re: RegExp) => {
        const found = mine.filter((r) => re.test(r.name));
        assert.equal(found.length, 1, `${re}: ${found.map((r) => r.name).join(", ")}`);
        return found[0].inputs;
    };
    return { amiIds, buildHash: await value(arch.buildHash), one, mine };
}

describe("EBS encryption by default", () => {
    before(collectRefusals);
    it("on: the test instance's root and every copy are encrypted, the build is unchanged, and sharing under a customer managed default key passes", async () => {
        const on = await run("ebson", { encryptedByDefault: true, defaultKmsKey: CMK }, { regions: [{ region: "eu-central-1", kmsKeyId: EU_CMK }], sharing: { accountIds: ["444455556666"] } });
        const off = await run("ebsoff", { encryptedByDefault: false }, { regions: [{ region: "eu-central-1", kmsKeyId: EU_CMK }], sharing: { accountIds: ["444455556666"] } });
        assert.equal(on.buildHash, off.buildHash, "encryption by default is the account's, not the build's: the same build");
        assert.equal((on.one(/-verify-[0-9a-f]{12}-instance$/).rootBlockDevice as Record<string, unknown>).encrypted, true);
        assert.equal(on.one(/-copy-eu-central-1$/).encrypted, true);
        assert.equal(on.one(/-copy-eu-central-1$/).kmsKeyId, EU_CMK);
        assert.ok(on.mine.some((r) => /-launch-home-account-444455556666$/.test(r.name)), "shared");
        assert.deepEqual(Object.keys(on.amiIds).sort(), ["eu-central-1", "us-east-1"]);
        // off: a copy is only encrypted because it has its own key.
        assert.equal((off.one(/-verify-[0-9a-f]{12}-instance$/).rootBlockDevice as Record<string, unknown>).encrypted, undefined);
    });

    it("off, no key: copies and the test instance are not encrypted; on, no key: both are", async () => {
        const off = await run("plainoff", { encryptedByDefault: false }, { regions: [{ region: "eu-west-1" }] });
        assert.equal(off.one(/-copy-eu-west-1$/).encrypted, false);
        assert.equal(off.one(/-copy-eu-west-1$/).kmsKeyId, undefined);
        const on = await run("plainon", { encryptedByDefault: true }, { regions: [{ region: "eu-west-1" }] });
        assert.equal(on.one(/-copy-eu-west-1$/).encrypted, true, "a copy of an encrypted AMI is encrypted");
        assert.equal((on.one(/-verify-[0-9a-f]{12}-instance$/).rootBlockDevice as Record<string, unknown>).encrypted, true);
        assert.notEqual(on.one(/-copy-eu-west-1$/).name, off.one(/-copy-eu-west-1$/).name, "an encrypted copy has another name than a plain one");
    });

    it("public sharing without encryption by default passes", async () => {
        const pub = await run("pubok", { encryptedByDefault: false }, { sharing: { public: true, acknowledgePublic: true } });
        assert.equal(pub.one(/-launch-home-public$/).group, "all");
        assert.deepEqual(unwrapSecret(pub.one(/-launch-home-public$/).imageId), [pub.amiIds["us-east-1"], false]);
    });
});
