// Where the AMI goes and who may use it (src/settings/distribution.ts), at the edges of each rule: what is
// accepted is returned exactly as the component uses it, and what EC2 or SSM would refuse is refused first.
// Limits: EC2 RegisterImage/CopyImage refuse a DeprecationTime in the past or more than 10 years ahead (2 for
// public AMIs) (EC2 API reference, EnableImageDeprecation); SSM PutParameter: a name of at most 1011
// characters, at most 15 levels, not beginning with aws or ssm in any case (SSM API reference, PutParameter Name).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "../../src/args";
import { resolveSettings } from "../../src/settings";
import { BASE_ARGS } from "./harness";

const ORG = "arn:aws:organizations::111122223333:organization/o-abcdefghij";
const OU = "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefgh12";
const EU_KEY = "arn:aws:kms:eu-central-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef";
const HOME_KEY = "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

const resolve = (a: ArchAmiArgs) => resolveSettings("dist", { ...BASE_ARGS, ...a });
const refused = (a: ArchAmiArgs, arg: string, text: RegExp) =>
    assert.throws(
        () => resolve(a),
        (e: unknown) => {
            assert.ok(pulumi.ResourceError.isInstance(e), String(e));
            assert.match((e as Error).message, new RegExp(`argument "${arg.replace(/[[\].]/g, "\\$&")}"`));
            assert.match((e as Error).message, text);
            return true;
        },
    );
/** An RFC 3339 UTC time `ms` from now, with seconds. */
const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const HOUR = 3600 * 1000;
const YEAR = 365 * 24 * HOUR;

/** Runs `f` with Date.now() held at `t`. */
function withClock<T>(t: number, f: () => T): T {
    const real = Date.now;
    Date.now = () => t;
    try {
        return f();
    } finally {
        Date.now = real;
    }
}

function withAwsRegion<T>(region: string | undefined, f: () => T): T {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    if (region) process.env.AWS_DEFAULT_REGION = region;
    try {
        return f();
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }
}

describe("distribution settings, as resolved", () => {
    it("defaults: no copies, no sharing, no deprecation, no parameter, verified", () => {
        assert.deepEqual(resolve({}).distribution, {
            regions: [],
            sharing: { accountIds: [], organizationArns: [], organizationalUnitArns: [], public: false },
            deprecationTime: "",
            ssmParameterName: "",
            verify: true,
        });
        assert.deepEqual(resolve({}).encryption, { enabled: false, kmsKeyId: "" });
    });

    it("returns every accepted value as given", () => {
        const when = fromNow(30 * 24 * HOUR);
        const d = resolve({
            regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }, { region: "ap-southeast-2" }],
            sharing: { accountIds: ["111122223333", "444455556666"], organizationArns: [ORG], organizationalUnitArns: [OU] },
            deprecationTime: when,
            ssmParameterName: "/images/arch/latest",
            verify: false,
        }).distribution;
        assert.deepEqual(d, {
            regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }, { region: "ap-southeast-2", kmsKeyId: "" }],
            sharing: { accountIds: ["111122223333", "444455556666"], organizationArns: [ORG], organizationalUnitArns: [OU], public: false },
            deprecationTime: when,
            ssmParameterName: "/images/arch/latest",
            verify: false,
        });
    });

    it("public sharing, acknowledged, is public", () => {
        assert.equal(resolve({ sharing: { public: true, acknowledgePublic: true } }).distribution.sharing.public, true);
        refused({ sharing: { public: "yes" as unknown as boolean } }, "sharing.public", /true or false/);
        refused({ sharing: { public: true, acknowledgePublic: "yes" as unknown as boolean } }, "sharing.acknowledgePublic", /true together with public/);
    });

    it("encryption: {} is on with the default key; a key ARN is kept", () => {
        assert.deepEqual(resolve({ encryption: {} }).encryption, { enabled: true, kmsKeyId: "" });
        assert.deepEqual(withAwsRegion(undefined, () => resolve({ encryption: { kmsKeyId: EU_KEY } }).encryption), { enabled: true, kmsKeyId: EU_KEY });
    });

    it("a key must be in the home region when that is known, and any region when it is not", () => {
        withAwsRegion("us-east-1", () => {
            assert.equal(resolve({ encryption: { kmsKeyId: HOME_KEY } }).encryption.kmsKeyId, HOME_KEY);
            refused({ encryption: { kmsKeyId: EU_KEY } }, "encryption.kmsKeyId", /a key in us-east-1 \(KMS keys are regional; this one is in eu-central-1\)/);
        });
        withAwsRegion(undefined, () => assert.equal(resolve({ encryption: { kmsKeyId: HOME_KEY } }).encryption.kmsKeyId, HOME_KEY));
    });

    it("a copy to the home region is refused only when the home region is known", () => {
        withAwsRegion(undefined, () => assert.deepEqual(resolve({ regions: [{ region: "us-east-1" }] }).distribution.regions, [{ region: "us-east-1", kmsKeyId: "" }]));
        withAwsRegion("us-east-1", () => refused({ regions: [{ region: "us-east-1" }] }, "regions", /other than the home region "us-east-1"/));
        refused({ regions: "eu-west-1" as unknown as [] }, "regions", /a list of \{ region, kmsKeyId\? \}/);
    });
});

describe("sharing an encrypted image needs customer managed keys in every region", () => {
    const shared = { accountIds: ["111122223333"] };
    it("an unencrypted copy of an unencrypted image may be shared", () => {
        assert.equal(resolve({ regions: [{ region: "eu-central-1" }], sharing: shared }).distribution.regions[0].kmsKeyId, "");
    });
    it("a copy encrypted under the region's AWS-managed key may not (encrypted image, no key for the copy)", () => {
        refused({ regions: [{ region: "eu-central-1" }], sharing: shared, encryption: { kmsKeyId: HOME_KEY } }, "regions[0].kmsKeyId", /customer managed key in eu-central-1/);
    });
    it("a copy with its own key may be, and without sharing no key is needed", () => {
        withAwsRegion("us-east-1", () => {
            assert.equal(resolve({ regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }], sharing: shared, encryption: { kmsKeyId: HOME_KEY } }).distribution.regions[0].kmsKeyId, EU_KEY);
            assert.equal(resolve({ regions: [{ region: "eu-central-1" }], encryption: { kmsKeyId: HOME_KEY } }).distribution.regions[0].kmsKeyId, "");
        });
        for (const sharing of [{ organizationArns: [ORG] }, { organizationalUnitArns: [OU] }]) {
            refused({ regions: [{ region: "eu-central-1" }], sharing, encryption: {} }, "regions[0].kmsKeyId", /customer managed key/);
        }
    });
    it("a public image cannot be encrypted, nor have an encrypted copy", () => {
        refused({ sharing: { public: true, acknowledgePublic: true }, regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }] }, "sharing.public", /AWS does not make encrypted AMIs public/);
    });
    it("duplicates are refused per list", () => {
        refused({ sharing: { organizationArns: [ORG, ORG] } }, "sharing.organizationArns", /each entry at most once/);
        refused({ sharing: { organizationalUnitArns: [OU, OU] } }, "sharing.organizationalUnitArns", /each entry at most once/);
        refused({ sharing: { organizationalUnitArns: ["ou-ab12-cdefgh12"] } }, "sharing.organizationalUnitArns", /OU ARNs/);
    });
});

describe("deprecation time, at EC2's limits", () => {
    it("a real UTC date-time with seconds; no 24th hour, no 60th minute or second, no 31st of a 30-day month", () => {
        const year = new Date(Date.now() + YEAR).getUTCFullYear();
        assert.equal(resolve({ deprecationTime: `${year}-06-30T23:59:59Z` }).distribution.deprecationTime, `${year}-06-30T23:59:59Z`);
        // The first second of a month, past midnight: a seconds field read with the wrong sign lands in the month before.
        assert.equal(resolve({ deprecationTime: `${year}-07-01T00:00:30Z` }).distribution.deprecationTime, `${year}-07-01T00:00:30Z`);
        for (const bad of [`${year}-06-10T24:00:00Z`, `${year}-06-10T99:00:00Z`, `${year}-06-30T10:60:00Z`, `${year}-06-30T10:00:60Z`, `${year}-06-31T10:00:00Z`, `${year}-13-01T10:00:00Z`, `x${year}-06-30T10:00:00Z`, `${year}-06-30T10:00:00Zx`]) {
            refused({ deprecationTime: bad }, "deprecationTime", /an RFC 3339 UTC time with seconds/);
        }
    });
    it("at least an hour from now", () => {
        refused({ deprecationTime: fromNow(HOUR - 5 * 60 * 1000) }, "deprecationTime", /at least an hour from now and at most 10 years ahead;/);
        assert.ok(resolve({ deprecationTime: fromNow(HOUR + 5 * 60 * 1000) }));
    });
    it("exactly an hour from now is too soon, a second later is not; exactly 10 years ahead is too far", () => {
        // EC2's rule is strict at both ends here (more than an hour ahead, less than the limit): the clock is
        // held at a whole second so the given time is the limit to the millisecond.
        const now = Math.floor(Date.now() / 1000) * 1000 + 7 * 24 * HOUR;
        const iso = (t: number) => new Date(t).toISOString().replace(/\.000Z$/, "Z");
        withClock(now, () => {
            refused({ deprecationTime: iso(now + HOUR) }, "deprecationTime", /at least an hour from now/);
            assert.equal(resolve({ deprecationTime: iso(now + HOUR + 1000) }).distribution.deprecationTime, iso(now + HOUR + 1000));
            refused({ deprecationTime: iso(now + 10 * YEAR) }, "deprecationTime", /at most 10 years ahead/);
            assert.equal(resolve({ deprecationTime: iso(now + 10 * YEAR - 1000) }).distribution.deprecationTime, iso(now + 10 * YEAR - 1000));
        });
    });
    it("at most 10 years ahead, 2 for a public image", () => {
        assert.ok(resolve({ deprecationTime: fromNow(10 * YEAR - 24 * HOUR) }));
        refused({ deprecationTime: fromNow(10 * YEAR + 24 * HOUR) }, "deprecationTime", /at most 10 years ahead;/);
        const pub = { sharing: { public: true, acknowledgePublic: true } };
        assert.ok(resolve({ ...pub, deprecationTime: fromNow(2 * YEAR - 24 * HOUR) }));
        refused({ ...pub, deprecationTime: fromNow(2 * YEAR + 24 * HOUR) }, "deprecationTime", /at most 2 years ahead \(public AMIs\); EC2 refuses others/);
        assert.ok(resolve({ deprecationTime: fromNow(3 * YEAR) }), "3 years is fine for a private image");
    });
});

describe("SSM parameter name, at SSM's limits", () => {
    it("1011 characters and 15 levels are accepted; one more of either is refused", () => {
        const long = "/" + "a".repeat(1010);
        assert.equal(resolve({ ssmParameterName: long }).distribution.ssmParameterName, long);
        refused({ ssmParameterName: long + "a" }, "ssmParameterName", /SSM parameter name/);
        const deep = "/a".repeat(15);
        assert.equal(resolve({ ssmParameterName: deep }).distribution.ssmParameterName, deep);
        refused({ ssmParameterName: deep + "/a" }, "ssmParameterName", /at most 15 levels/);
    });
    it("no aws or ssm prefix in any case, with or without the leading slash; elsewhere in the name is fine", () => {
        for (const bad of ["ssm-images", "/SSM/images", "AWS", "/Aws/x"]) refused({ ssmParameterName: bad }, "ssmParameterName", /not starting with aws or ssm/);
        for (const ok of ["images-aws", "/images/ssm", "latest"]) assert.equal(resolve({ ssmParameterName: ok }).distribution.ssmParameterName, ok);
        refused({ ssmParameterName: "/images/" }, "ssmParameterName", /SSM parameter name/);
        // A hierarchy starts with "/": SSM refuses "images/arch" (a name with a "/" must be fully qualified).
        refused({ ssmParameterName: "images/arch" }, "ssmParameterName", /SSM parameter name/);
    });
});

describe("identifiers, whole and in every partition", () => {
    it("a region is a whole region name, of any number of parts", () => {
        withAwsRegion(undefined, () => assert.equal(resolve({ regions: [{ region: "us-gov-west-1" }] }).distribution.regions[0].region, "us-gov-west-1"));
        for (const bad of ["1eu-central-1", "eu-central-1x"]) refused({ regions: [{ region: bad }] }, "regions[0].region", /AWS region such as/);
    });
    it("an account id is exactly 12 digits", () => {
        for (const bad of ["1111222233334", "x111122223333", "111122223333x"]) refused({ sharing: { accountIds: [bad] } }, "sharing.accountIds", /12-digit AWS account ids/);
    });
    it("organization and OU ARNs are whole ARNs, in any partition", () => {
        const cnOrg = ORG.replace("arn:aws:", "arn:aws-cn:");
        const cnOu = OU.replace("arn:aws:", "arn:aws-cn:");
        assert.deepEqual(resolve({ sharing: { organizationArns: [cnOrg], organizationalUnitArns: [cnOu] } }).distribution.sharing, {
            accountIds: [],
            organizationArns: [cnOrg],
            organizationalUnitArns: [cnOu],
            public: false,
        });
        for (const bad of [`x${ORG}`, `${ORG}/x`]) refused({ sharing: { organizationArns: [bad] } }, "sharing.organizationArns", /organization ARNs/);
        for (const bad of [`x${OU}`, `${OU}/x`]) refused({ sharing: { organizationalUnitArns: [bad] } }, "sharing.organizationalUnitArns", /OU ARNs/);
    });
});

describe("the home region and the key ARNs", () => {
    it("the stack's aws:region comes before AWS_REGION and AWS_DEFAULT_REGION", () => {
        // homeRegion() reads the aws provider's own config first, as the provider does (pulumi-aws: region
        // from config, else the environment).
        const saved = pulumi.runtime.allConfig();
        try {
            pulumi.runtime.setConfig("aws:region", "eu-west-1");
            withAwsRegion("us-east-1", () => {
                refused({ regions: [{ region: "eu-west-1" }] }, "regions", /other than the home region "eu-west-1"/);
                assert.deepEqual(resolve({ regions: [{ region: "us-east-1" }] }).distribution.regions, [{ region: "us-east-1", kmsKeyId: "" }]);
            });
        } finally {
            pulumi.runtime.setAllConfig(saved);
        }
    });
    it("a key ARN is whole, in any partition", () => {
        const gov = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        withAwsRegion("us-gov-west-1", () => assert.equal(resolve({ encryption: { kmsKeyId: gov } }).encryption.kmsKeyId, gov));
        withAwsRegion(undefined, () => {
            for (const bad of [`x${HOME_KEY}`, `${HOME_KEY}x`, HOME_KEY.replace("arn:aws:", "arn:aws1:")]) {
                refused({ encryption: { kmsKeyId: bad } }, "encryption.kmsKeyId", /a KMS key ARN/);
            }
        });
    });
});

describe("a value of the wrong kind is refused by its own name", () => {
    const wrong = 42 as unknown as never;
    it("each object, list and string argument", () => {
        refused({ encryption: wrong }, "encryption", /an object of plain values/);
        refused({ sharing: wrong }, "sharing", /an object of plain values/);
        refused({ regions: [wrong] }, "regions[0]", /an object of plain values/);
        refused({ regions: [{ region: "eu-central-1" }, wrong] }, "regions[1]", /an object of plain values/);
        refused({ sharing: { accountIds: wrong } }, "sharing.accountIds", /a list of strings/);
        refused({ deprecationTime: wrong }, "deprecationTime", /a plain string/);
        refused({ ssmParameterName: wrong }, "ssmParameterName", /a plain string/);
    });
});
