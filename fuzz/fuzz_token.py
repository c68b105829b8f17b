"""atheris harness: session tokens (X-Amz-Security-Token).

    python fuzz/fuzz_token.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("token")
