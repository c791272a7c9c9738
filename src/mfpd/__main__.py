from mfpd.cli import main

raise SystemExit(main())
