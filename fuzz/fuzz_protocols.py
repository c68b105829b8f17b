"""atheris harness: query, ec2, json and rest-xml request parsing.

    python fuzz/fuzz_protocols.py -atheris_runs=100000
"""

from harness import main

if __name__ == "__main__":
    main("query", "ec2", "json", "restxml")
