"""atheris harness: every target in fuzz/targets.py, the first byte choosing (the bounded CI run).

    python fuzz/fuzz_all.py -atheris_runs=3000 -seed=1
"""

from harness import main

if __name__ == "__main__":
    main()
