import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface ParameterInputs {
    /** The component's name: one parameter per region, `<name>-ssm-<home|region>`, for every registration. */
    name: string;
    parameterName: string;
    /** The verified AMI id per label (`home` or a copy's region). */
    images: { label: string; region?: string; id: pulumi.Output<string> }[];
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The verification of the current registration. */
    after: pulumi.Resource[];
}

/**
 * Stage "publish" (one per component, not per registration): the `aws:ec2:image` SSM parameter in the home
 * region and every copy's region, moved to the new AMI only after its check passed, and before the old
 * registration is deleted (that happens after every step of the `up`), so it never names a deregistered id.
 *
 * A new value is a replacement, delete first: terraform-provider-aws internal/service/ssm/parameter.go
 * validates an `aws:ec2:image` value asynchronously; its Read after Create retries NotFound for that data type
 * until the new parameter is readable, but Update does PutParameter and reads back with no wait, so an
 * in-place update can store the previous value and the next `up` would not be a no-op. Delete-before-replace
 * because the name is fixed (a second parameter of that name cannot exist); the parameter is absent for the
 * seconds between the delete and the create.
 */
export function publishParameters(p: ParameterInputs, parent: pulumi.Resource): aws.ssm.Parameter[] {
    return p.images.map(
        (img) =>
            new aws.ssm.Parameter(
                `${p.name}-ssm-${img.label}`,
                // insecureValue: an AMI id is no secret (pulumi-aws makes `value` one).
                {
                    name: p.parameterName,
                    type: "String",
                    dataType: "aws:ec2:image",
                    insecureValue: img.id,
                    tags: p.tags,
                    ...(img.region ? { region: img.region } : {}),
                },
                { parent, dependsOn: p.after, replaceOnChanges: ["insecureValue"], deleteBeforeReplace: true },
            ),
    );
}
