"""Every IAM handler, by xform_name (CreateRole -> create_role), gathered from the resource modules."""

from __future__ import annotations

from keyless.services.iam.access_keys import *  # noqa: F401,F403
from keyless.services.iam.attachments import *  # noqa: F401,F403
from keyless.services.iam.inline import *  # noqa: F401,F403
from keyless.services.iam.instance_profiles import *  # noqa: F401,F403
from keyless.services.iam.managed import *  # noqa: F401,F403
from keyless.services.iam.roles import *  # noqa: F401,F403
from keyless.services.iam.simulate import *  # noqa: F401,F403
from keyless.services.iam.users import *  # noqa: F401,F403
from keyless.services.iam.last_accessed import *  # noqa: F401,F403
