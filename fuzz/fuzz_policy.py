"""atheris harness: policy documents (every kind) and ARNs, parsed and evaluated.

    python fuzz/fuzz_policy.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("policy", "arn")
