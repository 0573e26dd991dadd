import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/**
 * Stage "host key" (one per build): the builder's SSH host key, generated here and installed through the
 * builder's user data, so every connection pins it (no trust on first use). One per build, because user
 * data stays readable for the builder's life (README, "Builder host key"): a key that leaked from one
 * builder can never impersonate the next one.
 */
export function createHostKey(buildName: string, parent: pulumi.Resource, ready: pulumi.Input<pulumi.Resource[]>): tls.PrivateKey {
    return new tls.PrivateKey(`${buildName}-host-key`, { algorithm: "ED25519" }, { parent, dependsOn: ready });
}
