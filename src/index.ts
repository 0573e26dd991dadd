import { ArchAmi } from "./archAmi";
import { ArchAmiArgs, BootMode, BootstrapMethod, Filesystem, Kernel } from "./args";

export { ArchAmi, ArchAmiArgs, BootMode, BootstrapMethod, Filesystem, Kernel };
