// The checks every argument goes through: a failure is a pulumi.ResourceError naming the argument, what it
// accepts and that nothing was created (validation runs before the component registers anything).
import * as pulumi from "@pulumi/pulumi";

export type Check = { ok: boolean; expected: string };

export function fail(resourceName: string, arg: string, expected: string, got: unknown): never {
    throw new pulumi.ResourceError(
        `ArchAmi "${resourceName}": argument "${arg}" is invalid: got ${JSON.stringify(got)}; ` +
            `expected ${expected}. Fix "${arg}" and run again (nothing was created).`,
        undefined,
        true,
    );
}

export function check(resourceName: string, arg: string, value: unknown, c: Check): void {
    if (!c.ok) {
        fail(resourceName, arg, c.expected, value);
    }
}

export function oneOf<T extends string>(values: Record<string, T>, v: unknown): Check {
    const accepted = Object.values(values);
    return { ok: accepted.includes(v as T), expected: `one of ${accepted.map((a) => `"${a}"`).join(", ")}` };
}

/**
 * Why an argument that shapes the image must be a plain value: a Pulumi Output (a secret, or a value that
 * depends on other resources; the component provider also passes such values as Outputs) is not known
 * when the build's identity is computed, and a secret must never be baked into an image.
 */
export const PLAIN_VALUE_ADVICE =
    "a plain value known before deployment. A Pulumi Output cannot be used: the build's identity is computed from " +
    "it before anything runs; and a secret must never be baked into an image, because everyone who can launch the " +
    "AMI (and anyone it is shared with) can read every file in it. Fetch secrets at boot instead (user data, SSM " +
    "Parameter Store, Secrets Manager)";

/** Refuses a Pulumi Output (secret or not) with PLAIN_VALUE_ADVICE, never printing its value. */
export function notOutput(resourceName: string, arg: string, v: unknown): void {
    if (pulumi.Output.isInstance(v)) {
        fail(resourceName, arg, PLAIN_VALUE_ADVICE, "a Pulumi Output (possibly a secret)");
    }
}

export function stringList(resourceName: string, arg: string, v: unknown): string[] | undefined {
    if (v === undefined) {
        return undefined;
    }
    notOutput(resourceName, arg, v);
    if (Array.isArray(v)) v.forEach((x, i) => notOutput(resourceName, `${arg}[${i}]`, x));
    check(resourceName, arg, v, {
        ok: Array.isArray(v) && v.every((x) => typeof x === "string"),
        expected: "a list of strings",
    });
    return v as string[];
}

export function plainString(resourceName: string, arg: string, v: unknown): string | undefined {
    if (v === undefined) {
        return undefined;
    }
    notOutput(resourceName, arg, v);
    check(resourceName, arg, v, { ok: typeof v === "string", expected: "a plain string (not an Output)" });
    return v as string;
}

export function plainObject(resourceName: string, arg: string, v: unknown): Record<string, unknown> | undefined {
    if (v === undefined) {
        return undefined;
    }
    notOutput(resourceName, arg, v);
    check(resourceName, arg, v, { ok: typeof v === "object" && v !== null && !Array.isArray(v), expected: "an object of plain values" });
    return v as Record<string, unknown>;
}
