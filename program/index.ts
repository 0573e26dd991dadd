// The default program (Pulumi.yaml): one ArchAmi configured from stack config under "arch-ami:", every
// argument by its own name (argsFromStackConfig, driven by src/args.ts; README "Configuration").
import { ArchAmi, argsFromStackConfig } from "../src";

const arch = new ArchAmi("arch", argsFromStackConfig("arch-ami"));

export const amiId = arch.amiId;
export const amiIds = arch.amiIds;
export const amiName = arch.amiName;
export const snapshotId = arch.snapshotId;
export const builderInstanceId = arch.builderInstanceId;
export const buildHash = arch.buildHash;
