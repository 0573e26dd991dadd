// arch-ami boot-local (in progress).
import { UsageError } from "./prerequisites";

export async function main(argv: string[]): Promise<number> {
    throw new UsageError(`boot-local: not implemented yet (${argv.join(" ")})`);
}
