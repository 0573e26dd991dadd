// The argument checks every validator is built from (src/validate.ts), called directly: the exact error a
// user sees for each kind of wrong value, and that a Pulumi Output is refused before its kind is looked at.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { installMocks } from "./harness";
import { PLAIN_VALUE_ADVICE, plainObject, plainString, stringList } from "../../src/validate";

installMocks();

const invalid = (arg: string, got: string, expected: string) =>
    `ArchAmi "arch": argument "${arg}" is invalid: got ${got}; expected ${expected}. Fix "${arg}" and run again (nothing was created).`;

/** Runs F, which must throw a ResourceError with exactly MESSAGE and no stack trace (the user's mistake, not ours). */
function refuses(f: () => unknown, message: string) {
    assert.throws(f, (e: unknown) => {
        assert.ok(pulumi.ResourceError.isInstance(e), String(e));
        assert.equal((e as pulumi.ResourceError).message, message);
        assert.equal((e as pulumi.ResourceError).hideStack, true, "the CLI prints the message without our stack");
        return true;
    });
}

describe("validate: the building blocks", () => {
    it("explains why an Output cannot shape an image, never showing its value", () => {
        assert.equal(
            PLAIN_VALUE_ADVICE,
            "a plain value known before deployment. A Pulumi Output cannot be used: the build's identity is computed from it before anything " +
                "runs; and a secret must never be baked into an image, because everyone who can launch the AMI (and anyone it is shared with) " +
                "can read every file in it. Fetch secrets at boot instead (user data, SSM Parameter Store, Secrets Manager)",
        );
        const output = invalid("x", '"a Pulumi Output (possibly a secret)"', PLAIN_VALUE_ADVICE);
        refuses(() => stringList("arch", "x", pulumi.secret(["hunter2"])), output);
        refuses(() => plainString("arch", "x", pulumi.secret("hunter2")), output);
        refuses(() => plainObject("arch", "x", pulumi.output({ a: "1" })), output);
        refuses(() => stringList("arch", "x", ["a", pulumi.secret("hunter2")]), invalid("x[1]", '"a Pulumi Output (possibly a secret)"', PLAIN_VALUE_ADVICE));
    });

    it("stringList takes a list of strings and nothing else", () => {
        assert.deepEqual(stringList("arch", "x", ["a", "b"]), ["a", "b"]);
        assert.deepEqual(stringList("arch", "x", []), []);
        assert.equal(stringList("arch", "x", undefined), undefined);
        refuses(() => stringList("arch", "x", ["a", 1]), invalid("x", '["a",1]', "a list of strings"));
        refuses(() => stringList("arch", "x", "a"), invalid("x", '"a"', "a list of strings"));
    });

    it("plainString takes a string and nothing else", () => {
        assert.equal(plainString("arch", "x", "a"), "a");
        assert.equal(plainString("arch", "x", undefined), undefined);
        refuses(() => plainString("arch", "x", 1), invalid("x", "1", "a plain string (not an Output)"));
    });

    it("plainObject takes an object, not an array or null", () => {
        assert.deepEqual(plainObject("arch", "x", { a: 1 }), { a: 1 });
        assert.equal(plainObject("arch", "x", undefined), undefined);
        refuses(() => plainObject("arch", "x", ["a"]), invalid("x", '["a"]', "an object of plain values"));
        refuses(() => plainObject("arch", "x", null), invalid("x", "null", "an object of plain values"));
        refuses(() => plainObject("arch", "x", "a"), invalid("x", '"a"', "an object of plain values"));
    });
});
