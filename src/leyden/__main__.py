from leyden.cli import main

raise SystemExit(main())
