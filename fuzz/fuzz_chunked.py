"""atheris harness: aws-chunked bodies, unsigned and signed.

    python fuzz/fuzz_chunked.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("chunked")
