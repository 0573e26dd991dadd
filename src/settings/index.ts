// Every argument validated before the component registers anything: one module per concern (image,
// registration, builder, distribution), assembled here.
import { ArchAmiArgs } from "../args";
import { resolveBuilder } from "./builder";
import { resolveDistribution, resolveEncryption } from "./distribution";
import { resolveImage } from "./image";
import { resolveNamePrefix, resolveRegistration } from "./registration";
import { Settings } from "./types";

/** The constant defaults, generated from the TSDoc in args.ts (the one place they are written). */
export { DEFAULTS, NESTED_DEFAULTS } from "../argSpec";
export { ARCHIVE, FIRST_ZSTD_RELEASE } from "./image";
export { isCidr } from "./builder";
export * from "./types";

/**
 * Validates every argument and applies defaults. Throws a `pulumi.ResourceError` naming the argument and
 * what it accepts; it runs before the component registers anything.
 */
export function resolveSettings(resourceName: string, args: ArchAmiArgs): Settings {
    const r = resourceName;
    const amiNamePrefix = resolveNamePrefix(r, args);
    const { image, bootstrapMethod, bootstrapMirror, localPackagePaths } = resolveImage(r, args);
    const registration = resolveRegistration(r, args, amiNamePrefix, image);
    const builder = resolveBuilder(r, args);
    const encryption = resolveEncryption(r, args);
    const distribution = resolveDistribution(r, args, encryption);
    return { image, ...registration, ...builder, bootstrapMethod, bootstrapMirror, encryption, distribution, localPackagePaths };
}
