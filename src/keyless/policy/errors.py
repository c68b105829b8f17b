"""What the engine raises. The package is pure, so these are plain ValueErrors carrying the AWS
error code; the server maps `.code` onto its own AwsError classes.

    ValueError
     ├─ PolicyError            MalformedPolicyDocument: `.message` is AWS's text, `.detail` says where
     │   └─ PolicySizeError    LimitExceeded: "Cannot exceed quota for PolicySize: 6144"
     └─ SimulationInputError   InvalidInput: a Simulate* call whose inputs don't fit together
"""

from __future__ import annotations

from typing import ClassVar


class PolicyError(ValueError):
    code: ClassVar[str] = "MalformedPolicyDocument"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        # AWS names neither the statement nor the element; keyless tools show this as well.
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class PolicySizeError(PolicyError):
    code: ClassVar[str] = "LimitExceeded"


class SimulationInputError(ValueError):
    code: ClassVar[str] = "InvalidInput"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
