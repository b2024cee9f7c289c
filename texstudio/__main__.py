from texstudio.cli import main

raise SystemExit(main())
