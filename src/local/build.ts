// arch-ami build-local (in progress).
import { UsageError } from "./prerequisites";

export async function main(argv: string[]): Promise<number> {
    throw new UsageError(`build-local: not implemented yet (${argv.join(" ")})`);
}
