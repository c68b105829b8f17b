"""EC2 handlers, one function per operation (botocore's xform_name), gathered from the modules
that own each resource: instances, associations, metadata_options. Handlers that need the
instance-profile lookup are built around it by `build`."""

from __future__ import annotations

from types import SimpleNamespace

from keyless.services.ec2.associations import (
    associate_handlers,
    describe_iam_instance_profile_associations,
    disassociate_iam_instance_profile,
)
from keyless.services.ec2.instances import (
    describe_instance_status,
    describe_instances,
    reboot_instances,
    run_instances_handler,
    start_instances,
    stop_instances,
    terminate_instances,
)
from keyless.services.ec2.metadata_options import modify_instance_metadata_options
from keyless.services.ec2.profiles import ProfileLookup


def build(profiles: ProfileLookup) -> SimpleNamespace:
    associate, replace = associate_handlers(profiles)
    return SimpleNamespace(
        run_instances=run_instances_handler(profiles),
        describe_instances=describe_instances,
        describe_instance_status=describe_instance_status,
        start_instances=start_instances,
        stop_instances=stop_instances,
        terminate_instances=terminate_instances,
        reboot_instances=reboot_instances,
        associate_iam_instance_profile=associate,
        replace_iam_instance_profile_association=replace,
        disassociate_iam_instance_profile=disassociate_iam_instance_profile,
        describe_iam_instance_profile_associations=describe_iam_instance_profile_associations,
        modify_instance_metadata_options=modify_instance_metadata_options,
    )
