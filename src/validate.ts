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

export function stringList(resourceName: string, arg: string, v: unknown): string[] | undefined {
    if (v === undefined) {
        return undefined;
    }
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
    check(resourceName, arg, v, { ok: typeof v === "string", expected: "a plain string (not an Output)" });
    return v as string;
}

export function plainObject(resourceName: string, arg: string, v: unknown): Record<string, unknown> | undefined {
    if (v === undefined) {
        return undefined;
    }
    check(resourceName, arg, v, { ok: typeof v === "object" && v !== null && !Array.isArray(v), expected: "an object of plain values" });
    return v as Record<string, unknown>;
}
