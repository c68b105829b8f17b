"""Tables. Names are stored with a lower-cased twin where AWS treats them case-insensitively
(IAM users, roles, instance profiles), so the unique index enforces what AWS enforces, even
under concurrent writers. Tags and other small lists are JSON text.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

meta = Table("meta", metadata, Column("key", String, primary_key=True), Column("value", Text, nullable=False))

# --- IAM -------------------------------------------------------------------------------------

users = Table(
    "iam_users",
    metadata,
    Column("id", String, primary_key=True),  # AIDA...
    Column("account", String, nullable=False),
    Column("name", String, nullable=False),
    Column("name_lower", String, nullable=False),
    Column("path", String, nullable=False),
    Column("arn", String, nullable=False, unique=True),
    Column("created", Float, nullable=False),
    Column("boundary_arn", String),
    Column("tags", Text, nullable=False, default="[]"),
    UniqueConstraint("account", "name_lower"),
)

access_keys = Table(
    "iam_access_keys",
    metadata,
    Column("access_key_id", String, primary_key=True),
    Column("user_id", String, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("secret", Text, nullable=False),  # encrypted with the master key
    Column("status", String, nullable=False),  # Active | Inactive
    Column("created", Float, nullable=False),
    Column("last_used", Float),
    Column("last_used_service", String),
    Column("last_used_region", String),
)

roles = Table(
    "iam_roles",
    metadata,
    Column("id", String, primary_key=True),  # AROA...
    Column("account", String, nullable=False),
    Column("name", String, nullable=False),
    Column("name_lower", String, nullable=False),
    Column("path", String, nullable=False),
    Column("arn", String, nullable=False, unique=True),
    Column("created", Float, nullable=False),
    Column("trust_policy", Text, nullable=False),
    Column("description", Text),
    Column("max_session_duration", Integer, nullable=False, default=3600),
    Column("boundary_arn", String),
    Column("tags", Text, nullable=False, default="[]"),
    Column("last_used", Float),
    Column("last_used_region", String),
    UniqueConstraint("account", "name_lower"),
)

# owner_kind is "user" or "role"; owner_id the entity's unique id.
inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("owner_kind", String, primary_key=True),
    Column("owner_id", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("document", Text, nullable=False),
)

managed_policies = Table(
    "iam_managed_policies",
    metadata,
    Column("id", String, primary_key=True),  # ANPA...
    Column("account", String, nullable=False),
    Column("name", String, nullable=False),
    Column("path", String, nullable=False),
    Column("arn", String, nullable=False, unique=True),
    Column("description", Text),
    Column("default_version", String, nullable=False),
    Column("next_version", Integer, nullable=False, default=2),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("tags", Text, nullable=False, default="[]"),
)

policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_arn", String, primary_key=True),
    Column("version_id", String, primary_key=True),  # v1, v2, ...
    Column("document", Text, nullable=False),
    Column("created", Float, nullable=False),
)

# Attachments name policies by ARN so AWS-managed policies (bundled, not stored) attach the same way.
attachments = Table(
    "iam_attachments",
    metadata,
    Column("owner_kind", String, primary_key=True),
    Column("owner_id", String, primary_key=True),
    Column("policy_arn", String, primary_key=True),
)

instance_profiles = Table(
    "iam_instance_profiles",
    metadata,
    Column("id", String, primary_key=True),  # AIPA...
    Column("account", String, nullable=False),
    Column("name", String, nullable=False),
    Column("name_lower", String, nullable=False),
    Column("path", String, nullable=False),
    Column("arn", String, nullable=False, unique=True),
    Column("created", Float, nullable=False),
    Column("tags", Text, nullable=False, default="[]"),
    UniqueConstraint("account", "name_lower"),
)

# One row per profile: the primary key is what makes "one role per instance profile" hold under races.
instance_profile_roles = Table(
    "iam_instance_profile_roles",
    metadata,
    Column("profile_id", String, ForeignKey("iam_instance_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", String, ForeignKey("iam_roles.id"), nullable=False, index=True),
)

IAM_TABLES = [users, access_keys, roles, inline_policies, managed_policies, policy_versions, attachments,
              instance_profiles, instance_profile_roles]

__all__ = ["metadata", "meta", "IAM_TABLES", "Boolean"]

# --- audit trail ------------------------------------------------------------------------------

# Each batch the trail writer stores is one segment: its events as one JSON array (API calls in
# the compact form they are queued in, redacted; or ready-made CloudTrail records); the values
# lookups filter on are indexed beside it, so a query decodes only the segments that can match. One row per
# batch instead of one per event (and its four indexes) is what keeps recording cheap.
trail_segments = Table(
    "trail_segments",
    metadata,
    Column("segment_id", Integer, primary_key=True),  # AUTOINCREMENT: never reused, it is part of event ids
    Column("first_time", Float, nullable=False),
    Column("last_time", Float, nullable=False, index=True),
    Column("count", Integer, nullable=False),
    Column("events", Text, nullable=False),
    sqlite_autoincrement=True,
)

# The values a lookup filters on, each with the segments that hold it: "<kind letter><value>"
# (see keyless.store.trail), so LookupEvents by name, user, key or resource is an index read.
trail_segment_keys = Table(
    "trail_segment_keys",
    metadata,
    Column("lookup_key", Text, primary_key=True),
    Column("segment_id", Integer, ForeignKey("trail_segments.segment_id", ondelete="CASCADE"), primary_key=True),
    sqlite_with_rowid=False,
)

TRAIL_TABLES = [trail_segments, trail_segment_keys]

# --- S3 ---------------------------------------------------------------------------------------
# Object bytes live in files under DATA_DIR/s3/ named by random blob ids; these rows are the
# only way to reach them, so a row is written after its blob is durable (keyless.services.s3.storage).

s3_buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String, primary_key=True),
    Column("account", String, nullable=False),
    Column("region", String, nullable=False),
    Column("created", Float, nullable=False),
    Column("policy", Text),  # the bucket policy as the owner sent it
    Column("tags", Text),  # JSON TagSet, None when never set
)

s3_objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String, ForeignKey("s3_buckets.name"), primary_key=True),
    Column("key", String, primary_key=True),  # BINARY collation: UTF-8 byte order, as S3 lists
    Column("blob", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("etag", String, nullable=False),  # with its quotes, as S3 returns it
    Column("modified", Float, nullable=False),
    Column("headers", Text, nullable=False),  # JSON: Content-Type and the other stored headers
    Column("metadata", Text, nullable=False),  # JSON: x-amz-meta-*
    Column("checksum", Text),  # JSON {"algorithm", "value", "type"}
    Column("parts", Text),  # JSON list of part sizes, for multipart objects
    Column("tags", Text),  # JSON TagSet
    sqlite_with_rowid=False,
)

s3_uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String, primary_key=True),
    Column("bucket", String, ForeignKey("s3_buckets.name"), nullable=False),
    Column("key", String, nullable=False),
    Column("initiated", Float, nullable=False),
    Column("initiator", String, nullable=False),  # caller ARN
    Column("headers", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("checksum", Text),  # JSON {"algorithm", "type"} chosen at creation
    Column("tags", Text),
    Index("s3_uploads_by_key", "bucket", "key", "initiated"),
)

s3_parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String, ForeignKey("s3_uploads.upload_id"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("blob", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("etag", String, nullable=False),
    Column("modified", Float, nullable=False),
    Column("checksum", Text),  # JSON {"algorithm", "value"}
)

S3_TABLES = [s3_buckets, s3_objects, s3_uploads, s3_parts]

# --- EC2 --------------------------------------------------------------------------------------

ec2_instances = Table(
    "ec2_instances",
    metadata,
    Column("id", String, primary_key=True),  # i- + 17 hex
    Column("account", String, nullable=False),
    Column("region", String, nullable=False),
    Column("reservation_id", String, nullable=False, index=True),
    Column("image_id", String, nullable=False),
    Column("instance_type", String, nullable=False),
    Column("key_name", String),
    Column("state", String, nullable=False, index=True),  # pending | running | stopping | stopped | ...
    Column("state_reason", Text, nullable=False, default=""),  # StateTransitionReason
    Column("launch_time", Float, nullable=False),  # last start, as AWS reports LaunchTime
    Column("state_changed", Float, nullable=False),  # terminated instances stay visible for an hour
    Column("created", Float, nullable=False),
    Column("availability_zone", String, nullable=False),
    Column("vpc_id", String, nullable=False),
    Column("subnet_id", String, nullable=False),
    Column("private_ip", String, nullable=False),
    Column("mac", String, nullable=False),
    Column("ami_launch_index", Integer, nullable=False, default=0),
    Column("user_data", Text),  # base64, as RunInstances received it
    Column("client_token", String),
    Column("tags", Text, nullable=False, default="[]"),
    Column("metadata_options", Text, nullable=False),  # JSON InstanceMetadataOptions
    # The instance's metadata service port on 127.0.0.1: kept across stops and server restarts.
    Column("imds_port", Integer, unique=True),
    Column("launched_by", String),
)

# Rows stay after disassociation (state 'disassociated') so Describe can show recent history;
# the partial unique index is what keeps "one profile per instance" true under races.
ec2_iip_associations = Table(
    "ec2_iip_associations",
    metadata,
    Column("association_id", String, primary_key=True),  # iip-assoc- + 17 hex
    Column("instance_id", String, ForeignKey("ec2_instances.id"), nullable=False, index=True),
    Column("profile_arn", String, nullable=False),
    Column("profile_id", String, nullable=False),
    Column("state", String, nullable=False),  # associating | associated | disassociating | disassociated
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
)
Index("ec2_one_association_per_instance", ec2_iip_associations.c.instance_id, unique=True,
      sqlite_where=ec2_iip_associations.c.state.in_(("associating", "associated")))

EC2_TABLES = [ec2_instances, ec2_iip_associations]
