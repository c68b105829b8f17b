"""keyless: a local AWS for IAM roles, instance profiles, IMDS and least privilege."""

__version__ = "0.1.0"
