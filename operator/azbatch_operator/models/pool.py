"""The Azure Batch pool properties a user can set, named as in the ARM pool body (api-version 2025-06-01).

Each class mirrors the azure-mgmt-batch model of the same name; only the writable properties are here, and
every secret-bearing property is a `SecretValue` (a reference to a Kubernetes Secret), never inline.
Bounds on lists and strings keep the CRD's CEL rules inside the API server's cost budget.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from azbatch_operator.models.base import ArmModel
from azbatch_operator.models.durations import Duration
from azbatch_operator.models.secrets import SecretValue

# Upper bounds for lists. Azure states few limits; these are generous and exist so that the API server can
# bound the cost of the CRD's validation rules.
MAX_EXTENSIONS = 50
MAX_ITEMS = 100
MAX_NAME = 256
MAX_TEXT = 8192
MAX_ID = 1024

ExtensionName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
ImageName = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
PortRange = Annotated[str, Field(min_length=1, max_length=16)]
ResourceId = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
CachingType = Literal["None", "ReadOnly", "ReadWrite"]
StorageAccountType = Literal["Standard_LRS", "Premium_LRS", "StandardSSD_LRS"]
ElevationLevel = Literal["NonAdmin", "Admin"]

RESERVED_METADATA_PREFIX = "azbatch.dev/"
RESERVED_METADATA_MESSAGE = (
    "metadata names starting with 'azbatch.dev/' are reserved for the operator (ownership and secret "
    "digests): choose another name"
)
CUSTOM_SCRIPT_MESSAGE = (
    "the CustomScript extension type is reserved for the Azure Batch service and cannot be used: "
    "run setup commands in spec.startTask instead"
)
SCALE_SETTINGS_MESSAGE = "set exactly one of scaleSettings.fixedScale or scaleSettings.autoScale"
MANAGED_IMAGE_MESSAGE = (
    "managed images (Microsoft.Compute/images) can no longer create Batch pools (retired after 2026-03-31): "
    "publish the image to an Azure Compute Gallery and set imageReference.id to the gallery image "
    "(.../galleries/{gallery}/images/{image}[/versions/{version}])"
)
MANAGED_IMAGE_PATTERN = "(?i)/providers/Microsoft[.]Compute/images/[^/]+/?$"  # no backslash: CEL string
NAT_POOL_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$"
IMAGE_SOURCE_MESSAGE = (
    "imageReference names one image: publisher, offer and sku (and optionally version) of a Marketplace "
    "image, or an Azure Compute Gallery image as id (or sharedGalleryImageId / communityGalleryImageId), "
    "which is mutually exclusive with every other imageReference property"
)
MARKETPLACE_IMAGE_MESSAGE = (
    "a Marketplace image needs publisher, offer and sku (Azure answers MissingRequiredProperty without "
    "them), e.g. {publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}"
)
START_TASK_COMMAND_MESSAGE = (
    "startTask.commandLine is required when any other startTask property is set (Azure answers "
    "MissingRequiredProperty): give the command, e.g. /bin/sh -c 'setup.sh'"
)
RESOURCE_FILE_SOURCE_MESSAGE = (
    "a resource file needs exactly one of autoStorageContainerName, storageContainerUrl or httpUrl"
)
BLOB_PREFIX_MESSAGE = (
    "blobPrefix applies only to autoStorageContainerName or storageContainerUrl, not httpUrl"
)
UID_GID_MESSAGE = "linuxUserConfiguration.uid and gid must be given together or not at all"
UEFI_SECURITY_TYPE_MESSAGE = (
    "uefiSettings needs securityProfile.securityType (trustedLaunch or confidentialVM)"
)
ROLLING_PERCENT_MESSAGE = (
    "rollingUpgradePolicy.maxBatchInstancePercent must not be more than maxUnhealthyInstancePercent"
)
NAT_PORTS_MESSAGE = (
    "an inbound NAT pool's frontend port range holds at least 40 ports (frontendPortRangeEnd - "
    "frontendPortRangeStart >= 39) and avoids 50000-55000, which the Batch service reserves"
)
NAT_BACKEND_PORT_MESSAGE = "backendPort 29876 and 29877 are reserved by the Batch service: use another port"
USER_ASSIGNED_MESSAGE = (
    "identity type UserAssigned needs at least one userAssignedIdentities entry; type None takes none"
)


# CEL: how many of these optional fields are set.
def _count_set(*fields: str) -> str:
    return " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields)


class ComputeNodeIdentityReference(ArmModel):
    """A reference to one of the pool's user-assigned identities, used by compute nodes."""

    resource_id: str | None = Field(
        default=None, max_length=MAX_ID, description="The ARM resource id of the user assigned identity."
    )


class ImageReference(ArmModel):
    """A Marketplace image (publisher/offer/sku/version) or an Azure Compute Gallery image (id)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"!has(self.id) || !self.id.matches('{MANAGED_IMAGE_PATTERN}')",
                    "message": MANAGED_IMAGE_MESSAGE,
                },
                {
                    "rule": _count_set("id", "sharedGalleryImageId", "communityGalleryImageId")
                    + " + ((has(self.publisher) || has(self.offer) || has(self.sku) || has(self.version))"
                    " ? 1 : 0) == 1",
                    "message": IMAGE_SOURCE_MESSAGE,
                },
                {
                    "rule": "!(has(self.publisher) || has(self.offer) || has(self.sku) || has(self.version))"
                    " || (has(self.publisher) && has(self.offer) && has(self.sku))",
                    "message": MARKETPLACE_IMAGE_MESSAGE,
                },
            ]
        }
    )

    publisher: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME,
        description="The publisher of the Azure Virtual Machines Marketplace image, e.g. Canonical.",
    )
    offer: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME,
        description="The offer type of the Azure Virtual Machines Marketplace image, e.g. ubuntu-24_04-lts.",
    )
    sku: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME,
        description="The SKU of the Azure Virtual Machines Marketplace image.",
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME,
        description="The version of the Marketplace image; 'latest' (the default) selects the newest.",
    )
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID,
        description=(
            "The ARM resource id of an Azure Compute Gallery image or image version: /subscriptions/{sub}/"
            "resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}"
            "[/versions/{v}]. "
            "Managed images (Microsoft.Compute/images) are retired after 2026-03-31."
        ),
    )
    shared_gallery_image_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID,
        description="The shared gallery image unique identifier.",
    )
    community_gallery_image_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID,
        description="The community gallery image unique identifier.",
    )

    @model_validator(mode="after")
    def _one_image(self) -> ImageReference:
        marketplace = [self.publisher, self.offer, self.sku, self.version]
        sources = [self.id, self.shared_gallery_image_id, self.community_gallery_image_id]
        if sum(source is not None for source in sources) + any(p is not None for p in marketplace) != 1:
            raise ValueError(IMAGE_SOURCE_MESSAGE)
        if any(p is not None for p in marketplace) and None in (self.publisher, self.offer, self.sku):
            raise ValueError(MARKETPLACE_IMAGE_MESSAGE)
        return self


class WindowsConfiguration(ArmModel):
    """Windows operating system settings on the virtual machines."""

    enable_automatic_updates: bool | None = Field(
        default=None,
        description="Whether automatic updates are enabled on the virtual machine (default true).",
    )


class DiskEncryptionSetParameters(ArmModel):
    """A customer-managed disk encryption set (UserSubscription accounts only)."""

    id: str = Field(max_length=MAX_ID, description="The resource id of the disk encryption set.")


class VMDiskSecurityProfile(ArmModel):
    """Security profile of a managed disk (confidential VMs)."""

    security_encryption_type: (
        Literal["NonPersistedTPM", "VMGuestStateOnly", "DiskWithVMGuestState"] | None
    ) = Field(default=None, description="The encryption type of the managed disk (confidential VMs only).")
    disk_encryption_set: DiskEncryptionSetParameters | None = Field(
        default=None,
        description="The disk encryption set for a confidential VM's OS disk and VMGuest blob.",
    )


class ManagedDisk(ArmModel):
    """Managed disk parameters."""

    storage_account_type: StorageAccountType | None = Field(
        default=None, description="The storage account type for the data disks or OS disk."
    )
    security_profile: VMDiskSecurityProfile | None = Field(
        default=None, description="The security profile for the managed disk."
    )
    disk_encryption_set: DiskEncryptionSetParameters | None = Field(
        default=None, description="The customer-managed disk encryption set (UserSubscription accounts only)."
    )


class DataDisk(ArmModel):
    """A data disk attached to every compute node."""

    lun: int = Field(ge=0, le=63, description="The logical unit number, unique among the node's data disks.")
    caching: CachingType | None = Field(default=None, description="The type of caching for the disk.")
    disk_size_gb: int = Field(
        alias="diskSizeGB", ge=1, description="The initial disk size in GB when creating the data disk."
    )
    managed_disk: ManagedDisk | None = Field(default=None, description="The managed disk parameters.")


class ContainerRegistry(ArmModel):
    """A private container registry; the password comes from a Secret."""

    username: str | None = Field(
        default=None, max_length=MAX_NAME, description="The user name to log into the registry server."
    )
    password: SecretValue | None = Field(
        default=None, description="The password to log into the registry server, from a Kubernetes Secret."
    )
    registry_server: str | None = Field(
        default=None, max_length=MAX_ID, description="The registry URL; defaults to docker.io when omitted."
    )
    identity_reference: ComputeNodeIdentityReference | None = Field(
        default=None,
        description="A pool identity to access an Azure Container Registry instead of username and password.",
    )


class ContainerConfiguration(ArmModel):
    """Container support on the pool's nodes."""

    type: Literal["DockerCompatible", "CriCompatible"] = Field(description="The container technology to use.")
    container_image_names: list[ImageName] | None = Field(
        default=None, max_length=MAX_ITEMS, description="Container images to pull onto every node."
    )
    container_registries: list[ContainerRegistry] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="Additional private registries to pull containers from.",
    )


class DiskCustomerManagedKey(ArmModel):
    """A customer-managed key in Key Vault that encrypts the OS disk."""

    key_url: str | None = Field(
        default=None, max_length=MAX_ID, description="Fully versioned Key Vault key URL."
    )
    rotation_to_latest_key_version_enabled: bool | None = Field(
        default=None, description="Follow the latest key version automatically (default false)."
    )
    identity_reference: ComputeNodeIdentityReference | None = Field(
        default=None, description="The pool identity that reads the key from Key Vault."
    )


class DiskEncryptionConfiguration(ArmModel):
    """Disk encryption applied by the Batch service on the nodes."""

    targets: list[Literal["OsDisk", "TemporaryDisk"]] | None = Field(
        default=None, max_length=2, description="The disks the Batch service encrypts on each node."
    )
    customer_managed_key: DiskCustomerManagedKey | None = Field(
        default=None, description="The customer-managed key that encrypts the OS disk."
    )


class NodePlacementConfiguration(ArmModel):
    """How nodes are placed across availability zones."""

    policy: Literal["Regional", "Zonal"] | None = Field(
        default=None, description="Node placement policy: Regional (default) or Zonal."
    )


class VMExtension(ArmModel):
    """A virtual machine extension installed on every node as it is provisioned.

    Changing any extension (adding, removing, any field) needs a pool recreate (or a zero-node patch).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "!self.type.matches('(?i)^customscript$')", "message": CUSTOM_SCRIPT_MESSAGE},
            ]
        }
    )

    name: str = Field(
        min_length=1, max_length=MAX_NAME, description="The name of the extension, unique within the pool."
    )
    publisher: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="The extension handler publisher, e.g. Microsoft.Azure.KeyVault.",
    )
    type: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="The extension type, e.g. KeyVaultForLinux. CustomScript is reserved for Batch.",
    )
    type_handler_version: str | None = Field(
        default=None, max_length=MAX_NAME, description="The version of the extension handler, e.g. 3.0."
    )
    auto_upgrade_minor_version: bool | None = Field(
        default=None,
        description=(
            "Use a newer minor version if one is available at deployment time; keep it true to receive fixes."
        ),
    )
    enable_automatic_upgrade: bool | None = Field(
        default=None,
        description="Let the platform upgrade the extension automatically when a newer version is available.",
    )
    settings: dict[str, Any] | None = Field(
        default=None,
        description="JSON public settings of the extension, passed unchanged (free-form, as in Azure).",
    )
    protected_settings: SecretValue | None = Field(
        default=None,
        description=(
            "Protected settings, encrypted by Azure and never returned: a Secret key whose value is a JSON "
            "object. Inline values are refused."
        ),
    )
    provision_after_extensions: list[ExtensionName] | None = Field(
        default=None,
        max_length=MAX_EXTENSIONS,
        description="Names of extensions of this pool that must be provisioned before this one.",
    )


class DiffDiskSettings(ArmModel):
    """Ephemeral OS disk settings."""

    placement: Literal["CacheDisk"] | None = Field(
        default=None, description="Where the ephemeral OS disk is placed on all VMs in the pool."
    )


class OSDisk(ArmModel):
    """Settings for the operating system disk of the nodes."""

    ephemeral_os_disk_settings: DiffDiskSettings | None = Field(
        default=None, alias="ephemeralOSDiskSettings", description="Ephemeral OS disk settings."
    )
    caching: CachingType | None = Field(default=None, description="The type of caching for the OS disk.")
    managed_disk: ManagedDisk | None = Field(default=None, description="The managed disk parameters.")
    disk_size_gb: int | None = Field(
        default=None, alias="diskSizeGB", ge=1, description="The initial OS disk size in GB."
    )
    write_accelerator_enabled: bool | None = Field(
        default=None, description="Whether writeAccelerator is enabled on the OS disk."
    )


class UefiSettings(ArmModel):
    """Secure boot and vTPM settings."""

    secure_boot_enabled: bool | None = Field(default=None, description="Whether secure boot is enabled.")
    v_tpm_enabled: bool | None = Field(
        default=None, alias="vTpmEnabled", description="Whether vTPM is enabled."
    )


class HostEndpointSettings(ArmModel):
    """Access control for a host endpoint (IMDS or WireServer)."""

    mode: Literal["Audit", "Enforce"] | None = Field(
        default=None, description="The access control policy execution mode."
    )
    in_vm_access_control_profile_reference_id: str | None = Field(
        default=None,
        alias="inVMAccessControlProfileReferenceId",
        max_length=MAX_ID,
        description="The InVMAccessControlProfileVersion resource id.",
    )


class ProxyAgentSettings(ArmModel):
    """Metadata Security Protocol (ProxyAgent) settings."""

    enabled: bool | None = Field(
        default=None, description="Whether the Metadata Security Protocol is enabled."
    )
    imds: HostEndpointSettings | None = Field(default=None, description="Settings for the IMDS endpoint.")
    wire_server: HostEndpointSettings | None = Field(
        default=None, description="Settings for the WireServer endpoint."
    )


class SecurityProfile(ArmModel):
    """Security settings of the virtual machines."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.uefiSettings) || has(self.securityType)",
                    "message": UEFI_SECURITY_TYPE_MESSAGE,
                },
            ]
        }
    )

    security_type: Literal["trustedLaunch", "confidentialVM"] | None = Field(
        default=None, description="The security type; required to enable uefiSettings."
    )
    encryption_at_host: bool | None = Field(
        default=None, description="Encrypt all disks, including the temp disk, at the host."
    )
    uefi_settings: UefiSettings | None = Field(default=None, description="Secure boot and vTPM settings.")
    proxy_agent_settings: ProxyAgentSettings | None = Field(
        default=None, description="ProxyAgent settings while creating the virtual machine."
    )

    @model_validator(mode="after")
    def _uefi_needs_a_security_type(self) -> SecurityProfile:
        if self.uefi_settings is not None and self.security_type is None:
            raise ValueError(UEFI_SECURITY_TYPE_MESSAGE)
        return self


class ServiceArtifactReference(ArmModel):
    """Pins the same image version on all nodes when the image version is 'latest'."""

    id: str = Field(max_length=MAX_ID, description="The service artifact reference id.")


class VirtualMachineConfiguration(ArmModel):
    """The virtual machines of the pool: image, node agent, disks, extensions."""

    image_reference: ImageReference = Field(
        description="The Marketplace image or Azure Compute Gallery image the nodes boot from."
    )
    node_agent_sku_id: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="The Batch node agent SKU matching the image, e.g. 'batch.node.ubuntu 24.04'.",
    )
    windows_configuration: WindowsConfiguration | None = Field(
        default=None, description="Windows operating system settings (Windows images only)."
    )
    data_disks: list[DataDisk] | None = Field(
        default=None, max_length=64, description="Data disks attached to every node."
    )
    license_type: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        description="On-premises license for Windows images: Windows_Server or Windows_Client.",
    )
    container_configuration: ContainerConfiguration | None = Field(
        default=None, description="The container configuration for the pool."
    )
    disk_encryption_configuration: DiskEncryptionConfiguration | None = Field(
        default=None, description="The disk encryption configuration for the pool."
    )
    node_placement_configuration: NodePlacementConfiguration | None = Field(
        default=None, description="The node placement configuration for the pool."
    )
    extensions: list[VMExtension] | None = Field(
        default=None,
        max_length=MAX_EXTENSIONS,
        description="VM extensions installed on every node. Any change to them recreates the pool.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    os_disk: OSDisk | None = Field(default=None, description="Settings for the operating system disk.")
    security_profile: SecurityProfile | None = Field(
        default=None, description="Security settings of the virtual machines."
    )
    service_artifact_reference: ServiceArtifactReference | None = Field(
        default=None, description="Pins one image version on all nodes when the image version is 'latest'."
    )


class DeploymentConfiguration(ArmModel):
    """What the pool's nodes are deployed on."""

    virtual_machine_configuration: VirtualMachineConfiguration | None = Field(
        default=None,
        description="The virtual machine configuration (required: the only kind Batch supports).",
    )


class FixedScaleSettings(ArmModel):
    """A fixed number of nodes."""

    resize_timeout: Duration | None = Field(
        default=None,
        description=(
            "ISO 8601 timeout for allocating the nodes (default PT15M, minimum PT5M). "
            "Custom-image pools should use PT20M to PT30M."
        ),
    )
    target_dedicated_nodes: int | None = Field(
        default=None, ge=0, description="The desired number of dedicated compute nodes."
    )
    target_low_priority_nodes: int | None = Field(
        default=None, ge=0, description="The desired number of Spot/low-priority compute nodes."
    )
    node_deallocation_option: Literal["Requeue", "Terminate", "TaskCompletion", "RetainedData"] | None = (
        Field(
            default=None,
            description="What happens to running tasks on nodes removed by a shrink (default Requeue).",
        )
    )


class AutoScaleSettings(ArmModel):
    """An autoscale formula evaluated by the Batch service."""

    formula: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="The autoscale formula, e.g. '$TargetDedicatedNodes = 2;'.",
    )
    evaluation_interval: Duration | None = Field(
        default=None,
        description="ISO 8601 interval between formula evaluations (default PT15M, minimum PT5M).",
    )


class ScaleSettings(ArmModel):
    """How many nodes the pool has: exactly one of fixedScale or autoScale."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "has(self.fixedScale) != has(self.autoScale)", "message": SCALE_SETTINGS_MESSAGE},
            ]
        }
    )

    fixed_scale: FixedScaleSettings | None = Field(default=None, description="A fixed number of nodes.")
    auto_scale: AutoScaleSettings | None = Field(default=None, description="An autoscale formula.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ScaleSettings:
        if (self.fixed_scale is None) == (self.auto_scale is None):
            raise ValueError(SCALE_SETTINGS_MESSAGE)
        return self


class NetworkSecurityGroupRule(ArmModel):
    """A network security group rule applied to an inbound endpoint."""

    priority: int = Field(ge=150, le=4096, description="The rule priority; lower numbers win.")
    access: Literal["Allow", "Deny"] = Field(description="Whether matching traffic is allowed or denied.")
    source_address_prefix: str = Field(
        max_length=MAX_NAME, description="The source address prefix or tag, e.g. 10.0.0.0/24 or '*'."
    )
    source_port_ranges: list[PortRange] | None = Field(
        default=None, max_length=MAX_ITEMS, description="Source port ranges, e.g. '*' or '100-200'."
    )


class InboundNatPool(ArmModel):
    """An inbound NAT pool to address a port on individual nodes from outside."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.frontendPortRangeEnd - self.frontendPortRangeStart >= 39 && "
                    "(self.frontendPortRangeEnd < 50000 || self.frontendPortRangeStart > 55000)",
                    "message": NAT_PORTS_MESSAGE,
                },
                {
                    "rule": "self.backendPort != 29876 && self.backendPort != 29877",
                    "message": NAT_BACKEND_PORT_MESSAGE,
                },
            ]
        }
    )

    name: str = Field(
        min_length=1,
        max_length=77,
        pattern=NAT_POOL_NAME_PATTERN,
        description=(
            "The name of the endpoint, unique in the pool: letters, digits, '_', '.', '-'; it starts with a "
            "letter or digit and ends with a letter, digit or '_' (at most 77 characters)."
        ),
    )
    protocol: Literal["TCP", "UDP"] = Field(description="The protocol of the endpoint.")
    backend_port: int = Field(ge=1, le=65535, description="The port number on the compute node.")
    frontend_port_range_start: int = Field(
        ge=1, le=65534, description="The first external port of the range mapped to backendPort."
    )
    frontend_port_range_end: int = Field(
        ge=1, le=65534, description="The last external port of the range mapped to backendPort."
    )
    network_security_group_rules: list[NetworkSecurityGroupRule] | None = Field(
        default=None, max_length=25, description="Network security group rules applied to the endpoint."
    )

    @model_validator(mode="after")
    def _ports(self) -> InboundNatPool:
        start, end = self.frontend_port_range_start, self.frontend_port_range_end
        if end - start < 39 or not (end < 50000 or start > 55000):
            raise ValueError(NAT_PORTS_MESSAGE)
        if self.backend_port in (29876, 29877):
            raise ValueError(NAT_BACKEND_PORT_MESSAGE)
        return self


class PoolEndpointConfiguration(ArmModel):
    """Endpoints on the compute nodes."""

    inbound_nat_pools: list[InboundNatPool] = Field(
        max_length=5, description="Inbound NAT pools that address specific ports on individual nodes."
    )


class IPTag(ArmModel):
    """An IP tag applied to public IPs Batch creates."""

    ip_tag_type: str | None = Field(default=None, max_length=MAX_NAME, description="The IP tag type.")
    tag: str | None = Field(default=None, max_length=MAX_NAME, description="The value of the IP tag.")


class PublicIPAddressConfiguration(ArmModel):
    """Public IP addresses of the nodes."""

    provision: Literal["BatchManaged", "UserManaged", "NoPublicIPAddresses"] | None = Field(
        default=None, description="Who provisions public IPs (default BatchManaged)."
    )
    ip_address_ids: list[ResourceId] | None = Field(
        default=None, max_length=MAX_ITEMS, description="Public IPs to use when provision is UserManaged."
    )
    ip_families: list[Literal["IPv4", "IPv6"]] | None = Field(
        default=None, max_length=2, description="The IP families available to the pool."
    )
    ip_tags: list[IPTag] | None = Field(
        default=None, max_length=MAX_ITEMS, description="IP tags applied to new public IPs Batch creates."
    )


class NetworkConfiguration(ArmModel):
    """The virtual network and endpoints of the pool."""

    subnet_id: str | None = Field(
        default=None,
        max_length=MAX_ID,
        description="The ARM id of the subnet the nodes join: .../virtualNetworks/{vnet}/subnets/{s}.",
    )
    dynamic_vnet_assignment_scope: Literal["none", "job"] | None = Field(
        default=None, alias="dynamicVnetAssignmentScope", description="The scope of dynamic vnet assignment."
    )
    endpoint_configuration: PoolEndpointConfiguration | None = Field(
        default=None, description="The configuration for endpoints on the compute nodes."
    )
    public_ip_address_configuration: PublicIPAddressConfiguration | None = Field(
        default=None, alias="publicIPAddressConfiguration", description="Public IP addresses of the nodes."
    )
    enable_accelerated_networking: bool | None = Field(
        default=None, description="Whether the pool enables accelerated networking."
    )


class TaskSchedulingPolicy(ArmModel):
    """How tasks are distributed across nodes."""

    job_default_order: Literal["None", "CreationTime"] | None = Field(
        default=None, description="The order for scheduling tasks from different jobs of equal priority."
    )
    node_fill_type: Literal["Spread", "Pack"] = Field(
        description="Spread tasks evenly over nodes, or Pack each node before using the next."
    )


class LinuxUserConfiguration(ArmModel):
    """Linux-specific settings of a user account."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "has(self.uid) == has(self.gid)", "message": UID_GID_MESSAGE}
            ]
        }
    )

    uid: int | None = Field(default=None, ge=0, description="The user ID of the account.")
    gid: int | None = Field(default=None, ge=0, description="The group ID of the account.")
    ssh_private_key: SecretValue | None = Field(
        default=None, description="The SSH private key for the account, from a Kubernetes Secret."
    )

    @model_validator(mode="after")
    def _uid_with_gid(self) -> LinuxUserConfiguration:
        if (self.uid is None) != (self.gid is None):
            raise ValueError(UID_GID_MESSAGE)
        return self


class WindowsUserConfiguration(ArmModel):
    """Windows-specific settings of a user account."""

    login_mode: Literal["Batch", "Interactive"] | None = Field(default=None, description="The login mode.")


class UserAccount(ArmModel):
    """A user account created on every node; the password comes from a Secret."""

    name: str = Field(
        min_length=1, max_length=20, description="The name of the user account (up to 20 chars)."
    )
    password: SecretValue = Field(description="The password of the user account, from a Kubernetes Secret.")
    elevation_level: ElevationLevel | None = Field(
        default=None, description="The elevation level of the user (default NonAdmin)."
    )
    linux_user_configuration: LinuxUserConfiguration | None = Field(
        default=None, description="Linux-specific settings."
    )
    windows_user_configuration: WindowsUserConfiguration | None = Field(
        default=None, description="Windows-specific settings."
    )


class MetadataItem(ArmModel):
    """A name-value pair stored with the pool. Names starting with azbatch.dev/ are reserved."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "!self.name.startsWith('azbatch.dev/')", "message": RESERVED_METADATA_MESSAGE},
            ]
        }
    )

    name: str = Field(min_length=1, max_length=MAX_NAME, description="The name of the metadata item.")
    value: str = Field(max_length=MAX_TEXT, description="The value of the metadata item.")


class ResourceFile(ArmModel):
    """A file downloaded to the node before the start task runs."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": _count_set("autoStorageContainerName", "storageContainerUrl", "httpUrl")
                    + " == 1",
                    "message": RESOURCE_FILE_SOURCE_MESSAGE,
                },
                {"rule": "!has(self.blobPrefix) || !has(self.httpUrl)", "message": BLOB_PREFIX_MESSAGE},
            ]
        }
    )

    auto_storage_container_name: str | None = Field(
        default=None, max_length=MAX_NAME, description="A container in the account's auto-storage account."
    )
    storage_container_url: str | None = Field(
        default=None, max_length=MAX_TEXT, description="The URL of a blob container in Azure Blob Storage."
    )
    http_url: str | None = Field(
        default=None, max_length=MAX_TEXT, description="The URL of a file to download."
    )
    blob_prefix: str | None = Field(
        default=None, max_length=MAX_ID, description="Download only blobs whose names start with this prefix."
    )
    file_path: str | None = Field(
        default=None,
        max_length=MAX_ID,
        description="Where to put the file, relative to the working directory.",
    )
    file_mode: str | None = Field(
        default=None, max_length=8, description="The file permission mode in octal (Linux only), e.g. 0644."
    )
    identity_reference: ComputeNodeIdentityReference | None = Field(
        default=None, description="A pool identity to access the storage URL."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ResourceFile:
        sources = (self.auto_storage_container_name, self.storage_container_url, self.http_url)
        if sum(source is not None for source in sources) != 1:
            raise ValueError(RESOURCE_FILE_SOURCE_MESSAGE)
        if self.blob_prefix is not None and self.http_url is not None:
            raise ValueError(BLOB_PREFIX_MESSAGE)
        return self


class EnvironmentSetting(ArmModel):
    """An environment variable of the start task (not secret: use a Secret-backed field for secrets)."""

    name: str = Field(min_length=1, max_length=MAX_NAME, description="The name of the environment variable.")
    value: str | None = Field(default=None, max_length=MAX_TEXT, description="The value of the variable.")


class AutoUserSpecification(ArmModel):
    """The auto user a task runs as."""

    scope: Literal["Task", "Pool"] | None = Field(default=None, description="The scope of the auto user.")
    elevation_level: ElevationLevel | None = Field(
        default=None, description="The elevation level of the user."
    )


class UserIdentity(ArmModel):
    """The user a task runs as: a named user account or the auto user."""

    user_name: str | None = Field(
        default=None,
        max_length=20,
        description="A user account of spec.userAccounts (exclusive with autoUser).",
    )
    auto_user: AutoUserSpecification | None = Field(
        default=None, description="The auto user (exclusive with userName)."
    )


class ContainerHostBatchBindMountEntry(ArmModel):
    """A Batch path mounted into the task container."""

    source: Literal["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"] | None = Field(
        default=None, description="The path mounted into the container."
    )
    is_read_only: bool | None = Field(default=None, description="Mount read-only (default false).")


class TaskContainerSettings(ArmModel):
    """The container a task runs in."""

    container_run_options: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Additional options to the container create command."
    )
    image_name: str = Field(min_length=1, max_length=MAX_ID, description="The container image for the task.")
    registry: ContainerRegistry | None = Field(
        default=None, description="The private registry holding the image."
    )
    working_directory: Literal["TaskWorkingDirectory", "ContainerImageDefault"] | None = Field(
        default=None, description="Where the task's working directory is (default TaskWorkingDirectory)."
    )
    container_host_batch_bind_mounts: list[ContainerHostBatchBindMountEntry] | None = Field(
        default=None, max_length=10, description="Batch paths mounted into the task container."
    )


_START_TASK_OTHERS = (
    "resourceFiles",
    "environmentSettings",
    "userIdentity",
    "maxTaskRetryCount",
    "waitForSuccess",
    "containerSettings",
)


class StartTask(ArmModel):
    """A task run on each node as it joins the pool (the place for setup commands)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.commandLine) || " + _count_set(*_START_TASK_OTHERS) + " == 0",
                    "message": START_TASK_COMMAND_MESSAGE,
                },
            ]
        }
    )

    command_line: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT,
        description="The command line of the start task (required when any other startTask property is set).",
    )
    resource_files: list[ResourceFile] | None = Field(
        default=None, max_length=MAX_ITEMS, description="Files downloaded before the command line runs."
    )
    environment_settings: list[EnvironmentSetting] | None = Field(
        default=None, max_length=MAX_ITEMS, description="Environment variables of the start task."
    )
    user_identity: UserIdentity | None = Field(default=None, description="The user the start task runs as.")
    max_task_retry_count: int | None = Field(
        default=None, ge=-1, description="Maximum retries (-1: no limit; default 0)."
    )
    wait_for_success: bool | None = Field(
        default=None, description="Schedule no tasks on a node until its start task succeeded (default true)."
    )
    container_settings: TaskContainerSettings | None = Field(
        default=None, description="The container the start task runs in."
    )

    @model_validator(mode="after")
    def _command_line(self) -> StartTask:
        if self.command_line is None and any(getattr(self, name) is not None for name in _START_TASK_FIELDS):
            raise ValueError(START_TASK_COMMAND_MESSAGE)
        return self


_START_TASK_FIELDS = [name for name in StartTask.model_fields if name != "command_line"]


class ApplicationPackageReference(ArmModel):
    """An application package installed on every node."""

    id: str = Field(
        min_length=1, max_length=MAX_ID, description="The ARM id of the application or application version."
    )
    version: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        description="The version to deploy; the default version if omitted.",
    )


class AzureBlobFileSystemConfiguration(ArmModel):
    """A blob container mounted with blobfuse; the key or SAS comes from a Secret."""

    account_name: str = Field(
        min_length=1, max_length=MAX_NAME, description="The Azure Storage account name."
    )
    container_name: str = Field(min_length=1, max_length=MAX_NAME, description="The blob container name.")
    account_key: SecretValue | None = Field(
        default=None,
        description="The storage account key, from a Kubernetes Secret (one of key, SAS, identity).",
    )
    sas_key: SecretValue | None = Field(
        default=None,
        description="The storage SAS token, from a Kubernetes Secret (one of key, SAS, identity).",
    )
    blobfuse_options: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Additional blobfuse command line options."
    )
    relative_mount_path: str = Field(
        min_length=1, max_length=MAX_ID, description="Mount path relative to AZ_BATCH_NODE_MOUNTS_DIR."
    )
    identity_reference: ComputeNodeIdentityReference | None = Field(
        default=None, description="A pool identity to access the container (one of key, SAS, identity)."
    )


class NFSMountConfiguration(ArmModel):
    """An NFS file system mounted on every node."""

    source: str = Field(min_length=1, max_length=MAX_ID, description="The URI of the file system.")
    relative_mount_path: str = Field(
        min_length=1, max_length=MAX_ID, description="Mount path relative to AZ_BATCH_NODE_MOUNTS_DIR."
    )
    mount_options: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Additional mount command line options."
    )


class CIFSMountConfiguration(ArmModel):
    """A CIFS/SMB file system mounted on every node; the password comes from a Secret."""

    user_name: str = Field(
        min_length=1, max_length=MAX_NAME, description="The user for the CIFS file system."
    )
    source: str = Field(min_length=1, max_length=MAX_ID, description="The URI of the file system.")
    relative_mount_path: str = Field(
        min_length=1, max_length=MAX_ID, description="Mount path relative to AZ_BATCH_NODE_MOUNTS_DIR."
    )
    mount_options: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Additional mount command line options."
    )
    password: SecretValue = Field(
        description="The password for the CIFS file system, from a Kubernetes Secret."
    )


class AzureFileShareConfiguration(ArmModel):
    """An Azure Files share mounted on every node; the account key comes from a Secret."""

    account_name: str = Field(
        min_length=1, max_length=MAX_NAME, description="The Azure Storage account name."
    )
    azure_file_url: str = Field(
        min_length=1,
        max_length=MAX_ID,
        description="The Azure Files URL, e.g. https://{account}.file.core.windows.net/{share}.",
    )
    account_key: SecretValue = Field(description="The storage account key, from a Kubernetes Secret.")
    relative_mount_path: str = Field(
        min_length=1, max_length=MAX_ID, description="Mount path relative to AZ_BATCH_NODE_MOUNTS_DIR."
    )
    mount_options: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Additional mount command line options."
    )


class MountConfiguration(ArmModel):
    """One file system mounted on every node: set exactly one of the four kinds."""

    azure_blob_file_system_configuration: AzureBlobFileSystemConfiguration | None = Field(
        default=None, description="A blob container mounted with blobfuse."
    )
    nfs_mount_configuration: NFSMountConfiguration | None = Field(
        default=None, alias="nfsMountConfiguration", description="An NFS file system."
    )
    cifs_mount_configuration: CIFSMountConfiguration | None = Field(
        default=None, alias="cifsMountConfiguration", description="A CIFS/SMB file system."
    )
    azure_file_share_configuration: AzureFileShareConfiguration | None = Field(
        default=None, description="An Azure Files share."
    )


class AutomaticOSUpgradePolicy(ArmModel):
    """Automatic OS image upgrades."""

    disable_automatic_rollback: bool | None = Field(
        default=None, description="Whether OS image rollback is disabled."
    )
    enable_automatic_os_upgrade: bool | None = Field(
        default=None,
        alias="enableAutomaticOSUpgrade",
        description="Apply newer OS images automatically (Windows: not with enableAutomaticUpdates).",
    )
    use_rolling_upgrade_policy: bool | None = Field(
        default=None, description="Use the rolling upgrade policy during automatic OS upgrades."
    )
    os_rolling_upgrade_deferral: bool | None = Field(
        default=None,
        alias="osRollingUpgradeDeferral",
        description="Defer OS upgrades on nodes running tasks.",
    )


class RollingUpgradePolicy(ArmModel):
    """Parameters of a rolling upgrade."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.maxBatchInstancePercent) || !has(self.maxUnhealthyInstancePercent) || "
                    "self.maxBatchInstancePercent <= self.maxUnhealthyInstancePercent",
                    "message": ROLLING_PERCENT_MESSAGE,
                },
            ]
        }
    )

    enable_cross_zone_upgrade: bool | None = Field(
        default=None, description="Ignore availability-zone boundaries when building upgrade batches."
    )
    max_batch_instance_percent: int | None = Field(
        default=None, ge=5, le=100, description="Maximum percent of nodes upgraded in one batch."
    )
    max_unhealthy_instance_percent: int | None = Field(
        default=None,
        ge=5,
        le=100,
        description="Maximum percent of unhealthy nodes before the upgrade aborts.",
    )
    max_unhealthy_upgraded_instance_percent: int | None = Field(
        default=None, ge=0, le=100, description="Maximum percent of upgraded nodes found unhealthy."
    )
    pause_time_between_batches: Duration | None = Field(
        default=None, description="ISO 8601 wait between upgrade batches."
    )
    prioritize_unhealthy_instances: bool | None = Field(
        default=None, description="Upgrade unhealthy nodes before healthy ones."
    )
    rollback_failed_instances_on_policy_breach: bool | None = Field(
        default=None, description="Roll failed nodes back to the previous model if the policy is violated."
    )

    @model_validator(mode="after")
    def _batch_within_unhealthy(self) -> RollingUpgradePolicy:
        batch, unhealthy = self.max_batch_instance_percent, self.max_unhealthy_instance_percent
        if batch is not None and unhealthy is not None and batch > unhealthy:
            raise ValueError(ROLLING_PERCENT_MESSAGE)
        return self


class UpgradePolicy(ArmModel):
    """How OS and model upgrades reach the nodes."""

    mode: Literal["automatic", "manual", "rolling"] = Field(description="The upgrade mode.")
    automatic_os_upgrade_policy: AutomaticOSUpgradePolicy | None = Field(
        default=None, alias="automaticOSUpgradePolicy", description="Automatic OS upgrade parameters."
    )
    rolling_upgrade_policy: RollingUpgradePolicy | None = Field(
        default=None, description="Rolling upgrade parameters."
    )


class UserAssignedIdentity(ArmModel):
    """An entry of identity.userAssignedIdentities: an empty object (Azure fills principalId/clientId)."""


class BatchPoolIdentity(ArmModel):
    """The identities of the pool (Key Vault extensions read secrets with them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(self.type == 'UserAssigned') == "
                    "(has(self.userAssignedIdentities) && size(self.userAssignedIdentities) > 0)",
                    "message": USER_ASSIGNED_MESSAGE,
                },
            ]
        }
    )

    type: Literal["UserAssigned", "None"] = Field(description="UserAssigned, or None for no identity.")
    user_assigned_identities: dict[str, UserAssignedIdentity] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description=(
            "User-assigned identities keyed by ARM resource id (.../userAssignedIdentities/{name}); "
            "each value is an empty object."
        ),
    )

    @model_validator(mode="after")
    def _identities_match_the_type(self) -> BatchPoolIdentity:
        if (self.type == "UserAssigned") != bool(self.user_assigned_identities):
            raise ValueError(USER_ASSIGNED_MESSAGE)
        return self
