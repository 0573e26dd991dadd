import { ArchAmi } from "./archAmi";

export { ArchAmi };
export * from "./args";
export { ARGUMENT_KINDS, DEFAULTS } from "./argSpec";
export { argsFromStackConfig } from "./stackConfig";
