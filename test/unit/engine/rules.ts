// Rule tables of the engine, the Terraform bridge and the providers, each taken from the upstream source
// named beside it. Nothing here comes from the component (src/): the tables describe Pulumi and AWS, and
// the model (engine.ts, world.ts) applies them to whatever the program registers.
//
// Sources (read for this model):
//   pulumi/pulumi                     pkg/resource/deploy/step_generator.go, step.go, step_executor.go,
//                                     deployment_executor.go; sdk/go/common/resource/properties_path.go
//   pulumi/pulumi-terraform-bridge    pkg/tfbridge/provider.go (Diff, Read), diff.go (computeIgnoreChanges,
//                                     visitPropertyValue), schema.go (nameRequiresDeleteBeforeReplace,
//                                     ExtractInputsFromOutputs, extractInputs), pkg/tfshim/sdk-v2/instance_diff.go
//                                     (processIgnoreChanges)
//   pulumi/pulumi-command             provider/pkg/provider/remote/commandController.go, copyController.go,
//                                     provider/pkg/provider/common/inputs.go
//   hashicorp/terraform-provider-aws  internal/service/ec2/ec2_ami.go, ec2_ami_copy.go, ec2_instance.go,
//                                     ebs_volume.go, ebs_snapshot.go, internal/service/ssm/parameter.go

/** A property path segment: a key or an array index. */
export type Segment = string | number;

/**
 * Parses a Pulumi property path (`a.b[0].c`, `a[*].b`, `a["x.y"]`) into segments, `*` kept as the string
 * "*" (pulumi/pulumi sdk/go/common/resource/properties_path.go ParsePropertyPath).
 */
export function parsePath(p: string): Segment[] {
    const out: Segment[] = [];
    const re = /([^.[\]]+)|\[(\d+)\]|\[\*\]|\["((?:[^"\\]|\\.)*)"\]/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(p))) {
        if (m[1] !== undefined) out.push(m[1]);
        else if (m[2] !== undefined) out.push(Number(m[2]));
        else if (m[3] !== undefined) out.push(m[3]);
        else out.push("*");
    }
    return out;
}

/** Renders segments as the bridge's visitor does (`a[0].b`; diff.go visitPropertyValue). */
export const pathString = (s: Segment[]) => s.map((x, i) => (typeof x === "number" ? `[${x}]` : i === 0 ? x : `.${x}`)).join("");

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * The engine's ignoreChanges: before diffing, each ignored path of the NEW inputs is reset to its value in
 * the OLD inputs; a path absent from the old inputs is DELETED from the new ones; `*` matches every key or
 * index (pulumi/pulumi step_generator.go processIgnoreChanges -> properties_path.go PropertyPath.Reset/reset).
 * A replacement is created from these substituted inputs (step_generator.go: `new.Inputs` after
 * processIgnoreChanges feeds both the diff and the CreateReplacementStep).
 */
export function engineIgnore(news: Record<string, Json>, olds: Record<string, Json>, ignore: string[]): Record<string, Json> {
    const out = structuredClone(news);
    for (const p of ignore) reset(parsePath(p), olds, out);
    return out;
}

function reset(p: Segment[], old: Json, nu: Json): void {
    const [k, ...rest] = p;
    if (k === "*") {
        if (Array.isArray(old) && Array.isArray(nu)) {
            for (let i = 0; i < Math.min(old.length, nu.length); i++) {
                if (rest.length === 0) nu[i] = structuredClone(old[i]);
                else reset(rest, old[i], nu[i]);
            }
        } else if (isObj(old) && isObj(nu)) {
            for (const key of Object.keys(rest.length === 0 ? { ...old, ...nu } : old)) {
                if (rest.length === 0) {
                    if (key in old) nu[key] = structuredClone(old[key]);
                    else delete nu[key];
                } else if (key in nu) reset(rest, old[key], nu[key]);
            }
        }
        return;
    }
    if (typeof k === "number") {
        if (!Array.isArray(old) || !Array.isArray(nu) || k >= old.length || k >= nu.length) return;
        if (rest.length === 0) nu[k] = structuredClone(old[k]);
        else reset(rest, old[k], nu[k]);
        return;
    }
    if (!isObj(nu)) return;
    const has = isObj(old) && k in old;
    if (rest.length === 0) {
        if (has) nu[k] = structuredClone((old as Record<string, Json>)[k]);
        else delete nu[k];
        return;
    }
    if (has && k in nu) reset(rest, (old as Record<string, Json>)[k], nu[k]);
}

/**
 * The bridge's ignoreChanges: a TF attribute diff is dropped when its Pulumi property path, as the visitor
 * renders it with concrete indexes (set elements as `[i]` too), is EXACTLY an ignore string, or lies under
 * one (pulumi-terraform-bridge diff.go computeIgnoreChanges: `ignoredPathSet[propertyPath]`, exact map
 * lookup; sdk-v2/instance_diff.go processIgnoreChanges: deletes keys equal to or prefixed by `attr + "."`).
 * So `a[*].b` matches nothing (pulumi-terraform-bridge #3177), `a[0].b` matches, `a` covers `a[0].b`.
 */
export function bridgeIgnores(diffPath: string, ignore: string[]): boolean {
    return ignore.some((ig) => diffPath === ig || diffPath.startsWith(`${ig}.`) || diffPath.startsWith(`${ig}[`));
}

/** Does a concrete path fall under a replaceOnChanges/ForceNew pattern (`[]`/`[*]`: any index)? */
export function underPattern(path: string, pattern: string): boolean {
    const a = parsePath(path);
    const b = parsePath(pattern.replaceAll("[]", "[*]"));
    if (a.length < b.length) return false;
    return b.every((s, i) => s === "*" || s === a[i]);
}

/**
 * Properties that replace the resource when they change (ForceNew in the provider's schema), as paths with
 * `[]` for any element. Read from each schema; properties not listed update in place.
 */
export const FORCE_NEW: Record<string, { paths: string[]; source: string }> = {
    // ec2_ami.go resourceAMI(): architecture, boot_mode, ebs_block_device.* (every nested attribute is
    // ForceNew), ena_support, imds_support, name, root_device_name, sriov_net_support, tpm_support,
    // virtualization_type are ForceNew; description, deprecation_time, tags are updated (resourceAMIUpdate).
    "aws:ec2/ami:Ami": {
        source: "terraform-provider-aws internal/service/ec2/ec2_ami.go resourceAMI",
        paths: ["architecture", "bootMode", "ebsBlockDevices", "enaSupport", "imdsSupport", "name", "rootDeviceName", "sriovNetSupport", "tpmSupport", "virtualizationType", "ephemeralBlockDevices", "imageLocation", "kernelId", "ramdiskId", "uefiData"],
    },
    // ec2_ami_copy.go resourceAMICopy(): source_ami_id, source_ami_region, name, encrypted, kms_key_id,
    // destination_outpost_arn are ForceNew; description, deprecation_time, tags update (resourceAMIUpdate shared).
    "aws:ec2/amiCopy:AmiCopy": {
        source: "terraform-provider-aws internal/service/ec2/ec2_ami_copy.go resourceAMICopy",
        paths: ["sourceAmiId", "sourceAmiRegion", "name", "encrypted", "kmsKeyId", "destinationOutpostArn", "region"],
    },
    // ec2_instance.go resourceInstance(): ami, associate_public_ip_address, availability_zone, subnet_id,
    // key_name, private_ip, root_block_device.encrypted/kms_key_id are ForceNew; instance_type, user_data
    // (without user_data_replace_on_change), vpc_security_group_ids, metadata_options,
    // instance_initiated_shutdown_behavior, tags update in place (instance_type and user_data by stop/modify/start).
    "aws:ec2/instance:Instance": {
        source: "terraform-provider-aws internal/service/ec2/ec2_instance.go resourceInstance",
        paths: ["ami", "associatePublicIpAddress", "availabilityZone", "subnetId", "keyName", "privateIp", "rootBlockDevice.encrypted", "rootBlockDevice.kmsKeyId", "region"],
    },
    // ebs_volume.go resourceEBSVolume(): availability_zone, encrypted, kms_key_id, snapshot_id, outpost_arn ForceNew;
    // size, type, iops, throughput modify the volume in place.
    "aws:ebs/volume:Volume": { source: "terraform-provider-aws internal/service/ec2/ebs_volume.go resourceEBSVolume", paths: ["availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "outpostArn"] },
    // ec2_volume_attachment.go resourceVolumeAttachment(): device_name, instance_id, volume_id ForceNew.
    "aws:ec2/volumeAttachment:VolumeAttachment": { source: "terraform-provider-aws internal/service/ec2/ec2_volume_attachment.go resourceVolumeAttachment", paths: ["deviceName", "instanceId", "volumeId"] },
    // ebs_snapshot.go resourceEBSSnapshot(): volume_id, description, outpost_arn ForceNew; tags update.
    "aws:ebs/snapshot:Snapshot": { source: "terraform-provider-aws internal/service/ec2/ebs_snapshot.go resourceEBSSnapshot", paths: ["volumeId", "description", "outpostArn"] },
    // ec2_key_pair.go: key_name, key_name_prefix, public_key ForceNew.
    "aws:ec2/keyPair:KeyPair": { source: "terraform-provider-aws internal/service/ec2/ec2_key_pair.go resourceKeyPair", paths: ["keyName", "keyNamePrefix", "publicKey"] },
    // vpc_security_group.go: name, name_prefix, description, vpc_id ForceNew.
    "aws:ec2/securityGroup:SecurityGroup": { source: "terraform-provider-aws internal/service/ec2/vpc_security_group.go resourceSecurityGroup", paths: ["name", "namePrefix", "description", "vpcId"] },
    // ec2_ami_launch_permission.go / ebs_snapshot_create_volume_permission.go: every argument ForceNew (no Update).
    "aws:ec2/amiLaunchPermission:AmiLaunchPermission": { source: "terraform-provider-aws internal/service/ec2/ec2_ami_launch_permission.go (no UpdateWithoutTimeout)", paths: ["imageId", "accountId", "group", "organizationArn", "organizationalUnitArn", "region"] },
    "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission": { source: "terraform-provider-aws internal/service/ec2/ebs_snapshot_create_volume_permission.go (no Update)", paths: ["snapshotId", "accountId", "region"] },
    // ssm/parameter.go resourceParameter(): name and data_type ForceNew; value/insecure_value/type/tier update.
    "aws:ssm/parameter:Parameter": { source: "terraform-provider-aws internal/service/ssm/parameter.go resourceParameter", paths: ["name", "dataType", "region"] },
    // ec2_transitgateway... instance_state.go resourceInstanceState(): instance_id ForceNew; state updates.
    "aws:ec2transitgateway/instanceState:InstanceState": { source: "terraform-provider-aws internal/service/ec2/ec2_instance_state.go resourceInstanceState", paths: ["instanceId"] },
    // terraform-provider-tls resource_private_key.go: every argument RequiresReplace.
    "tls:index/privateKey:PrivateKey": { source: "terraform-provider-tls internal/provider/resource_private_key.go", paths: ["algorithm", "ecdsaCurve", "rsaBits"] },
};

/**
 * Input attributes that are Optional and NOT Computed: a value the provider reads back while the program
 * leaves the attribute unset is a diff (config null vs state value). Optional+Computed attributes left unset
 * take the state's value and never diff (Terraform's schemaMap.Diff). Only the attributes that Read fills
 * without the program setting them are listed (world.ts readBack).
 */
export const OPTIONAL_NOT_COMPUTED: Record<string, string[]> = {
    // ec2_ami.go: ebs_block_device.encrypted and .iops are Optional+ForceNew, NOT Computed; .throughput and
    // .volume_size are Computed; flattenBlockDeviceMappingForAMIEBSBlockDevice stores Encrypted/Iops/Throughput
    // whenever DescribeImages reports them.
    "aws:ec2/ami:Ami": ["ebsBlockDevices[].encrypted", "ebsBlockDevices[].iops"],
};

/**
 * Resources whose `name` is auto-named by pulumi-aws: when the program sets it, the bridge answers
 * DeleteBeforeReplace to every replacement (pulumi-terraform-bridge schema.go nameRequiresDeleteBeforeReplace:
 * an AutoNamed property not in `__defaults`; provider.go Diff: `deleteBeforeReplace := len(replaces) > 0 &&
 * (res.Schema.DeleteBeforeReplace || nameRequiresDeleteBeforeReplace(...))`). pulumi-aws applies autonaming
 * to every resource with a `name` argument.
 */
export const AUTONAMED: Record<string, string> = {
    "aws:ec2/ami:Ami": "name",
    "aws:ec2/amiCopy:AmiCopy": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:ec2/keyPair:KeyPair": "keyName",
};

/** Providers by package: the bridge (Terraform-based) or pulumi-go-provider's infer (pulumi-command). */
export const providerKind = (type: string): "bridge" | "command" | "component" =>
    type.startsWith("command:") ? "command" : type.startsWith("aws:") || type.startsWith("tls:") ? "bridge" : "component";

/**
 * pulumi-command's Update re-runs `create` (or `update` when set) with the NEW inputs, over the
 * connection in those inputs, i.e. the old one when `connection` is ignored (commandController.go
 * Update: `state.run(ctx, *news.Create, ...)`); `triggers` is replaceOnChanges (common/inputs.go,
 * remote/command.go: `provider:"replaceOnChanges"`); Delete runs only a `delete` command
 * (commandController.go Delete: `if props.Delete == nil { return }`). CopyToRemote's Update copies again
 * (copyController.go Update).
 */
export const COMMAND_RERUNS_ON_UPDATE = new Set(["command:remote:Command", "command:local:Command", "command:remote:CopyToRemote"]);
