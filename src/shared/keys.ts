import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as tls from "@pulumi/tls";

/** The deployer's SSH identity, shared by every build: the client key and its EC2 key pair. */
export interface ClientKeys {
    clientKey: tls.PrivateKey;
    keyPair: aws.ec2.KeyPair;
}

/**
 * Stage "keys" (shared by all builds): an ed25519 client key, registered as an EC2 key pair. The private
 * key is a secret in state; it authenticates to builders only (each build pins its own host key).
 */
export function createClientKeys(
    name: string,
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>,
    parent: pulumi.Resource,
    ready: pulumi.Input<pulumi.Resource[]>,
): ClientKeys {
    // `ready`: nothing is created before the preflight accepted the arguments (the key pair waits for the key).
    const clientKey = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent, dependsOn: ready });
    const keyPair = new aws.ec2.KeyPair(
        `${name}-key-pair`,
        { publicKey: clientKey.publicKeyOpenssh.apply((k) => k.trim()), tags },
        { parent },
    );
    return { clientKey, keyPair };
}
