// Validation of the arguments that decide how the AMI is registered and kept (name, description, boot mode,
// TPM, retention): a change re-registers from the same snapshot, never a new build.
import { ArchAmiArgs, BootMode } from "../args";
import { DEFAULTS } from "../argSpec";
import { check, oneOf, plainString } from "../validate";
import { ImageSettings, NAME_HASH_LENGTH } from "./types";

const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]+$/;

export interface RegistrationSettings {
    amiNamePrefix: string;
    description: string;
    bootMode: BootMode;
    tpmSupport: boolean;
    retainImages: boolean;
}

/** The AMI name prefix, checked first: every other message names the component. */
export function resolveNamePrefix(r: string, args: ArchAmiArgs): string {
    const s = (arg: keyof ArchAmiArgs) => plainString(r, arg, args[arg]);
    const namePrefix = s("name") ?? r;
    check(r, "name", namePrefix, {
        ok: namePrefix.length >= 3 && namePrefix.length <= 128 - NAME_HASH_LENGTH - 1 && AMI_NAME.test(namePrefix),
        expected: `3 to ${128 - NAME_HASH_LENGTH - 1} characters of A-Z a-z 0-9 ( ) [ ] space . / - ' @ _ (the build hash is appended)`,
    });
    return namePrefix;
}

/** Validates the registration's arguments; the default description names the image's kernel and filesystem. */
export function resolveRegistration(r: string, args: ArchAmiArgs, amiNamePrefix: string, image: ImageSettings): RegistrationSettings {
    const s = (arg: keyof ArchAmiArgs) => plainString(r, arg, args[arg]);
    const { kernel, filesystem } = image;
    const bootMode = args.bootMode ?? DEFAULTS.bootMode;
    check(r, "bootMode", bootMode, oneOf(BootMode, bootMode));
    const tpmSupport = args.tpmSupport ?? DEFAULTS.tpmSupport;
    check(r, "tpmSupport", tpmSupport, {
        ok: typeof tpmSupport === "boolean" && !(tpmSupport && bootMode === BootMode.LegacyBios),
        expected: `false, or true only with bootMode "uefi" or "uefi-preferred" (NitroTPM needs UEFI; bootMode is "${bootMode}")`,
    });
    const description = s("description") ?? `Arch Linux (${kernel}, ${filesystem}) built by arch-ami`;
    check(r, "description", description, { ok: description.length <= 255, expected: "at most 255 characters" });
    const retainImages = args.retainImages ?? DEFAULTS.retainImages;
    check(r, "retainImages", retainImages, { ok: typeof retainImages === "boolean", expected: "true or false" });
    return { amiNamePrefix, description, bootMode, tpmSupport, retainImages };
}
