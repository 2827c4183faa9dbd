from astroiqa_indi.cli import main

raise SystemExit(main())
