from keyless.cli import main

raise SystemExit(main())
