// Runs the default program (program/index.ts) under mocks and prints every registered resource with its
// inputs as JSON, sorted. Used by determinism.test.ts to compare whole runs byte for byte.
import { installMocks, registered, settle } from "./harness";

installMocks({ tarballPath: process.env.ARCH_AMI_TEST_TARBALL_PATH });

void (async () => {
    await import("../../program");
    await settle();
    const resources = registered
        .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }))
        .sort((a, b) => `${a.type} ${a.name}`.localeCompare(`${b.type} ${b.name}`));
    process.stdout.write(JSON.stringify(resources, null, 1));
})();
