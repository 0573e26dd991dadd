import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as tls from "@pulumi/tls";

/** SSH material of one build: the client key (registered as an EC2 key pair) and the builder's host key. */
export interface BuilderKeys {
    clientKey: tls.PrivateKey;
    hostKey: tls.PrivateKey;
    keyPair: aws.ec2.KeyPair;
}

/** Stage "keys": ed25519 client key + key pair, and a host key that cloud-init installs on the builder. */
export function createKeys(name: string, tags: pulumi.Input<Record<string, pulumi.Input<string>>>, parent: pulumi.Resource): BuilderKeys {
    const clientKey = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent });
    const hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, { parent });
    const keyPair = new aws.ec2.KeyPair(
        `${name}-key-pair`,
        { publicKey: clientKey.publicKeyOpenssh.apply((k) => k.trim()), tags },
        { parent },
    );
    return { clientKey, hostKey, keyPair };
}
