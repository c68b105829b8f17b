"""atheris harness: raw HTTP into an instance metadata listener.

    python fuzz/fuzz_imds.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("imds")
