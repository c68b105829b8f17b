"""atheris harness: SigV4 Authorization headers and presigned queries, parsed and verified.

    python fuzz/fuzz_sigv4.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("sigv4")
