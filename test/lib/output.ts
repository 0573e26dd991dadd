// Where the tests keep their artifacts (serial logs, metadata request logs) for diagnosis.
import * as fs from "node:fs";
import * as path from "node:path";

/** ARCH_AMI_TEST_OUTPUT, or test-output/ in the repository. */
export const TEST_OUTPUT = process.env.ARCH_AMI_TEST_OUTPUT ?? path.resolve(__dirname, "../../test-output");

/** A path below TEST_OUTPUT, its folder created. */
export function outputPath(...parts: string[]): string {
    const p = path.join(TEST_OUTPUT, ...parts);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    return p;
}
