import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmi } from "arch-ami";

// One image for a whole organization: encrypted with a customer managed key (an AMI encrypted with the
// AWS-managed key cannot be shared), copied to a second region, launchable by every account of the
// organization, and published in SSM in both regions. The keys' policies must let the organization use
// them (kms:Decrypt, kms:CreateGrant, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey).
const config = new pulumi.Config();
const organizationArn = config.require("organizationArn"); // arn:aws:organizations::<account>:organization/o-…
const homeKeyArn = config.require("homeKmsKeyArn");
const copyRegion = config.get("copyRegion") ?? "eu-central-1";
const copyKeyArn = config.require("copyKmsKeyArn"); // a key in copyRegion

const arch = new ArchAmi("arch-org", {
    name: "arch-org",
    volumeSize: 8,
    packages: ["htop", "vim"],
    encryption: { kmsKeyId: homeKeyArn },
    regions: [{ region: copyRegion, kmsKeyId: copyKeyArn }],
    sharing: { organizationArns: [organizationArn] },
    deprecationTime: "2027-12-31T00:00:00Z",
    ssmParameterName: "/images/arch/latest",
    retainImages: true,
    tags: { team: "platform" },
});

// Launch templates in both regions follow the parameter, not a fixed id.
const templates = Object.entries({ home: undefined, copy: copyRegion }).map(
    ([label, region]) =>
        new aws.ec2.LaunchTemplate(
            `arch-${label}`,
            {
                region,
                imageId: "resolve:ssm:/images/arch/latest",
                instanceType: "t3.micro",
                metadataOptions: { httpTokens: "required" },
            },
            { dependsOn: [arch] },
        ),
);

export const amiIds = arch.amiIds;
export const launchTemplateIds = templates.map((t) => t.id);
